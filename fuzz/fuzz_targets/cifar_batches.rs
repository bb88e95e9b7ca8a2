//! The CIFAR-10 reader on loose `.bin` batch files, as a page hands them over: the input is cut
//! into up to four files (a big-endian u16 length before each, the rest to the last) named by a
//! selector byte from a list of batch names, look-alikes and others. `parse_batch` and
//! `read_batches` must return `Ok` or a `DataError`; on `Ok`, `stratified_subset` and
//! `channel_stats` run on the result and must keep their own contracts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use samlab::data::cifar::{
    channel_stats, parse_batch, read_batches, stratified_subset, CLASSES, FEATURES, RECORD_LEN,
};
use samlab_fuzz::Bound;

samlab_fuzz::guard_allocations!();

/// The names a selector byte picks from, with what each should be read as: a training batch
/// (its number), the test batch, or ignored.
const NAMES: [(&str, Role); 12] = [
    ("data_batch_1.bin", Role::Train(1)),
    ("data_batch_2.bin", Role::Train(2)),
    ("cifar-10-batches-bin/data_batch_3.bin", Role::Train(3)),
    ("C:\\cifar\\data_batch_5.bin", Role::Train(5)),
    ("data_batch_10.bin", Role::Train(10)),
    ("data_batch_4294967296.bin", Role::Other), // the number does not fit a u32
    ("test_batch.bin", Role::Test),
    ("cifar-10-batches-bin/test_batch.bin", Role::Test),
    ("batches.meta.txt", Role::Other),
    ("data_batch_.bin", Role::Other),
    ("data_batch_+1.bin", Role::Other),
    ("", Role::Other),
];

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Train(u32),
    Test,
    Other,
}

fuzz_target!(|data: &[u8]| {
    let _bound = Bound::for_input(data);
    // Layout: [per_class, seed, then per file: name selector, len (u16 BE), bytes...].
    let Some((&per_class, rest)) = data.split_first() else {
        return;
    };
    let Some((&seed, mut rest)) = rest.split_first() else {
        return;
    };
    let mut files: Vec<(&str, &[u8])> = Vec::new();
    let mut roles = Vec::new();
    while let [selector, hi, lo, tail @ ..] = rest {
        let (name, role) = NAMES[*selector as usize % NAMES.len()];
        roles.push(role);
        let len = usize::from(*hi) << 8 | usize::from(*lo);
        if files.len() == 3 || len >= tail.len() {
            files.push((name, tail));
            break;
        }
        files.push((name, &tail[..len]));
        rest = &tail[len..];
    }

    for (name, bytes) in &files {
        if let Ok(split) = parse_batch(bytes, name) {
            assert_eq!(split.pixels.len(), split.count * FEATURES);
        }
    }
    if let Ok((train, test)) = read_batches(&files) {
        for split in [&train, &test] {
            assert_eq!(split.labels.len(), split.count);
            assert_eq!(split.pixels.len(), split.count * FEATURES);
            let (mean, std) = channel_stats(split);
            assert!(mean.iter().chain(&std).all(|v| v.is_finite() && *v >= 0.0));
        }
        // The training split is the training batches in numeric order, whatever order they came
        // in (read_batches rotates them into place); the test split is the test batch.
        let mut train_files: Vec<(u32, &[u8])> = (files.iter().zip(&roles))
            .filter_map(|((_, bytes), role)| match role {
                Role::Train(n) => Some((*n, *bytes)),
                _ => None,
            })
            .collect();
        train_files.sort_by_key(|(n, _)| *n);
        let expected: Vec<u8> = train_files
            .iter()
            .flat_map(|(_, b)| b.iter().copied())
            .collect();
        let records = expected.chunks_exact(RECORD_LEN);
        assert_eq!(train.count, records.len());
        for (i, record) in records.enumerate() {
            assert_eq!(train.labels[i], record[0]);
            assert_eq!(
                &train.pixels[i * FEATURES..(i + 1) * FEATURES],
                &record[1..]
            );
        }
        let test_file = files.iter().zip(&roles).find(|(_, r)| **r == Role::Test);
        assert_eq!(test.count * RECORD_LEN, test_file.unwrap().0 .1.len());
        let per_class = usize::from(per_class % 4);
        if let Ok(subset) = stratified_subset(&train, per_class, u64::from(seed)) {
            assert_eq!(subset.count, per_class * CLASSES);
            assert_eq!(subset.pixels.len(), subset.count * FEATURES);
        }
    }
});
