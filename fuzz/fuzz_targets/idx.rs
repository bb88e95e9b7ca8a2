//! The IDX parser on arbitrary bytes, raw or (when they start with `1f 8b`) gzip-compressed:
//! `parse_images` and `parse_labels` must return `Ok` or a `DataError`, never panic, allocate
//! far beyond what the input can hold, or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use samlab::data::idx::{parse_images, parse_labels};
use samlab_fuzz::Bound;

samlab_fuzz::guard_allocations!();

fuzz_target!(|data: &[u8]| {
    let _bound = Bound::for_input(data);
    if let Ok(images) = parse_images(data) {
        assert!(images.rows > 0 && images.cols > 0);
        assert_eq!(images.pixels.len(), images.count * images.image_len());
        if images.count > 0 {
            assert_eq!(images.image(images.count - 1).len(), images.image_len());
        }
    }
    // 10 classes as for MNIST, and the last byte as num_classes so every bound gets exercised
    // (including 0: every label out of range).
    let classes = [10, data.last().copied().unwrap_or(0)];
    for num_classes in classes {
        if let Ok(labels) = parse_labels(data, num_classes) {
            assert!(labels.iter().all(|&l| l < num_classes));
        }
    }
});
