//! The CIFAR-10 archive reader on arbitrary bytes: `.tar.gz` when they start with `1f 8b`, a
//! plain `.tar` otherwise. `read_archive` must return `Ok` or a `DataError`, never panic,
//! allocate far beyond what the input can unpack to, or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use samlab::data::cifar::{read_archive, FEATURES, RECORD_LEN};
use samlab_fuzz::Bound;

samlab_fuzz::guard_allocations!();

fuzz_target!(|data: &[u8]| {
    let _bound = Bound::for_input(data);
    if let Ok((train, test)) = read_archive(data) {
        for split in [&train, &test] {
            assert!(split.count > 0);
            assert_eq!(split.features, FEATURES);
            assert_eq!(split.labels.len(), split.count);
            assert_eq!(split.pixels.len(), split.count * FEATURES);
            assert!(split.labels.iter().all(|&l| l < 10));
        }
        // Every record came out of the input (no gzip here can expand much beyond 1032:1).
        assert!((train.count + test.count) * RECORD_LEN <= data.len().saturating_mul(1032));
    }
});
