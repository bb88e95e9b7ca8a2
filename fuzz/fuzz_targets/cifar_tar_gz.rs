//! The tar layer of the CIFAR-10 reader behind its gzip decoder: the input is compressed into a
//! well-formed `.tar.gz` (random bytes almost never are one) and read. Differential check:
//! unless the input itself looks like gzip, the `.tar.gz` and the plain `.tar` must give the
//! same splits, or both fail.
#![no_main]

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;
use samlab::data::cifar::read_archive;
use samlab_fuzz::Bound;

samlab_fuzz::guard_allocations!();

fuzz_target!(|data: &[u8]| {
    let _bound = Bound::for_input(data);
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    let gz = enc.finish().unwrap();

    let from_gz = read_archive(&gz);
    let raw_is_gzip = data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    if !raw_is_gzip {
        let from_tar = read_archive(data);
        match (&from_gz, &from_tar) {
            (Ok((a_train, a_test)), Ok((b_train, b_test))) => {
                assert_eq!(a_train.labels, b_train.labels);
                assert_eq!(a_train.pixels, b_train.pixels);
                assert_eq!(a_test.labels, b_test.labels);
                assert_eq!(a_test.pixels, b_test.pixels);
            }
            (Err(_), Err(_)) => {}
            (a, b) => panic!(
                "tar.gz and tar disagree: gz {:?} vs tar {:?}",
                a.as_ref().err().map(ToString::to_string),
                b.as_ref().err().map(ToString::to_string)
            ),
        }
    }
});
