//! The gzip path of the IDX parser with well-formed gzip around arbitrary content: the input is
//! compressed (so the decoder gets past the deflate layer and the header fields and payload sizes
//! are what the fuzzer explores) and parsed. Differential check: unless the input itself looks
//! like gzip, the compressed and raw forms must give the same result.
#![no_main]

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use samlab::data::idx::{parse_images, parse_labels};
use samlab_fuzz::Bound;

samlab_fuzz::guard_allocations!();

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fuzz_target!(|data: &[u8]| {
    let _bound = Bound::for_input(data);
    let gz = gzip(data);
    let raw_is_gzip = data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b;

    let from_gz = parse_images(&gz);
    if !raw_is_gzip {
        let from_raw = parse_images(data);
        assert_eq!(from_gz.as_ref().ok(), from_raw.as_ref().ok());
    }

    let from_gz = parse_labels(&gz, 10);
    if !raw_is_gzip {
        let from_raw = parse_labels(data, 10);
        assert_eq!(from_gz.as_ref().ok(), from_raw.as_ref().ok());
    }

    // A concatenation of gzip members is one stream to MultiGzDecoder: split the content in two
    // members (gzip -c a b) and the result must not change.
    if !raw_is_gzip && data.len() >= 2 {
        let cut = data.len() / 2;
        let mut two = gzip(&data[..cut]);
        two.extend_from_slice(&gzip(&data[cut..]));
        assert_eq!(
            parse_images(&two).as_ref().ok(),
            parse_images(data).as_ref().ok()
        );
    }
});
