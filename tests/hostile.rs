//! Hostile input, as one table: every case is a file, a byte string or a command line built to be
//! wrong in one way (truncated, oversized, wrong magic, counts that disagree, labels out of range,
//! dimensions that overflow or would allocate gigabytes, gzip bombs, NaN/Inf/negative/huge
//! hyperparameters, unknown names), and the words its error must contain to name the problem.
//!
//! Each case must end in an error, never a panic: a library call returns `Err` with a one-line
//! message; the `samlab` binary exits non-zero with exactly one line on stderr and no "panicked".
//! All cases run (a panic is caught and reported as that case's failure) and every failure is
//! listed at the end, so the table reads as a report. The browser side of the same table is
//! `tests/page/hostile.test.mjs`; docs/reliability.md ("Hostile input") describes both.
//!
//! `cargo test --release --test hostile`. Nothing here needs more than a few MB of memory or a few
//! seconds, the gzip bombs included (they are built from repeated gzip members, so neither the
//! test nor the reader ever holds what they would inflate to).
#![cfg(not(target_arch = "wasm32"))] // native suite

use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use flate2::write::GzEncoder;
use flate2::Compression;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use samlab::data::idx::{encode_images, encode_labels, parse_images, parse_labels, Images};
use samlab::data::{cifar, idx};
use samlab::nn::{Model, ModelKind};
use samlab::train::checkpoint;

// ---------------------------------------------------------------------------------------------
// the table

/// How a case is fed to samlab.
enum Input {
    /// A library call that must fail; returns the error message (`Ok` is a failure of the case).
    Lib(fn() -> Result<(), String>),
    /// `samlab train --dataset <tiny IDX set> --hidden 16 --batch-size 100 --epochs 1 --quiet`
    /// followed by these flags (a flag given here replaces the default one).
    Flags(&'static [&'static str]),
    /// `samlab <args>`, the arguments (and any files they name) made in a scratch directory.
    Cli(fn(&Path) -> Vec<String>),
}

struct Case {
    name: &'static str,
    input: Input,
    /// Words the message must contain (case-insensitive, `_` read as `-`).
    expect: &'static [&'static str],
}

use Input::{Cli, Flags, Lib};

#[rustfmt::skip]
static CASES: &[Case] = &[
    // ---- IDX (MNIST format) -----------------------------------------------------------------
    Case { name: "idx: empty file", input: Lib(|| images(&[])), expect: &["truncated", "header needs 16 bytes", "only 0"] },
    Case { name: "idx: truncated header", input: Lib(|| images(&good_images()[..10])), expect: &["truncated", "header needs 16 bytes", "only 10"] },
    Case { name: "idx: truncated payload", input: Lib(|| { let b = good_images(); images(&b[..b.len() - 7]) }), expect: &["truncated", "declares 48 payload bytes", "only 41"] },
    Case { name: "idx: trailing bytes", input: Lib(|| { let mut b = good_images(); b.extend([0; 5]); images(&b) }), expect: &["trailing", "5 extra"] },
    Case { name: "idx: wrong magic (a zip file)", input: Lib(|| images(b"PK\x03\x04 this is a zip archive")), expect: &["magic number", "is this an IDX file"] },
    Case { name: "idx: labels file given as images", input: Lib(|| images(&encode_labels(&[1, 2, 3, 4, 5, 6, 7, 8]))), expect: &["magic", "that is the magic of a labels file", "swapped"] },
    Case { name: "idx: float32 elements (wrong dtype)", input: Lib(|| images(&idx_header(0x0000_0D03, &[3, 4, 4]))), expect: &["0x00000d03", "float32 elements", "samlab reads unsigned bytes"] },
    Case { name: "idx: 4-dimensional images", input: Lib(|| images(&idx_header(0x0000_0804, &[3, 4, 4, 1]))), expect: &["magic", "4 dimension(s)", "expected 3"] },
    Case { name: "idx: zero rows", input: Lib(|| images(&idx_header(idx::IMAGES_MAGIC, &[1, 0, 28]))), expect: &["zero rows"] },
    Case { name: "idx: count*rows*cols overflows usize", input: Lib(|| images(&idx_header(idx::IMAGES_MAGIC, &[u32::MAX, u32::MAX, u32::MAX]))), expect: &["4294967295 x 4294967295 x 4294967295", "overflows"] },
    Case { name: "idx: count*rows*cols overflows u32 (100 GB)", input: Lib(|| images(&idx_header(idx::IMAGES_MAGIC, &[100_000, 1000, 1000]))), expect: &["100000000000 bytes", "too large", "limit 1073741824"] },
    Case { name: "idx: labels header declares 4 GB", input: Lib(|| labels(&idx_header(idx::LABELS_MAGIC, &[u32::MAX]), 10)), expect: &["labels file", "4294967295", "too large"] },
    Case { name: "idx: gzip header declares 784 MB, stream holds none", input: Lib(|| images(&gzip(&idx_header(idx::IMAGES_MAGIC, &[1_000_000, 28, 28])))), expect: &["truncated", "declares 784000000 payload bytes", "only 0"] },
    Case { name: "idx: gzip bomb (250 KB inflating to 256 MB)", input: Lib(|| images(&idx_gzip_bomb())), expect: &["trailing", "at least 1048576 extra"] },
    Case { name: "idx: truncated gzip", input: Lib(|| { let gz = gzip(&big_images()); images(&gz[..gz.len() / 2]) }), expect: &["not valid gzip", "cut short"] },
    Case { name: "idx: gzip with a wrong CRC", input: Lib(|| { let mut gz = gzip(&good_images()); let n = gz.len(); gz[n - 8] ^= 0xff; images(&gz) }), expect: &["not valid gzip"] },
    Case { name: "idx: only the gzip magic", input: Lib(|| images(&[0x1f, 0x8b])), expect: &["gzip"] },
    Case { name: "idx: label 10 with 10 classes", input: Lib(|| labels(&encode_labels(&[0, 1, 2, 10, 4]), 10)), expect: &["label 10 at index 3", "out of range", "below 10"] },
    Case { name: "idx: label 255 in a gzip file", input: Lib(|| labels(&gzip(&encode_labels(&[3, 255])), 10)), expect: &["label 255 at index 1", "out of range"] },
    Case { name: "idx: 4 images but 3 labels", input: Lib(idx_count_mismatch), expect: &["count mismatch", "4 images", "3 labels", "train-labels-idx1-ubyte"] },
    Case { name: "idx: labels file missing", input: Lib(idx_missing_labels), expect: &["missing data file", "t10k-labels-idx1-ubyte"] },

    // ---- CIFAR-10 (binary batches, .tar, .tar.gz) ---------------------------------------------
    Case { name: "cifar: empty batch", input: Lib(|| batch_file(&[], "data_batch_1.bin")), expect: &["data_batch_1.bin is empty"] },
    Case { name: "cifar: truncated record", input: Lib(|| { let b = cifar_batch(10, 0); batch_file(&b[..b.len() - 100], "data_batch_1.bin") }), expect: &["data_batch_1.bin is truncated", "9 whole 3073-byte", "2973 byte(s) left over"] },
    Case { name: "cifar: CIFAR-100 records (3074 bytes)", input: Lib(|| batch_file(&vec![1u8; 2 * 3074], "test_batch.bin")), expect: &["truncated", "CIFAR-100 records are 3074 bytes"] },
    Case { name: "cifar: label 10", input: Lib(|| { let mut b = cifar_batch(10, 0); b[3 * cifar::RECORD_LEN] = 10; batch_file(&b, "data_batch_2.bin") }), expect: &["data_batch_2.bin", "label 10 in record 3", "0..9"] },
    Case { name: "cifar: tar entry claiming 8 GiB", input: Lib(|| archive(&tar_header("cifar-10-batches-bin/data_batch_1.bin", 1 << 33))), expect: &["data_batch_1.bin declares 8589934592 bytes", "limit"] },
    Case { name: "cifar: tar entry longer than the archive", input: Lib(|| { let mut t = tar_header("data_batch_1.bin", 1 << 29); t.extend([0; 4096]); archive(&t) }), expect: &["truncated", "declares 536870912 bytes", "only 4096 follow"] },
    Case { name: "cifar: not a tar (random bytes)", input: Lib(|| archive(&noise(4096, 7))), expect: &["not a valid tar file", "the cksum field of a header is not a number", "cifar-10-binary.tar.gz"] },
    Case { name: "cifar: a zip file", input: Lib(|| archive(&[b"PK\x03\x04".as_slice(), &noise(2000, 3)].concat())), expect: &["not a valid tar file", "field of a header is not a number"] },
    Case { name: "cifar: gzip that is not a tar", input: Lib(|| archive(&gzip(&b"just some notes\n".repeat(100)))), expect: &["not a valid tar file", "the cksum field of a header is not a number"] },
    Case { name: "cifar: tar header with a bad checksum", input: Lib(|| { let mut t = cifar_tar(); t[148] ^= 0x01; archive(&t) }), expect: &["not a valid tar file", "at byte 0"] },
    Case { name: "cifar: truncated .tar.gz", input: Lib(|| { let gz = gzip(&cifar_tar()); archive(&gz[..gz.len() / 2]) }), expect: &["not valid gzip", "cut short"] },
    Case { name: "cifar: .tar.gz with a wrong CRC", input: Lib(|| { let mut gz = gzip(&cifar_tar()); let n = gz.len(); gz[n - 8] ^= 0xff; archive(&gz) }), expect: &["not valid gzip"] },
    Case { name: "cifar: gzip bomb (1 MB inflating past 256 MiB)", input: Lib(|| archive(&cifar_gzip_bomb())), expect: &["unpacks to more than 268435456 bytes"] },
    Case { name: "cifar: archive without test_batch.bin", input: Lib(|| archive(&tar_of(&[("cifar-10-batches-bin/data_batch_1.bin", cifar_batch(10, 0))]))), expect: &["no CIFAR-10 test batch (test_batch.bin)", "data_batch_1.bin"] },
    Case { name: "cifar: empty tar", input: Lib(|| archive(&[0; 1024])), expect: &["no CIFAR-10 training batch", "an archive with no files in it"] },
    Case { name: "cifar: loose files without a training batch", input: Lib(|| loose(&[("test_batch.bin", cifar_batch(10, 0)), ("notes.txt", b"hi".to_vec())])), expect: &["no CIFAR-10 training batch", "notes.txt"] },
    Case { name: "cifar: a batch given twice", input: Lib(|| loose(&[("a/data_batch_1.bin", cifar_batch(10, 0)), ("b/data_batch_1.bin", cifar_batch(10, 1)), ("test_batch.bin", cifar_batch(10, 2))])), expect: &["data_batch_1.bin appears twice", "a/data_batch_1.bin", "b/data_batch_1.bin"] },
    Case { name: "cifar: more images per class than there are", input: Lib(|| { let split = cifar::parse_batch(&cifar_batch(30, 0), "data_batch_1.bin").map_err(|e| e.to_string())?; cifar::stratified_subset(&split, 31, 0).map(drop).map_err(|e| e.to_string()) }), expect: &["cannot take 31 images", "ask for at most 30 per class"] },

    // ---- safetensors checkpoints (MLP 16-16-10: 0.weight [16, 16], 0.bias, 2.weight [10, 16], 2.bias) --
    Case { name: "safetensors: a text file", input: Lib(|| weights(b"these are not weights, just a note\n")), expect: &["not a readable safetensors file", "header length", "not a safetensors file"] },
    Case { name: "safetensors: 3 bytes", input: Lib(|| weights(&[1, 2, 3])), expect: &["3 bytes", "too short"] },
    Case { name: "safetensors: header length 1 TB", input: Lib(|| weights(&raw_safetensors(Some(1 << 40), b"{}", &[]))), expect: &["header length of 1099511627776 bytes", "100 MB limit"] },
    Case { name: "safetensors: header length past the end", input: Lib(|| weights(&raw_safetensors(Some(4000), b"{}", &[]))), expect: &["header length (4000 bytes) runs past the end", "truncated"] },
    Case { name: "safetensors: header not JSON", input: Lib(|| weights(&raw_safetensors(None, b"{this is not json", &[]))), expect: &["header is not valid safetensors JSON"] },
    Case { name: "safetensors: header not UTF-8", input: Lib(|| weights(&raw_safetensors(None, &[0xff, 0xfe, 0xfd], &[]))), expect: &["header is not UTF-8"] },
    Case { name: "safetensors: overlapping data offsets", input: Lib(|| weights(&raw_safetensors(None, br#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, &[0; 12]))), expect: &["data offsets", "corrupt"] },
    Case { name: "safetensors: shape whose size overflows", input: Lib(|| weights(&raw_safetensors(None, br#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,0]}}"#, &[]))), expect: &["shape", "overflows"] },
    Case { name: "safetensors: truncated tensor data", input: Lib(|| { let b = mlp_checkpoint(|_| {}); weights(&b[..b.len() - 10]) }), expect: &["describes 1768 bytes of tensor data", "only 1758 follow", "truncated"] },
    Case { name: "safetensors: bytes appended", input: Lib(|| { let mut b = mlp_checkpoint(|_| {}); b.extend([0; 4]); weights(&b) }), expect: &["4 bytes too many"] },
    Case { name: "safetensors: F64 instead of F32", input: Lib(|| weights(&mlp_checkpoint(|t| t[0].1 = Dtype::F64))), expect: &["\"0.weight\"", "F64", "expected F32"] },
    Case { name: "safetensors: a tensor missing", input: Lib(|| weights(&mlp_checkpoint(|t| { t.pop(); }))), expect: &["no tensor \"2.bias\"", "[10]", "different model"] },
    Case { name: "safetensors: wrong shape", input: Lib(|| weights(&mlp_checkpoint(|t| t[2].2 = vec![16, 10]))), expect: &["\"2.weight\"", "shape [16, 10]", "expects [10, 16]"] },
    Case { name: "safetensors: an extra tensor", input: Lib(|| weights(&mlp_checkpoint(|t| t.push(("4.weight".into(), Dtype::F32, vec![3]))))), expect: &["unexpected tensor \"4.weight\"", "different model"] },
    Case { name: "safetensors: NaN in a weight", input: Lib(|| weights(&mlp_checkpoint_with_nan())), expect: &["\"0.bias\"", "non-finite", "element 5"] },
    Case { name: "safetensors: LeNet-5 weights into the MLP", input: Lib(|| weights(&lenet_checkpoint())), expect: &["\"0.weight\"", "[6, 1, 5, 5]", "[16, 16]"] },

    // ---- samlab train flags ---------------------------------------------------------------------
    Case { name: "flag: --lr NaN", input: Flags(&["--lr", "NaN"]), expect: &["lr must be a finite number", "NaN"] },
    Case { name: "flag: --lr inf", input: Flags(&["--lr", "inf"]), expect: &["lr must be a finite number", "inf"] },
    Case { name: "flag: --lr -0.1", input: Flags(&["--lr", "-0.1"]), expect: &["lr must be > 0", "-0.1"] },
    Case { name: "flag: --lr 1e39 (past f32)", input: Flags(&["--lr", "1e39"]), expect: &["lr = 1e39 is too large", "32-bit floats"] },
    Case { name: "flag: --lr abc", input: Flags(&["--lr", "abc"]), expect: &["invalid value 'abc'", "--lr"] },
    Case { name: "flag: --lr 1e6 trains and diverges", input: Flags(&["--lr", "1e6", "--epochs", "2"]), expect: &["training diverged", "lower --lr (now 1000000)"] },
    Case { name: "flag: --rho NaN", input: Flags(&["--sam", "sam", "--rho", "NaN"]), expect: &["rho must be a finite number ≥ 0", "NaN"] },
    Case { name: "flag: --rho -1", input: Flags(&["--sam", "sam", "--rho", "-1"]), expect: &["rho must be a finite number ≥ 0", "-1"] },
    Case { name: "flag: --rho 1e300", input: Flags(&["--sam", "sam", "--rho", "1e300"]), expect: &["rho = 1e300 is too large"] },
    Case { name: "flag: --momentum 1.5", input: Flags(&["--momentum", "1.5"]), expect: &["momentum must be in [0, 1)", "1.5"] },
    Case { name: "flag: --momentum NaN", input: Flags(&["--momentum", "NaN"]), expect: &["momentum must be a finite number"] },
    Case { name: "flag: --weight-decay -1", input: Flags(&["--weight-decay", "-1"]), expect: &["weight_decay must be ≥ 0", "-1"] },
    Case { name: "flag: --weight-decay inf", input: Flags(&["--weight-decay", "inf"]), expect: &["weight_decay must be a finite number"] },
    Case { name: "flag: --weight-decay 1e39", input: Flags(&["--weight-decay", "1e39"]), expect: &["weight_decay = 1e39 is too large"] },
    Case { name: "flag: --label-noise 1", input: Flags(&["--label-noise", "1"]), expect: &["label_noise must be in [0, 1)"] },
    Case { name: "flag: --label-noise NaN", input: Flags(&["--label-noise", "NaN"]), expect: &["label_noise must be in [0, 1)", "NaN"] },
    Case { name: "flag: --label-smoothing 1", input: Flags(&["--label-smoothing", "1"]), expect: &["label_smoothing must be in [0, 1)"] },
    Case { name: "flag: --dropout 1", input: Flags(&["--dropout", "1"]), expect: &["dropout must be in [0, 1)"] },
    Case { name: "flag: --batch-size 0", input: Flags(&["--batch-size", "0"]), expect: &["batch_size must be ≥ 1"] },
    Case { name: "flag: --batch-size -1", input: Flags(&["--batch-size", "-1"]), expect: &["invalid value '-1'", "--batch-size"] },
    Case { name: "flag: --batch-size 10^12 (larger than the data)", input: Flags(&["--batch-size", "1000000000000"]), expect: &["batch_size 1000000000000 is larger than the training split (600 samples)"] },
    Case { name: "flag: --batch-size 10^30 (past usize)", input: Flags(&["--batch-size", "1000000000000000000000000000000"]), expect: &["invalid value", "--batch-size"] },
    Case { name: "flag: --epochs 0", input: Flags(&["--epochs", "0"]), expect: &["epochs must be ≥ 1"] },
    Case { name: "flag: --hidden 0", input: Flags(&["--hidden", "0"]), expect: &["hidden widths must be ≥ 1", "[0]"] },
    Case { name: "flag: --hidden 10^11 (a 300 TB layer)", input: Flags(&["--hidden", "100000000000"]), expect: &["layer 0 (16 → 100000000000)", "more than the 4294967295 a GPU buffer can index", "narrower hidden widths"] },
    Case { name: "flag: --hidden 2^32,2^32 (products overflow)", input: Flags(&["--hidden", "4294967296,4294967296"]), expect: &["layer 0 (16 → 4294967296)", "narrower hidden widths"] },
    Case { name: "flag: --hidden 40000,40000 (6.4 GB, past the binding limit)", input: Flags(&["--hidden", "40000,40000"]), expect: &["the parameter vector needs", "bytes in one binding", "limit"] },
    Case { name: "flag: --hidden 16,,16", input: Flags(&["--hidden", "16,,16"]), expect: &["invalid value", "--hidden"] },
    Case { name: "flag: --sam foo", input: Flags(&["--sam", "foo"]), expect: &["unknown SAM mode \"foo\"", "asam"] },
    Case { name: "flag: --optimizer rmsprop", input: Flags(&["--optimizer", "rmsprop"]), expect: &["invalid value 'rmsprop'", "--optimizer"] },
    Case { name: "flag: --schedule linear", input: Flags(&["--schedule", "linear"]), expect: &["schedule", "linear"] },
    Case { name: "flag: --rho-schedule warmup:soon", input: Flags(&["--sam", "sam", "--rho-schedule", "warmup:soon"]), expect: &["unknown rho schedule \"warmup:soon\"", "warmup:STEPS"] },
    Case { name: "flag: --frobnicate (unknown flag)", input: Flags(&["--frobnicate", "3"]), expect: &["unexpected argument '--frobnicate'"] },
    Case { name: "flag: --swa-start 1", input: Flags(&["--swa-start", "1"]), expect: &["swa_start must be in [0, 1)"] },
    Case { name: "flag: asam --eta NaN", input: Flags(&["--sam", "asam", "--eta", "NaN"]), expect: &["eta must be a finite number ≥ 0"] },
    Case { name: "flag: gsam --alpha -1", input: Flags(&["--sam", "gsam", "--alpha", "-1"]), expect: &["alpha must be a finite number ≥ 0"] },
    Case { name: "flag: fsam --lambda 2", input: Flags(&["--sam", "fsam", "--lambda", "2"]), expect: &["lambda must be in [0, 1]", "F-SAM"] },
    Case { name: "flag: crsam --gamma 1e39", input: Flags(&["--sam", "crsam", "--gamma", "1e39"]), expect: &["gamma = 1e39 is too large"] },
    Case { name: "flag: looksam --k 0", input: Flags(&["--sam", "looksam", "--k", "0"]), expect: &["k must be ≥ 1", "LookSAM"] },
    Case { name: "flag: nstep --n 0", input: Flags(&["--sam", "nstep", "--n", "0"]), expect: &["n must be ≥ 1"] },
    Case { name: "flag: msharp --m 30 with batch 100", input: Flags(&["--sam", "msharp", "--m", "30"]), expect: &["m-sharpness needs the batch size (100) to be a multiple of m (30)"] },
    Case { name: "flag: ssam --sparsity 1", input: Flags(&["--sam", "ssam", "--sparsity", "1"]), expect: &["sparsity must be in [0, 1)"] },
    Case { name: "flag: esam --beta 0", input: Flags(&["--sam", "esam", "--beta", "0"]), expect: &["beta must be in (0, 1]", "ESAM"] },
    Case { name: "flag: --sam-start 1.5", input: Flags(&["--sam", "sam", "--sam-start", "1.5"]), expect: &["start_fraction must be in [0, 1)"] },

    // ---- samlab end to end: files named on the command line -----------------------------------
    Case { name: "cli: --dataset nope", input: Cli(|_| args(&["train", "--dataset", "nope"])), expect: &["--dataset \"nope\"", "neither mnist, fashion-mnist, cifar10 nor a directory"] },
    Case { name: "cli: --per-class with MNIST", input: Cli(|dir| args(&["train", "--dataset", "mnist", "--per-class", "5", "--data-dir", &dir.display().to_string()])), expect: &["--per-class", "--dataset cifar10"] },
    Case { name: "cli: IDX directory with a gzip bomb", input: Cli(idx_dir_with_bomb), expect: &["train-images-idx3-ubyte.gz", "trailing", "at least"] },
    Case { name: "cli: IDX directory with a truncated labels file", input: Cli(idx_dir_with_truncated_labels), expect: &["t10k-labels-idx1-ubyte", "truncated"] },
    Case { name: "cli: cifar10 archive that is not a tar", input: Cli(cifar_dir_with_notes), expect: &["archive is not a valid tar file"] },
    Case { name: "cli: --init with a truncated checkpoint", input: Cli(init_truncated), expect: &["--init", "w.safetensors", "truncated"] },
    Case { name: "cli: sharpness --weights with a text file", input: Cli(sharpness_with_text_weights), expect: &["notes.safetensors", "not a readable safetensors file"] },
];

#[test]
fn hostile_inputs_fail_with_clear_messages() {
    let start = std::time::Instant::now();
    let _tiny = TempDir(tiny_dataset().to_path_buf()); // removed when the table is done
    let mut failures = Vec::new();
    for (i, case) in CASES.iter().enumerate() {
        let scratch = TempDir::new(&format!("case{i}"));
        let outcome = match &case.input {
            Lib(f) => lib_outcome(*f),
            Flags(flags) => cli_outcome(&flag_args(flags), scratch.path()),
            Cli(build) => {
                let args = build(scratch.path());
                cli_outcome(&args, scratch.path())
            }
        };
        let problem = match outcome {
            Err(problem) => Some(problem),
            Ok(message) => {
                eprintln!("{:<58} {message}", case.name);
                let normalised = normalise(&message);
                let missing: Vec<&str> = case
                    .expect
                    .iter()
                    .copied()
                    .filter(|word| !normalised.contains(&normalise(word)))
                    .collect();
                (!missing.is_empty()).then(|| format!("the message {message:?} lacks {missing:?}"))
            }
        };
        if let Some(problem) = problem {
            failures.push(format!("{}: {problem}", case.name));
        }
    }
    let counts = |prefix: &str| CASES.iter().filter(|c| c.name.starts_with(prefix)).count();
    eprintln!(
        "hostile: {} cases (idx {}, cifar {}, safetensors {}, flags {}, cli {}) in {:.1} s",
        CASES.len(),
        counts("idx:"),
        counts("cifar:"),
        counts("safetensors:"),
        counts("flag:"),
        counts("cli:"),
        start.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} hostile inputs were not handled:\n  {}",
        failures.len(),
        CASES.len(),
        failures.join("\n  ")
    );
}

#[test]
fn the_table_is_large_and_names_are_unique() {
    assert!(CASES.len() >= 40, "only {} cases", CASES.len());
    let mut names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len(), "two cases share a name");
    assert!(CASES.iter().all(|c| !c.expect.is_empty()));
}

// ---------------------------------------------------------------------------------------------
// running a case

fn normalise(text: &str) -> String {
    text.to_lowercase().replace('_', "-")
}

/// `Ok(message)` when the call failed as it should: an `Err` of one line. `Err(why)` otherwise.
fn lib_outcome(f: fn() -> Result<(), String>) -> Result<String, String> {
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(quiet);
    match result {
        Err(panic) => Err(format!("panicked: {}", panic_text(&panic))),
        Ok(Ok(())) => Err("accepted the input".into()),
        Ok(Err(message)) if message.contains('\n') => {
            Err(format!("message of several lines: {message:?}"))
        }
        Ok(Err(message)) if message.trim().is_empty() => Err("empty message".into()),
        Ok(Err(message))
            if message
                .chars()
                .any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER) =>
        {
            Err(format!("message with unprintable characters: {message:?}"))
        }
        Ok(Err(message)) => Ok(message),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// The CLI contract for bad input: a non-zero exit, no panic, exactly one line on stderr, and
/// nothing on stdout but JSON lines (the evaluations a run printed before it diverged).
fn cli_outcome(args: &[String], scratch: &Path) -> Result<String, String> {
    let output = Command::new(env!("CARGO_BIN_EXE_samlab"))
        .args(args)
        .current_dir(scratch)
        .env("XDG_RUNTIME_DIR", scratch)
        .env_remove("SAMLAB_DATA")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run samlab: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let described = || {
        format!(
            "(status {:?}, stderr {stderr:?}, stdout {stdout:?})",
            output.status
        )
    };
    if stderr.contains("panicked") {
        return Err(format!("samlab panicked {}", described()));
    }
    if output.status.success() {
        return Err(format!("samlab accepted it {}", described()));
    }
    if let Some(line) = stdout
        .lines()
        .find(|l| serde_json::from_str::<serde_json::Value>(l).is_err())
    {
        return Err(format!("stdout has a line that is not JSON: {line:?}"));
    }
    let lines: Vec<&str> = stderr.lines().collect();
    match lines.as_slice() {
        [line] => Ok(line.to_string()),
        _ => Err(format!("expected one line on stderr {}", described())),
    }
}

/// `train --dataset <tiny> --hidden 16 --batch-size 100 --epochs 1 --quiet` with `flags` (a flag
/// in `flags` replaces its default, so none is given twice).
fn flag_args(flags: &[&str]) -> Vec<String> {
    let data = tiny_dataset().display().to_string();
    let mut all = vec![
        "train".to_string(),
        "--dataset".into(),
        data,
        "--quiet".into(),
    ];
    for pair in ["--hidden", "16", "--batch-size", "100", "--epochs", "1"].chunks(2) {
        if !flags.contains(&pair[0]) {
            all.extend(pair.iter().map(|s| s.to_string()));
        }
    }
    all.extend(flags.iter().map(|s| s.to_string()));
    all
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("samlab-hostile-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------------------------
// IDX inputs

fn images(bytes: &[u8]) -> Result<(), String> {
    parse_images(bytes).map(drop).map_err(|e| e.to_string())
}

fn labels(bytes: &[u8], classes: u8) -> Result<(), String> {
    parse_labels(bytes, classes)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// A header: `magic`, then the dimensions, big-endian (no payload).
fn idx_header(magic: u32, dims: &[u32]) -> Vec<u8> {
    std::iter::once(magic)
        .chain(dims.iter().copied())
        .flat_map(u32::to_be_bytes)
        .collect()
}

/// 3 images of 4x4.
fn good_images() -> Vec<u8> {
    encode_images(&Images {
        count: 3,
        rows: 4,
        cols: 4,
        pixels: (0..48).collect(),
    })
}

/// 64 images of 28x28 of noise (so the gzip stream is long enough to cut).
fn big_images() -> Vec<u8> {
    encode_images(&Images {
        count: 64,
        rows: 28,
        cols: 28,
        pixels: noise(64 * 784, 1),
    })
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// Deterministic noise bytes (splitmix64).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// `members` gzip members, each inflating to `member_len` zero bytes: a multi-member gzip stream
/// (which gzip readers concatenate) of any inflated size from one compressed member.
fn zero_members(member_len: usize, members: usize) -> Vec<u8> {
    gzip_level(&vec![0u8; member_len], Compression::best()).repeat(members)
}

fn gzip_level(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), level);
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// An images file declaring 2 images of 28x28, followed by 256 MB of zeros, gzip-compressed.
fn idx_gzip_bomb() -> Vec<u8> {
    let mut bomb = gzip(&idx_header(idx::IMAGES_MAGIC, &[2, 28, 28]));
    bomb.extend(zero_members(1 << 20, 256));
    assert!(bomb.len() < 300_000, "the bomb is {} bytes", bomb.len());
    bomb
}

fn idx_count_mismatch() -> Result<(), String> {
    let dir = TempDir::new("mismatch");
    let pixels = vec![7u8; 4 * 16];
    std::fs::write(
        dir.path().join("train-images-idx3-ubyte"),
        encode_images(&Images {
            count: 4,
            rows: 4,
            cols: 4,
            pixels,
        }),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("train-labels-idx1-ubyte.gz"),
        gzip(&encode_labels(&[1, 2, 3])),
    )
    .unwrap();
    idx::load_split(dir.path(), "train", 10)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn idx_missing_labels() -> Result<(), String> {
    let dir = TempDir::new("missing");
    std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), good_images()).unwrap();
    idx::load_split(dir.path(), "t10k", 10)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The tiny IDX data set the flag cases train on: 600 + 100 images of 4x4, labels 0..9.
fn tiny_dataset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("samlab-hostile-{}-tiny", std::process::id()));
        write_tiny_dataset(&dir);
        dir
    })
}

fn write_tiny_dataset(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, count, seed) in [("train", 600, 1), ("t10k", 100, 2)] {
        let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
        let pixels: Vec<u8> = noise(count * 16, seed)
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                if (i % 16 + labels[i / 16] as usize).is_multiple_of(5) {
                    200
                } else {
                    n / 4
                }
            })
            .collect();
        let images = Images {
            count,
            rows: 4,
            cols: 4,
            pixels,
        };
        std::fs::write(
            dir.join(format!("{prefix}-images-idx3-ubyte")),
            encode_images(&images),
        )
        .unwrap();
        std::fs::write(
            dir.join(format!("{prefix}-labels-idx1-ubyte")),
            encode_labels(&labels),
        )
        .unwrap();
    }
}

fn idx_dir_with_bomb(scratch: &Path) -> Vec<String> {
    let data = scratch.join("data");
    write_tiny_dataset(&data);
    std::fs::remove_file(data.join("train-images-idx3-ubyte")).unwrap();
    let mut bomb = gzip(&idx_header(idx::IMAGES_MAGIC, &[600, 4, 4]));
    bomb.extend(zero_members(1 << 20, 64));
    std::fs::write(data.join("train-images-idx3-ubyte.gz"), bomb).unwrap();
    args(&["train", "--dataset", &data.display().to_string()])
}

fn idx_dir_with_truncated_labels(scratch: &Path) -> Vec<String> {
    let data = scratch.join("data");
    write_tiny_dataset(&data);
    let path = data.join("t10k-labels-idx1-ubyte");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 30]).unwrap();
    args(&["train", "--dataset", &data.display().to_string()])
}

// ---------------------------------------------------------------------------------------------
// CIFAR-10 inputs

fn batch_file(bytes: &[u8], name: &str) -> Result<(), String> {
    cifar::parse_batch(bytes, name)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn archive(bytes: &[u8]) -> Result<(), String> {
    cifar::read_archive(bytes)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn loose(files: &[(&str, Vec<u8>)]) -> Result<(), String> {
    cifar::read_batches(files)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// `per_class` records of each class (labels cycle 0..9), pixels of noise.
fn cifar_batch(per_class: usize, seed: u64) -> Vec<u8> {
    let count = per_class * 10;
    let pixels = noise(count * cifar::FEATURES, seed);
    let mut out = Vec::with_capacity(count * cifar::RECORD_LEN);
    for (i, image) in pixels.chunks(cifar::FEATURES).enumerate() {
        out.push((i % 10) as u8);
        out.extend_from_slice(image);
    }
    out
}

/// A GNU tar header for a regular file of `size` bytes (no data follows).
fn tar_header(path: &str, size: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_path(path).unwrap();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    header.as_bytes().to_vec()
}

fn tar_of(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, path, &data[..]).unwrap();
    }
    builder.into_inner().unwrap()
}

/// A good small archive: one training batch and the test batch, as the official one names them.
fn cifar_tar() -> Vec<u8> {
    tar_of(&[
        ("cifar-10-batches-bin/data_batch_1.bin", cifar_batch(10, 1)),
        ("cifar-10-batches-bin/test_batch.bin", cifar_batch(2, 2)),
    ])
}

/// A good archive followed by 1.06 GiB of zeros, gzip-compressed to about 1 MB.
fn cifar_gzip_bomb() -> Vec<u8> {
    let mut bomb = gzip(&cifar_tar());
    bomb.extend(zero_members(64 << 20, 17));
    assert!(bomb.len() < 2_000_000, "the bomb is {} bytes", bomb.len());
    bomb
}

fn cifar_dir_with_notes(scratch: &Path) -> Vec<String> {
    let dir = scratch.join("cifar-10");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(cifar::ARCHIVE_NAME),
        gzip(b"these are my notes, not CIFAR-10\n"),
    )
    .unwrap();
    args(&[
        "train",
        "--dataset",
        "cifar10",
        "--data-dir",
        &scratch.display().to_string(),
    ])
}

// ---------------------------------------------------------------------------------------------
// safetensors inputs

/// The model the checkpoint cases load into: MLP 16-16-10.
fn mlp() -> Model {
    Model::mlp(&[16, 16, 10])
}

fn weights(bytes: &[u8]) -> Result<(), String> {
    checkpoint::from_safetensors(&mlp().checkpoint_layout(), bytes)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// An 8-byte header length (`len`, or the header's real length), the header, then `data`.
fn raw_safetensors(len: Option<u64>, header: &[u8], data: &[u8]) -> Vec<u8> {
    let n = len.unwrap_or(header.len() as u64);
    [&n.to_le_bytes()[..], header, data].concat()
}

type Tensors = Vec<(String, Dtype, Vec<usize>)>;

/// The MLP's tensors (name, dtype, shape), changed by `edit`, serialised with zero data.
fn mlp_checkpoint(edit: impl FnOnce(&mut Tensors)) -> Vec<u8> {
    let mut tensors: Tensors = mlp()
        .checkpoint_layout()
        .specs
        .iter()
        .map(|spec| (spec.name.clone(), Dtype::F32, spec.shape.clone()))
        .collect();
    edit(&mut tensors);
    serialise(&tensors, |_| {})
}

fn mlp_checkpoint_with_nan() -> Vec<u8> {
    let tensors: Tensors = mlp()
        .checkpoint_layout()
        .specs
        .iter()
        .map(|spec| (spec.name.clone(), Dtype::F32, spec.shape.clone()))
        .collect();
    serialise(&tensors, |(name, data)| {
        if name == "0.bias" {
            data[20..24].copy_from_slice(&f32::NAN.to_le_bytes());
        }
    })
}

fn serialise(tensors: &Tensors, mut fill: impl FnMut((&str, &mut Vec<u8>))) -> Vec<u8> {
    let data: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(name, dtype, shape)| {
            let mut bytes = vec![0u8; shape.iter().product::<usize>() * dtype.bitsize() / 8];
            fill((name, &mut bytes));
            bytes
        })
        .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .zip(&data)
        .map(|((name, dtype, shape), bytes)| {
            (
                name.clone(),
                TensorView::new(*dtype, shape.clone(), bytes).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, None).unwrap()
}

/// What LeNet-5 on MNIST saves.
fn lenet_checkpoint() -> Vec<u8> {
    let lenet = Model::new(ModelKind::Lenet, [1, 28, 28], 10, &[], 0.0).unwrap();
    checkpoint::to_safetensors(&lenet.checkpoint_layout(), &lenet.init(0))
}

fn init_truncated(scratch: &Path) -> Vec<String> {
    let good = checkpoint::to_safetensors(&mlp().checkpoint_layout(), &mlp().init(0));
    let path = scratch.join("w.safetensors");
    std::fs::write(&path, &good[..good.len() - 100]).unwrap();
    let mut all = flag_args(&[]);
    all.extend(["--init".to_string(), path.display().to_string()]);
    all
}

fn sharpness_with_text_weights(scratch: &Path) -> Vec<String> {
    let path = scratch.join("notes.safetensors");
    std::fs::write(&path, "these are my notes, not weights\n").unwrap();
    let data = tiny_dataset().display().to_string();
    args(&[
        "sharpness",
        "--dataset",
        &data,
        "--hidden",
        "16",
        "--weights",
        &path.display().to_string(),
    ])
}
