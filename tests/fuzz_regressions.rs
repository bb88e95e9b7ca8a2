//! Inputs from the fuzzing runs (docs/reliability.md, "Fuzzing"; `bash scripts/fuzz.sh`), fed to
//! the readers byte for byte: each must end in a clean `Err` whose one-line message names the
//! problem, and the inputs that declare huge sizes must not make the reader allocate them.
//!
//! The fuzzers found no crash, hang or out-of-memory input, so these are not crash reproducers:
//! they are corpus inputs picked for what they exercise (the largest declared sizes, a tar entry
//! running past the end, a GNU long name over a corrupt gzip stream, safetensors headers with
//! overflowing shapes or lengths), stored under `tests/fuzz_regressions/` under the names of what
//! they are, plus nested gzip built here from the committed seeds. The seeds themselves
//! (`fuzz/seeds/`) are checked to be accepted, so the fuzzers keep starting from valid files.
#![cfg(not(target_arch = "wasm32"))] // native suite; the browser suite is tests/web.rs

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use samlab::data::{cifar, idx};
use samlab::nn::Model;
use samlab::train::checkpoint::from_safetensors;

/// The system allocator, recording the largest single allocation of each thread (tests run on
/// threads of their own), so a test can check a reader did not reserve a size it was told.
struct Recording;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
}

unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static RECORDING: Recording = Recording;

/// Runs `f` and returns its result with the largest single allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(0));
    let out = f();
    (out, LARGEST.with(Cell::get))
}

/// The error's message, which must name every one of `words` and fit on one line.
fn clean_err<T: std::fmt::Debug, E: std::fmt::Display>(result: Result<T, E>, words: &[&str]) {
    let msg = match result {
        Ok(v) => panic!("expected an error naming {words:?}, got Ok({v:?})"),
        Err(e) => e.to_string(),
    };
    for word in words {
        assert!(
            msg.contains(word),
            "message {msg:?} should contain {word:?}"
        );
    }
    assert!(
        !msg.chars().any(char::is_control),
        "message should be one printable line: {msg:?}"
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// A reader must not reserve anything near the size a header declares before the data is there:
/// a few kilobytes of bookkeeping at most for these tiny inputs.
const SMALL: usize = 64 * 1024;

#[test]
fn the_allocation_recorder_sees_allocations() {
    let (v, largest) = largest_allocation(|| vec![1u8; 3 << 20]);
    assert!(largest >= v.len(), "recorded {largest} bytes");
}

#[test]
fn idx_headers_declaring_hundreds_of_megabytes_over_no_data() {
    // Corpus (idx): a raw images header of 19 × 4 × 9,109,759 = 692,341,684 pixel bytes (under
    // the 1 GiB cap, so the header passes) with no payload at all.
    let bytes = include_bytes!("fuzz_regressions/idx-images-declares-692mb.idx");
    let (result, largest) = largest_allocation(|| idx::parse_images(bytes));
    clean_err(
        result,
        &[
            "images file is truncated",
            "declares 692341684 payload bytes",
            "only 0 follow",
        ],
    );
    assert!(
        largest < SMALL,
        "reserved {largest} bytes for a 16-byte input"
    );

    // Corpus (idx): 24 bytes of gzip, a deflate stream cut short after an images header that
    // declares 2 × 4 × 50,331,648 = 402,653,184 pixel bytes. The header passes the checks, then
    // the stream fails; the reader must not have reserved the declared size (it reserves at most
    // what 24 bytes can inflate to, 24 × 1032).
    let bytes = include_bytes!("fuzz_regressions/idx-images-declares-402mb.gz");
    let (result, largest) = largest_allocation(|| idx::parse_images(bytes));
    clean_err(
        result,
        &[
            "images file is not valid gzip",
            "cut short",
            "incomplete deflate stream",
        ],
    );
    assert!(
        largest < SMALL,
        "reserved {largest} bytes for a 24-byte input"
    );

    // Corpus (idx): a labels header of 1,208,483,840 labels, over the 1 GiB cap.
    let bytes = include_bytes!("fuzz_regressions/idx-labels-declares-1208mb.idx");
    let (result, largest) = largest_allocation(|| idx::parse_labels(bytes, 10));
    clean_err(
        result,
        &[
            "labels file header declares",
            "1208483840",
            "too large",
            "limit 1073741824",
        ],
    );
    assert!(
        largest < SMALL,
        "reserved {largest} bytes for an 8-byte input"
    );
}

#[test]
fn nested_gzip_is_refused_not_unpacked_twice() {
    // gzip inside gzip: one layer is taken off, and what is left is not IDX (magic 1f 8b 08 00)
    // or not a tar; neither reader guesses a second layer.
    let images = include_bytes!("../fuzz/seeds/idx/images");
    clean_err(
        idx::parse_images(&gzip(&gzip(images))),
        &[
            "images file has magic number 0x1f8b0800",
            "expected 0x00000803",
            "is this an IDX file?",
        ],
    );
    let labels = include_bytes!("../fuzz/seeds/idx/labels");
    clean_err(
        idx::parse_labels(&gzip(&gzip(labels)), 10),
        &["labels file has magic number 0x1f8b0800"],
    );
    let tar = include_bytes!("../fuzz/seeds/cifar_archive/small.tar");
    clean_err(
        cifar::read_archive(&gzip(&gzip(tar))),
        &[
            "archive is not a valid tar file",
            "at byte 0",
            "cifar-10-binary.tar.gz",
        ],
    );
}

#[test]
fn cifar_archives_from_the_corpus() {
    // Corpus (cifar_archive): a plain tar whose one entry (not a batch: data_ahbct_1.bin)
    // declares 3,073 bytes where 51 follow; skipping it runs out of input.
    let bytes = include_bytes!("fuzz_regressions/cifar-entry-past-end.tar");
    clean_err(
        cifar::read_archive(bytes),
        &[
            "archive is not a valid tar file",
            "unexpected EOF",
            "of the tar stream",
        ],
    );

    // Corpus (cifar_archive): a .tar.gz whose gzip stream breaks after the first entry, a
    // data_batch_1.bin under a 120-character directory (a GNU long name) with label 47 in its
    // first record: the label is reported (with the long path) before the stream's fault.
    let bytes = include_bytes!("fuzz_regressions/cifar-long-name-bad-label.tar.gz");
    let long_dir = "d".repeat(120);
    clean_err(
        cifar::read_archive(bytes),
        &[
            &format!("{long_dir}/data_batch_1.bin"),
            "label 47 in record 0 is out of range",
            "CIFAR-10 labels are 0..9",
        ],
    );
}

#[test]
fn safetensors_headers_from_the_corpus() {
    let layout = Model::mlp(&[4, 3, 2]).checkpoint_layout();

    // Corpus: 8 bytes whose header length is 89,227,571,358,083,096 (89 PB).
    let bytes = include_bytes!("fuzz_regressions/safetensors-header-length-89pb.safetensors");
    let (result, largest) = largest_allocation(|| from_safetensors(&layout, bytes));
    clean_err(
        result,
        &[
            "not a readable safetensors file",
            "header length of 89227571358083096 bytes",
            "100 MB limit",
        ],
    );
    assert!(
        largest < SMALL,
        "reserved {largest} bytes for an 8-byte input"
    );

    // Corpus: a tensor of shape [7, 4844674407374073709] (its byte size overflows u64).
    let bytes = include_bytes!("fuzz_regressions/safetensors-shape-overflow.safetensors");
    let (result, largest) = largest_allocation(|| from_safetensors(&layout, bytes));
    clean_err(
        result,
        &[
            "not a readable safetensors file",
            "shape is so large that its size overflows",
        ],
    );
    assert!(
        largest < SMALL,
        "reserved {largest} bytes for a 256-byte input"
    );

    // Corpus: an empty header (`{ }`, no tensors) followed by one byte of data.
    let bytes = include_bytes!("fuzz_regressions/safetensors-no-tensors-one-byte.safetensors");
    clean_err(
        from_safetensors(&layout, bytes),
        &[
            "not a readable safetensors file",
            "describes 0 bytes of tensor data but 1 follow",
        ],
    );
}

#[test]
fn fuzz_seeds_are_accepted() {
    // The fuzzers start from these (fuzz/seeds/, written by fuzz/make_seeds.py); if a reader
    // stopped accepting them, every run would start from error paths only.
    let images = idx::parse_images(include_bytes!("../fuzz/seeds/idx/images")).unwrap();
    assert_eq!((images.count, images.rows, images.cols), (2, 4, 4));
    assert_eq!(
        idx::parse_images(include_bytes!("../fuzz/seeds/idx/images.gz")).unwrap(),
        images
    );
    assert_eq!(
        idx::parse_images(include_bytes!("../fuzz/seeds/idx/images-empty"))
            .unwrap()
            .count,
        0
    );
    assert_eq!(
        idx::parse_labels(include_bytes!("../fuzz/seeds/idx/labels"), 10).unwrap(),
        [0, 9, 3]
    );
    assert_eq!(
        idx::parse_labels(include_bytes!("../fuzz/seeds/idx/labels.gz"), 10).unwrap(),
        [0, 9, 3]
    );

    for (name, archive, train_labels) in [
        (
            "official.tar.gz",
            &include_bytes!("../fuzz/seeds/cifar_archive/official.tar.gz")[..],
            &[1u8, 2, 7][..],
        ),
        (
            "gnu-longname.tar.gz",
            include_bytes!("../fuzz/seeds/cifar_archive/gnu-longname.tar.gz"),
            &[1],
        ),
        (
            "pax-path.tar.gz",
            include_bytes!("../fuzz/seeds/cifar_archive/pax-path.tar.gz"),
            &[1],
        ),
        (
            "small.tar",
            include_bytes!("../fuzz/seeds/cifar_archive/small.tar"),
            &[1],
        ),
    ] {
        let (train, test) = cifar::read_archive(archive).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(train.labels, train_labels, "{name}");
        assert_eq!(test.labels, [9], "{name}");
    }
    for tar in [
        &include_bytes!("../fuzz/seeds/cifar_tar_gz/gnu-longname.tar")[..],
        include_bytes!("../fuzz/seeds/cifar_tar_gz/pax-path.tar"),
    ] {
        // Only a test batch (under a long name): found, and the training batch reported missing.
        clean_err(
            cifar::read_archive(tar),
            &["no CIFAR-10 training batch", "test_batch.bin"],
        );
    }

    let layout = Model::mlp(&[4, 3, 2]).checkpoint_layout();
    for seed in [
        &include_bytes!("../fuzz/seeds/safetensors/mlp-4-3-2.safetensors")[..],
        include_bytes!("../fuzz/seeds/safetensors/mlp-metadata.safetensors"),
        include_bytes!("../fuzz/seeds/safetensors/mlp-counter.safetensors"),
    ] {
        let flat = from_safetensors(&layout, seed).unwrap();
        let bias = layout.get("2.bias").unwrap();
        assert_eq!(&flat[bias.offset..bias.offset + 2], [1.5, -2.5]);
    }
}
