//! `samlab train` end to end: every bad input ends in one readable line on stderr and a non-zero
//! exit (never a panic), and good runs print well-formed, deterministic JSON lines and checkpoints
//! that load again. Training runs use a tiny generated IDX data set (600 + 100 samples of 4x4
//! pixels) so the whole file stays fast on lavapipe.
#![cfg(not(target_arch = "wasm32"))] // native suite; the browser suite is tests/web.rs

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use samlab::data::idx::{encode_images, encode_labels, Images};
use serde_json::Value;

const TRAIN_COUNT: usize = 600;
const TEST_COUNT: usize = 100;
const SIDE: usize = 4;
const PIXELS: usize = SIDE * SIDE;
const CLASSES: usize = 10;
/// With `--batch-size 100`, an epoch of the tiny set is 6 steps.
const STEPS_PER_EPOCH: u64 = (TRAIN_COUNT / 100) as u64;

/// The settings every tiny training run shares (small model, few steps, no progress bar).
const TINY: &[&str] = &["--hidden", "16", "--batch-size", "100", "--epochs", "1"];

// ---------------------------------------------------------------------------------------------
// helpers

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("samlab-cli-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic bytes (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `count` 4x4 images whose class is learnable: each class lights its own pixel pattern, plus noise.
fn make_split(count: usize, seed: u64) -> (Images, Vec<u8>) {
    let mut rng = Rng(seed);
    let mut pixels = Vec::with_capacity(count * PIXELS);
    let mut labels = Vec::with_capacity(count);
    for _ in 0..count {
        let label = (rng.next() % CLASSES as u64) as usize;
        labels.push(label as u8);
        for p in 0..PIXELS {
            let on = (p * 7 + label * 3) % PIXELS < 5;
            let noise = (rng.next() % 64) as u8;
            pixels.push(if on { 180 + noise } else { noise });
        }
    }
    (
        Images {
            count,
            rows: SIDE,
            cols: SIDE,
            pixels,
        },
        labels,
    )
}

/// Writes the four IDX files of the tiny data set into `dir`.
fn write_dataset(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, count, seed) in [("train", TRAIN_COUNT, 1), ("t10k", TEST_COUNT, 2)] {
        let (images, labels) = make_split(count, seed);
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

/// A temp dir holding the tiny data set in `data/`; `--dataset` argument included.
struct Fixture {
    tmp: TempDir,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let tmp = TempDir::new(name);
        write_dataset(&tmp.join("data"));
        Fixture { tmp }
    }

    fn data(&self) -> PathBuf {
        self.tmp.join("data")
    }

    /// `samlab train --dataset <tiny> <args…>`.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = samlab_command(self.tmp.path());
        cmd.arg("train")
            .arg("--dataset")
            .arg(self.data())
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run samlab")
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn samlab")
    }
}

fn samlab_command(runtime_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_samlab"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env_remove("SAMLAB_DATA")
        .stdin(Stdio::null());
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    )
}

/// The CLI contract for bad input: non-zero exit, nothing on stdout, no panic, and exactly one
/// line on stderr that names the problem (each keyword, compared case-insensitively with `_`
/// read as `-`). Returns that line.
fn assert_one_line_error(output: &Output, keywords: &[&str]) -> String {
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success(),
        "expected a non-zero exit\n{}",
        describe(output)
    );
    assert!(
        !stderr.contains("panicked"),
        "samlab panicked\n{}",
        describe(output)
    );
    assert!(
        output.stdout.is_empty(),
        "expected nothing on stdout\n{}",
        describe(output)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one line on stderr\n{}",
        describe(output)
    );
    let normalised = lines[0].to_lowercase().replace('_', "-");
    for keyword in keywords {
        assert!(
            normalised.contains(&keyword.to_lowercase().replace('_', "-")),
            "the error line should name {keyword:?}: {:?}",
            lines[0]
        );
    }
    lines[0].to_string()
}

/// Runs `samlab train --dataset <tiny> <args…>` and checks the bad-input contract.
/// The tiny settings fill in every flag of `TINY` that `args` does not set itself (so no flag is
/// given twice, which clap would reject for the wrong reason).
fn assert_rejected(name: &str, args: &[&str], keywords: &[&str]) -> String {
    let fixture = Fixture::new(name);
    let mut all: Vec<&str> = Vec::new();
    for pair in TINY.chunks(2) {
        if !args.contains(&pair[0]) {
            all.extend_from_slice(pair);
        }
    }
    all.extend_from_slice(args);
    let line = assert_one_line_error(&fixture.run(&all), keywords);
    assert!(
        !line.contains("multiple times"),
        "test bug: a flag was given twice: {line}"
    );
    line
}

/// The JSON lines of a successful run.
fn json_lines(output: &Output) -> Vec<serde_json::Map<String, Value>> {
    assert!(
        output.status.success(),
        "samlab failed\n{}",
        describe(output)
    );
    let stdout = text(&output.stdout);
    stdout
        .lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(map)) => map,
            other => panic!(
                "stdout line is not a JSON object: {line:?} ({other:?})\n{}",
                describe(output)
            ),
        })
        .collect()
}

fn run_ok(fixture: &Fixture, args: &[&str]) -> Vec<serde_json::Map<String, Value>> {
    json_lines(&fixture.run(args))
}

fn number(record: &serde_json::Map<String, Value>, key: &str) -> f64 {
    match record.get(key) {
        Some(Value::Number(n)) => n.as_f64().expect("f64"),
        other => panic!("{key} should be a number, got {other:?} in {record:?}"),
    }
}

fn tmp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------
// flags with bad values

#[test]
fn rejects_negative_rho() {
    assert_rejected("rho-negative", &["--sam", "sam", "--rho", "-1"], &["rho"]);
}

#[test]
fn rejects_nan_rho() {
    assert_rejected("rho-nan", &["--sam", "sam", "--rho", "NaN"], &["rho"]);
}

#[test]
fn rejects_zero_lr() {
    assert_rejected("lr-zero", &["--lr", "0"], &["lr"]);
}

#[test]
fn rejects_negative_lr() {
    assert_rejected("lr-negative", &["--lr", "-0.1"], &["lr"]);
}

#[test]
fn rejects_zero_batch_size() {
    assert_rejected("batch-zero", &["--batch-size", "0"], &["batch-size"]);
}

#[test]
fn rejects_label_noise_of_one() {
    assert_rejected("noise-one", &["--label-noise", "1.0"], &["label-noise"]);
}

#[test]
fn rejects_negative_label_noise() {
    assert_rejected(
        "noise-negative",
        &["--label-noise", "-0.1"],
        &["label-noise"],
    );
}

#[test]
fn rejects_unknown_optimizer() {
    assert_rejected(
        "optimizer",
        &["--optimizer", "rmsprop"],
        &["optimizer", "rmsprop"],
    );
}

#[test]
fn rejects_unknown_sam_mode() {
    assert_rejected("sam-mode", &["--sam", "foo"], &["sam", "foo"]);
}

#[test]
fn rejects_unknown_schedule() {
    assert_rejected(
        "schedule",
        &["--schedule", "linear"],
        &["schedule", "linear"],
    );
}

#[test]
fn rejects_zero_epochs() {
    assert_rejected("epochs", &["--epochs", "0"], &["epochs"]);
}

#[test]
fn rejects_zero_hidden_width() {
    assert_rejected("hidden", &["--hidden", "0"], &["hidden"]);
}

#[test]
fn rejects_nesterov_with_adam() {
    assert_rejected(
        "nesterov",
        &["--nesterov", "--optimizer", "adam"],
        &["nesterov"],
    );
}

#[test]
fn rejects_batch_larger_than_the_training_split() {
    assert_rejected(
        "batch-large",
        &["--batch-size", "1000"],
        &["batch", "1000", "600"],
    );
}

// ---------------------------------------------------------------------------------------------
// data set problems

#[test]
fn rejects_missing_dataset_directory() {
    let tmp = TempDir::new("no-dataset");
    let output = samlab_command(tmp.path())
        .args(["train", "--dataset", "/nonexistent/dir"])
        .output()
        .unwrap();
    assert_one_line_error(&output, &["/nonexistent/dir"]);
}

#[test]
fn rejects_images_file_with_wrong_magic() {
    let fixture = Fixture::new("bad-magic");
    let path = fixture.data().join("train-images-idx3-ubyte");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..4].copy_from_slice(&0x0000_0801u32.to_be_bytes()); // a labels magic
    std::fs::write(&path, bytes).unwrap();
    assert_one_line_error(&fixture.run(TINY), &["magic", "train-images-idx3-ubyte"]);
}

#[test]
fn rejects_truncated_images_file() {
    let fixture = Fixture::new("truncated");
    let path = fixture.data().join("t10k-images-idx3-ubyte");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
    assert_one_line_error(&fixture.run(TINY), &["truncated", "t10k-images-idx3-ubyte"]);
}

#[test]
fn rejects_label_count_mismatch() {
    let fixture = Fixture::new("count-mismatch");
    let (_, labels) = make_split(TRAIN_COUNT, 1);
    std::fs::write(
        fixture.data().join("train-labels-idx1-ubyte"),
        encode_labels(&labels[..TRAIN_COUNT - 1]),
    )
    .unwrap();
    assert_one_line_error(&fixture.run(TINY), &["mismatch", "600", "599"]);
}

#[test]
fn rejects_label_out_of_range() {
    let fixture = Fixture::new("label-12");
    let (_, mut labels) = make_split(TRAIN_COUNT, 1);
    labels[17] = 12;
    std::fs::write(
        fixture.data().join("train-labels-idx1-ubyte"),
        encode_labels(&labels),
    )
    .unwrap();
    assert_one_line_error(
        &fixture.run(TINY),
        &["label 12", "index 17", "train-labels-idx1-ubyte"],
    );
}

#[test]
fn rejects_unprepared_embedded_mnist() {
    let tmp = TempDir::new("empty-data-dir");
    let output = samlab_command(tmp.path())
        .args(["train", "--dataset", "mnist", "--data-dir"])
        .arg(tmp.path())
        .args(TINY)
        .output()
        .unwrap();
    let line = assert_one_line_error(&output, &["mnist", "--data-dir"]);
    assert!(
        line.contains(&*tmp.path().to_string_lossy()),
        "should name where it looked: {line}"
    );
}

// ---------------------------------------------------------------------------------------------
// checkpoints

#[test]
fn rejects_missing_init_file() {
    let fixture = Fixture::new("init-missing");
    let missing = fixture.tmp.arg("nothing-here.safetensors");
    let mut args = TINY.to_vec();
    args.extend(["--init", &missing]);
    assert_one_line_error(&fixture.run(&args), &["--init", "nothing-here.safetensors"]);
}

#[test]
fn rejects_garbage_init_file() {
    let fixture = Fixture::new("init-garbage");
    let path = fixture.tmp.join("garbage.safetensors");
    let mut rng = Rng(42);
    std::fs::write(
        &path,
        (0..300).map(|_| rng.next() as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    let arg = path.to_string_lossy().into_owned();
    let mut args = TINY.to_vec();
    args.extend(["--init", &arg]);
    assert_one_line_error(
        &fixture.run(&args),
        &["--init", "garbage.safetensors", "safetensors"],
    );
}

#[test]
fn rejects_init_from_a_different_model() {
    let fixture = Fixture::new("init-other-model");
    let saved = fixture.tmp.arg("a.safetensors");
    run_ok(
        &fixture,
        &[
            "--hidden",
            "16",
            "--batch-size",
            "100",
            "--epochs",
            "1",
            "--quiet",
            "--save",
            &saved,
        ],
    );
    let output = fixture.run(&[
        "--hidden",
        "32",
        "--batch-size",
        "100",
        "--epochs",
        "1",
        "--init",
        &saved,
    ]);
    assert_one_line_error(&output, &["0.weight", "[16, 16]", "[32, 16]"]);
}

/// `--save` into a directory that does not exist fails, and leaves nothing behind.
#[test]
fn save_into_missing_directory_fails_without_leftovers() {
    let fixture = Fixture::new("save-missing-dir");
    let target = fixture.tmp.join("no-such-dir").join("w.safetensors");
    let arg = target.to_string_lossy().into_owned();
    let output = fixture.run(&[
        "--hidden",
        "16",
        "--batch-size",
        "100",
        "--epochs",
        "1",
        "--quiet",
        "--save",
        &arg,
    ]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success(), "{}", describe(&output));
    assert!(!stderr.contains("panicked"), "{}", describe(&output));
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("--save") && last.contains(&arg),
        "the error should name --save and the path\n{}",
        describe(&output)
    );
    assert!(!target.exists());
    assert!(
        !fixture.tmp.join("no-such-dir").exists(),
        "must not create the directory"
    );
    assert_eq!(
        entries(fixture.tmp.path()),
        ["data"],
        "nothing may be left next to the missing directory"
    );
    assert!(tmp_files(&fixture.data()).is_empty());
    assert!(tmp_files(Path::new(env!("CARGO_MANIFEST_DIR"))).is_empty());
}

/// The full bad-input contract for `--save` into a missing directory: it is caught before any
/// training, so stdout stays empty and stderr has just the one error line.
#[test]
fn save_into_missing_directory_is_rejected_before_training() {
    let fixture = Fixture::new("save-missing-dir-early");
    let target = fixture.tmp.join("no-such-dir").join("w.safetensors");
    let arg = target.to_string_lossy().into_owned();
    let output = fixture.run(&[
        "--hidden",
        "16",
        "--batch-size",
        "100",
        "--epochs",
        "1",
        "--save",
        &arg,
    ]);
    assert_one_line_error(&output, &["--save", "no-such-dir"]);
    assert_eq!(entries(fixture.tmp.path()), ["data"]);
}

/// A `--save` target that is a directory fails at the rename; the temp file must go too.
#[test]
fn save_onto_a_directory_fails_without_leftovers() {
    let fixture = Fixture::new("save-onto-dir");
    let target = fixture.tmp.join("taken");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    let arg = target.to_string_lossy().into_owned();
    let output = fixture.run(&[
        "--hidden",
        "16",
        "--batch-size",
        "100",
        "--epochs",
        "1",
        "--quiet",
        "--save",
        &arg,
    ]);
    assert!(!output.status.success(), "{}", describe(&output));
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"), "{}", describe(&output));
    assert!(
        stderr.lines().last().unwrap_or_default().contains("--save"),
        "{}",
        describe(&output)
    );
    assert_eq!(
        entries(fixture.tmp.path()),
        ["data", "taken"],
        "no temp file next to the target"
    );
    assert_eq!(entries(&target), ["keep"]);
}

// ---------------------------------------------------------------------------------------------
// good runs

const KEYS: &[&str] = &[
    "step",
    "epoch",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "sharpness",
    "grad_norm",
    "cos_g0_g1",
    "samples_per_s",
];

#[test]
fn sam_run_prints_one_json_object_per_evaluation() {
    let fixture = Fixture::new("json-sam");
    let output = fixture.run(&[
        "--hidden",
        "16",
        "--batch-size",
        "100",
        "--epochs",
        "1",
        "--sam",
        "sam",
        "--eval-every",
        "2",
    ]);
    let records = json_lines(&output);
    assert_eq!(
        records.len(),
        3,
        "6 steps evaluated every 2 steps\n{}",
        describe(&output)
    );
    for (i, record) in records.iter().enumerate() {
        for key in KEYS {
            assert!(record.contains_key(*key), "missing {key} in {record:?}");
        }
        assert_eq!(number(record, "step"), 2.0 * (i + 1) as f64);
        assert!(
            (number(record, "epoch") - (2 * (i + 1)) as f64 / STEPS_PER_EPOCH as f64).abs() < 1e-12
        );
        for key in [
            "train_loss",
            "test_loss",
            "grad_norm",
            "sharpness",
            "cos_g0_g1",
            "samples_per_s",
        ] {
            assert!(
                number(record, key).is_finite(),
                "{key} should be finite: {record:?}"
            );
        }
        for key in ["train_accuracy", "test_accuracy"] {
            let v = number(record, key);
            assert!((0.0..=1.0).contains(&v), "{key} = {v} should be in [0, 1]");
        }
        assert!(number(record, "train_loss") > 0.0 && number(record, "grad_norm") > 0.0);
        assert!(number(record, "samples_per_s") > 0.0);
        let cos = number(record, "cos_g0_g1");
        assert!(
            (-1.0 - 1e-4..=1.0 + 1e-4).contains(&cos),
            "cos_g0_g1 = {cos}"
        );
    }
    // Without --quiet, stderr has the human header and summary but never a panic.
    let stderr = text(&output.stderr);
    assert!(!stderr.contains("panicked"));
    assert!(
        stderr.contains("done after 6 steps"),
        "summary missing:\n{stderr}"
    );
}

#[test]
fn plain_run_has_null_sam_metrics_and_evaluates_once_per_epoch() {
    let fixture = Fixture::new("json-none");
    let output = fixture.run(&[
        "--hidden",
        "16",
        "--batch-size",
        "100",
        "--epochs",
        "2",
        "--sam",
        "none",
        "--quiet",
    ]);
    assert!(
        output.stderr.is_empty(),
        "--quiet leaves stderr empty\n{}",
        describe(&output)
    );
    let records = json_lines(&output);
    assert_eq!(records.len(), 2, "one evaluation per epoch");
    for (i, record) in records.iter().enumerate() {
        for key in KEYS {
            assert!(record.contains_key(*key), "missing {key} in {record:?}");
        }
        assert_eq!(record["sharpness"], Value::Null);
        assert_eq!(record["cos_g0_g1"], Value::Null);
        assert_eq!(
            number(record, "step"),
            ((i + 1) as u64 * STEPS_PER_EPOCH) as f64
        );
        assert_eq!(number(record, "epoch"), (i + 1) as f64);
        assert!(number(record, "grad_norm").is_finite());
    }
}

#[test]
fn eval_every_that_does_not_divide_still_evaluates_at_the_end() {
    let fixture = Fixture::new("eval-every-4");
    let records = run_ok(
        &fixture,
        &[
            "--hidden",
            "16",
            "--batch-size",
            "100",
            "--epochs",
            "1",
            "--eval-every",
            "4",
            "--quiet",
        ],
    );
    let steps: Vec<f64> = records.iter().map(|r| number(r, "step")).collect();
    assert_eq!(steps, [4.0, 6.0]);
}

fn tensor_summary(bytes: &[u8]) -> Vec<(String, Vec<usize>)> {
    let file =
        safetensors::SafeTensors::deserialize(bytes).expect("--save writes valid safetensors");
    let mut tensors: Vec<(String, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "{name}");
            for chunk in view.data().chunks_exact(4) {
                let v = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
                assert!(v.is_finite(), "{name} holds {v}");
            }
            (name, view.shape().to_vec())
        })
        .collect();
    tensors.sort();
    tensors
}

#[test]
fn save_then_init_round_trip() {
    let fixture = Fixture::new("round-trip");
    let a = fixture.tmp.join("a.safetensors");
    let b = fixture.tmp.join("b.safetensors");
    let (a_arg, b_arg) = (
        a.to_string_lossy().into_owned(),
        b.to_string_lossy().into_owned(),
    );

    let first = run_ok(
        &fixture,
        &[
            "--hidden",
            "16",
            "--batch-size",
            "100",
            "--epochs",
            "2",
            "--seed",
            "3",
            "--quiet",
            "--save",
            &a_arg,
        ],
    );
    let saved = std::fs::read(&a).expect("--save wrote the file");
    let expected: Vec<(String, Vec<usize>)> = vec![
        ("0.bias".into(), vec![16]),
        ("0.weight".into(), vec![16, PIXELS]),
        ("2.bias".into(), vec![CLASSES]),
        ("2.weight".into(), vec![CLASSES, 16]),
    ];
    assert_eq!(tensor_summary(&saved), expected);
    assert_eq!(
        entries(fixture.tmp.path()),
        ["a.safetensors", "data"],
        "no temp file next to the checkpoint"
    );

    // Loading with a learning rate far below every weight's ulp leaves the weights untouched:
    // the first evaluation reproduces the last one of the saving run, and saving again gives
    // the same file bit for bit.
    let again = run_ok(
        &fixture,
        &[
            "--hidden",
            "16",
            "--batch-size",
            "100",
            "--epochs",
            "1",
            "--seed",
            "3",
            "--quiet",
            "--lr",
            "1e-30",
            "--eval-every",
            "1",
            "--init",
            &a_arg,
            "--save",
            &b_arg,
        ],
    );
    let last = first.last().unwrap();
    assert_eq!(
        number(&again[0], "test_loss"),
        number(last, "test_loss"),
        "--init loads the saved weights"
    );
    assert_eq!(
        number(&again[0], "test_accuracy"),
        number(last, "test_accuracy")
    );
    assert_eq!(
        std::fs::read(&b).unwrap(),
        saved,
        "weights survive --init → --save unchanged"
    );

    // Training on from the checkpoint (same seed, one more epoch) runs and starts where it left
    // off: its first epoch is better than the fresh run's first epoch.
    let resumed = run_ok(
        &fixture,
        &[
            "--hidden",
            "16",
            "--batch-size",
            "100",
            "--epochs",
            "1",
            "--seed",
            "3",
            "--quiet",
            "--init",
            &a_arg,
        ],
    );
    assert_eq!(resumed.len(), 1);
    assert!(
        number(&resumed[0], "train_loss") < number(&first[0], "train_loss"),
        "resumed epoch loss {} should beat the fresh first epoch {}",
        number(&resumed[0], "train_loss"),
        number(&first[0], "train_loss")
    );
}

fn without_throughput(output: Output) -> Vec<serde_json::Map<String, Value>> {
    let mut records = json_lines(&output);
    for record in &mut records {
        assert!(record.remove("samples_per_s").is_some());
    }
    records
}

#[test]
fn identical_runs_print_identical_metrics() {
    let fixture = Fixture::new("determinism");
    let args = [
        "--hidden",
        "16",
        "--batch-size",
        "100",
        "--epochs",
        "2",
        "--sam",
        "sam",
        "--label-noise",
        "0.2",
        "--eval-every",
        "3",
        "--seed",
        "7",
        "--quiet",
    ];
    let other_seed: Vec<&str> = args
        .iter()
        .map(|&a| if a == "7" { "8" } else { a })
        .collect();
    let runs: Vec<Child> = [&args[..], &args[..], &other_seed[..]]
        .iter()
        .map(|a| fixture.spawn(a))
        .collect();
    let mut outputs: Vec<Output> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let third = without_throughput(outputs.pop().unwrap());
    let second = without_throughput(outputs.pop().unwrap());
    let first = without_throughput(outputs.pop().unwrap());
    assert_eq!(first.len(), 4, "12 steps evaluated every 3");
    assert_eq!(first, second, "same seed, same metrics");
    assert_ne!(first, third, "a different seed changes the run");
}

/// Loose CIFAR-10 batches in the official record layout (label byte, then 3,072 CHW bytes):
/// `per_class` training and `per_class / 2` test images of each class.
fn write_cifar(dir: &Path, per_class: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let batch = |count: usize, salt: usize| {
        let mut bytes = Vec::new();
        for i in 0..count * 10 {
            let label = i % 10;
            bytes.push(label as u8);
            for c in 0..3 {
                for p in 0..1024 {
                    let base = if c == 0 { 10 + 24 * label } else { 100 };
                    bytes.push((base + (i * 7 + p * 13 + salt) % 9) as u8);
                }
            }
        }
        bytes
    };
    std::fs::write(dir.join("data_batch_1.bin"), batch(per_class, 0)).unwrap();
    std::fs::write(dir.join("test_batch.bin"), batch(per_class / 2, 5)).unwrap();
}

#[test]
fn trains_lenet_on_cifar10_batches_from_the_data_dir() {
    let tmp = TempDir::new("cifar-cli");
    write_cifar(&tmp.join("data/cifar-10"), 8);
    let output = samlab_command(tmp.path())
        .args(["train", "--dataset", "cifar10", "--data-dir"])
        .arg(tmp.join("data"))
        .args(["--model", "lenet", "--per-class", "6", "--batch-size", "20"])
        .args([
            "--epochs",
            "1",
            "--augment",
            "--dropout",
            "0.2",
            "--sam",
            "sam",
        ])
        .output()
        .unwrap();
    let records = json_lines(&output);
    assert_eq!(records.len(), 1, "one evaluation per epoch");
    // 6 per class → 60 training images, 3 steps of 20; the test split keeps max(6/5, 1) = 1 per class.
    assert_eq!(number(&records[0], "step"), 3.0);
    assert!(number(&records[0], "test_loss").is_finite());
    assert!(text(&output.stderr).contains("cifar10 (60 train / 10 test) · lenet"));
}

#[test]
fn cifar10_missing_says_how_to_get_it() {
    let tmp = TempDir::new("cifar-missing");
    let output = samlab_command(tmp.path())
        .args(["train", "--dataset", "cifar10", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_one_line_error(&output, &["fetch-data", "cifar10"]);
}

#[test]
fn cifar10_subset_larger_than_a_class_is_rejected() {
    let tmp = TempDir::new("cifar-subset");
    write_cifar(&tmp.join("data/cifar-10"), 4);
    let output = samlab_command(tmp.path())
        .args(["train", "--dataset", "cifar10", "--data-dir"])
        .arg(tmp.join("data"))
        .args(["--per-class", "50"])
        .output()
        .unwrap();
    assert_one_line_error(&output, &["50"]);
}

#[test]
fn rejects_a_convnet_on_images_too_small_for_it() {
    // The tiny IDX images are too small for two 5×5 convolutions and two poolings.
    assert_rejected("tiny-convnet", &["--model", "tfjs-convnet"], &["too small"]);
}

#[test]
fn rejects_dropout_of_one() {
    assert_rejected("dropout-one", &["--dropout", "1"], &["dropout"]);
}

/// ESAM, SSAM-D, R-SAM and μP² train end to end from the command line with their flags, and report
/// finite SAM read-outs.
#[test]
fn newer_sam_variants_train_from_the_command_line() {
    let fixture = Fixture::new("variants-new");
    for args in [
        &["--sam", "esam", "--beta", "0.6", "--gamma", "0.5"][..],
        &[
            "--sam",
            "ssam-d",
            "--sparsity",
            "0.5",
            "--drop-rate",
            "0.5",
            "--k",
            "2",
        ][..],
        &["--sam", "rsam", "--sigma", "0.01", "--lambda", "2"][..],
        &["--sam", "mup2", "--base-width", "8"][..],
    ] {
        let mut all = vec!["--hidden", "16", "--batch-size", "100", "--epochs", "1"];
        all.extend_from_slice(args);
        let records = run_ok(&fixture, &all);
        let last = records.last().expect("at least one evaluation");
        for key in ["train_loss", "test_loss", "grad_norm", "sharpness"] {
            assert!(
                number(last, key).is_finite(),
                "{args:?}: {key} should be finite: {last:?}"
            );
        }
        assert!(number(last, "test_accuracy") > 0.1, "{args:?}: {last:?}");
    }
}

#[test]
fn rejects_out_of_range_settings_of_the_newer_variants() {
    assert_rejected("esam-beta", &["--sam", "esam", "--beta", "0"], &["beta"]);
    assert_rejected(
        "esam-gamma",
        &["--sam", "esam", "--gamma", "1.5"],
        &["gamma"],
    );
    assert_rejected(
        "ssamd-drop",
        &["--sam", "ssam-d", "--drop-rate", "2"],
        &["drop_rate"],
    );
    assert_rejected(
        "mup2-width",
        &["--sam", "mup2", "--base-width", "0"],
        &["base_width"],
    );
    assert_rejected(
        "rsam-lambda",
        &["--sam", "rsam", "--lambda", "-1"],
        &["lambda"],
    );
}

// ---------------------------------------------------------------------------------------------
// samlab sharpness and samlab landscape

/// `samlab <subcommand> --dataset <tiny> <args…>` (sharpness, landscape).
fn probe_command(fixture: &Fixture, subcommand: &str, args: &[&str]) -> Output {
    samlab_command(fixture.tmp.path())
        .arg(subcommand)
        .arg("--dataset")
        .arg(fixture.data())
        .args(args)
        .output()
        .expect("run samlab")
}

/// The one JSON object a successful `sharpness` or `landscape` run prints.
fn probe_json(
    fixture: &Fixture,
    subcommand: &str,
    args: &[&str],
) -> serde_json::Map<String, Value> {
    let output = probe_command(fixture, subcommand, args);
    let mut records = json_lines(&output);
    assert_eq!(records.len(), 1, "one JSON object\n{}", describe(&output));
    records.remove(0)
}

/// Trains the tiny MLP (`--hidden` as given, one epoch, `seed`) and saves it as `name`.
fn save_tiny(fixture: &Fixture, name: &str, hidden: &str, seed: &str) -> String {
    let path = fixture.tmp.arg(name);
    run_ok(
        fixture,
        &[
            "--hidden",
            hidden,
            "--batch-size",
            "100",
            "--epochs",
            "1",
            "--seed",
            seed,
            "--quiet",
            "--save",
            &path,
        ],
    );
    path
}

/// A row of numbers (`loss[0]`, `axis`) from a landscape report.
fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array, got {value}"))
        .iter()
        .map(|v| {
            v.as_f64()
                .unwrap_or_else(|| panic!("expected a number, got {v}"))
        })
        .collect()
}

#[test]
fn sharpness_reports_lambda_max_and_the_trace_by_default() {
    let fixture = Fixture::new("sharpness-default");
    let weights = save_tiny(&fixture, "w.safetensors", "16", "0");
    let report = probe_json(
        &fixture,
        "sharpness",
        &["--weights", &weights, "--hidden", "16", "--quiet"],
    );
    for key in [
        "loss",
        "accuracy",
        "rows",
        "step",
        "eigenvalues",
        "trace",
        "worstCase",
        "adaptiveWorstCase",
        "gradients",
        "weights",
        "seconds",
    ] {
        assert!(report.contains_key(key), "{key} missing: {report:?}");
    }
    assert_eq!(report["weights"], Value::from(weights.as_str()));
    assert!(number(&report, "seconds") >= 0.0);
    // The default 512 rows are capped by the tiny test split.
    assert_eq!(number(&report, "rows"), TEST_COUNT as f64);
    assert!(number(&report, "loss").is_finite() && number(&report, "loss") > 0.0);
    assert!(number(&report, "step") > 0.0);
    let eigenvalues = report["eigenvalues"].as_array().expect("an array");
    assert_eq!(eigenvalues.len(), 1, "top 1 by default: {report:?}");
    let lambda = eigenvalues[0]["value"].as_f64().expect("λ_max is a number");
    assert!(
        lambda.is_finite() && lambda > 0.0,
        "λ_max should be finite and positive: {report:?}"
    );
    assert!(eigenvalues[0]["iterations"].as_u64().unwrap() >= 1);
    let trace = report["trace"].as_object().expect("tr(H) by default");
    assert_eq!(trace["samples"].as_u64(), Some(10), "{report:?}");
    assert!(trace["value"].as_f64().unwrap().is_finite());
    assert!(report["worstCase"].is_null() && report["adaptiveWorstCase"].is_null());
    // λ_max: 2 gradients per product; tr(H): 2 per sample.
    assert!(number(&report, "gradients") >= 2.0 + 20.0);
}

#[test]
fn sharpness_measures_what_the_flags_name() {
    let fixture = Fixture::new("sharpness-flags");
    let weights = save_tiny(&fixture, "w.safetensors", "16", "0");
    let report = probe_json(
        &fixture,
        "sharpness",
        &[
            "--weights",
            &weights,
            "--hidden",
            "16",
            "--top",
            "2",
            "--rho",
            "0.05",
            "--eta",
            "0.01",
            "--rows",
            "50",
            "--iterations",
            "30",
        ],
    );
    assert_eq!(number(&report, "rows"), 50.0);
    let eigenvalues = report["eigenvalues"].as_array().expect("an array");
    assert_eq!(eigenvalues.len(), 2, "{report:?}");
    let (first, second) = (
        eigenvalues[0]["value"].as_f64().unwrap(),
        eigenvalues[1]["value"].as_f64().unwrap(),
    );
    assert!(first.is_finite() && second.is_finite(), "{report:?}");
    assert!(
        first.abs() >= second.abs() * 0.9,
        "top eigenvalues in order: {report:?}"
    );
    // --rho given: no trace unless asked for.
    assert!(report["trace"].is_null(), "{report:?}");
    for key in ["worstCase", "adaptiveWorstCase"] {
        let value = number(&report, key);
        assert!(
            value.is_finite() && value > -1e-6,
            "{key}: the ascent does not lower the loss: {report:?}"
        );
    }
}

#[test]
fn landscape_line_passes_through_the_loss_of_the_weights() {
    let fixture = Fixture::new("landscape-line");
    let weights = save_tiny(&fixture, "w.safetensors", "16", "0");
    let common = ["--weights", &weights, "--hidden", "16", "--rows", "64"];
    let mut args = common.to_vec();
    args.extend(["--top", "1", "--quiet"]);
    let sharpness = probe_json(&fixture, "sharpness", &args);
    let mut args = common.to_vec();
    args.extend(["--points", "5", "--span", "0.5", "--quiet"]);
    let report = probe_json(&fixture, "landscape", &args);
    assert_eq!(report["kind"], Value::from("line"));
    assert_eq!(number(&report, "rows"), 64.0);
    assert_eq!(numbers(&report["axis"]), [-0.5, -0.25, 0.0, 0.25, 0.5]);
    let losses = report["loss"].as_array().expect("rows of losses");
    assert_eq!(losses.len(), 1, "one row for a line");
    let loss = numbers(&losses[0]);
    assert_eq!(loss.len(), 5, "--points losses: {report:?}");
    assert!(loss.iter().all(|l| l.is_finite()), "{loss:?}");
    assert!(
        (loss[2] - number(&sharpness, "loss")).abs() <= 1e-5,
        "α = 0 is the weights themselves: {} vs sharpness {}",
        loss[2],
        number(&sharpness, "loss")
    );
    let accuracy = numbers(&report["accuracy"].as_array().expect("rows")[0]);
    assert_eq!(accuracy.len(), 5);
    assert!(accuracy.iter().all(|a| (0.0..=1.0).contains(a)));
    assert!(
        (accuracy[2] - number(&sharpness, "accuracy")).abs() <= 1e-9,
        "{accuracy:?} vs {sharpness:?}"
    );
}

#[test]
fn interpolation_starts_and_ends_at_each_checkpoint() {
    let fixture = Fixture::new("landscape-interpolation");
    let a = save_tiny(&fixture, "a.safetensors", "16", "1");
    let b = save_tiny(&fixture, "b.safetensors", "16", "2");
    let loss_of = |weights: &str| {
        let report = probe_json(
            &fixture,
            "sharpness",
            &[
                "--weights",
                weights,
                "--hidden",
                "16",
                "--rows",
                "80",
                "--top",
                "1",
                "--iterations",
                "2",
                "--quiet",
            ],
        );
        number(&report, "loss")
    };
    let (loss_a, loss_b) = (loss_of(&a), loss_of(&b));
    assert_ne!(loss_a, loss_b, "two different models");
    let report = probe_json(
        &fixture,
        "landscape",
        &[
            "--weights",
            &a,
            "--against",
            &b,
            "--hidden",
            "16",
            "--rows",
            "80",
            "--points",
            "5",
            "--span",
            "1",
            "--quiet",
        ],
    );
    assert_eq!(report["kind"], Value::from("interpolation"));
    assert_eq!(report["against"], Value::from(b.as_str()));
    // t over [−span/2, 1 + span/2].
    assert_eq!(numbers(&report["axis"]), [-0.5, 0.0, 0.5, 1.0, 1.5]);
    let loss = numbers(&report["loss"].as_array().expect("rows")[0]);
    assert!(
        (loss[1] - loss_a).abs() <= 1e-5,
        "t = 0 is --weights: {} vs {loss_a}",
        loss[1]
    );
    assert!(
        (loss[3] - loss_b).abs() <= 1e-5,
        "t = 1 is --against: {} vs {loss_b}",
        loss[3]
    );
}

/// Checks the SVG a landscape run wrote: an SVG document with drawn lines, nothing left beside it.
fn assert_svg(path: &Path) {
    let svg = std::fs::read_to_string(path).expect("--svg wrote the file");
    let start = svg.trim_start();
    assert!(
        start.starts_with("<svg") || start.starts_with("<?xml"),
        "not an SVG document: {}",
        &svg[..svg.len().min(200)]
    );
    assert!(svg.trim_end().ends_with("</svg>"), "the document is closed");
    assert!(
        svg.contains("<path") || svg.contains("<polyline"),
        "the plot draws lines"
    );
    assert_eq!(
        svg.matches("<svg").count(),
        1,
        "one document, no nested leftovers"
    );
    assert!(tmp_files(path.parent().unwrap()).is_empty(), "no temp file");
}

#[test]
fn plane_with_svg_writes_a_heatmap_with_contours() {
    let fixture = Fixture::new("landscape-plane");
    let weights = save_tiny(&fixture, "w.safetensors", "16", "0");
    let svg = fixture.tmp.join("plane.svg");
    let svg_arg = svg.to_string_lossy().into_owned();
    let report = probe_json(
        &fixture,
        "landscape",
        &[
            "--weights",
            &weights,
            "--hidden",
            "16",
            "--kind",
            "plane",
            "--points",
            "9",
            "--rows",
            "64",
            "--svg",
            &svg_arg,
            "--quiet",
        ],
    );
    assert_eq!(report["kind"], Value::from("plane"));
    assert_eq!(report["svg"], Value::from(svg_arg.as_str()));
    let rows = report["loss"].as_array().expect("one row per β");
    assert_eq!(rows.len(), 9);
    assert!(rows.iter().all(|r| numbers(r).len() == 9));
    assert_svg(&svg);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.matches("<rect").count() >= 81,
        "a cell per point and a colour bar"
    );
    assert!(text.contains("<polyline"), "contour lines over the heatmap");
}

#[test]
fn line_and_interpolation_with_svg_write_line_charts() {
    let fixture = Fixture::new("landscape-svg-lines");
    let a = save_tiny(&fixture, "a.safetensors", "16", "1");
    let b = save_tiny(&fixture, "b.safetensors", "16", "2");
    for (name, extra) in [
        ("line.svg", vec![]),
        ("interpolation.svg", vec!["--against", &b]),
    ] {
        let svg = fixture.tmp.join(name);
        let svg_arg = svg.to_string_lossy().into_owned();
        let mut args = vec![
            "--weights",
            &a,
            "--hidden",
            "16",
            "--points",
            "7",
            "--rows",
            "32",
            "--svg",
            &svg_arg,
        ];
        args.extend(extra);
        probe_json(&fixture, "landscape", &args);
        assert_svg(&svg);
        let text = std::fs::read_to_string(&svg).unwrap();
        assert!(
            text.contains("accuracy"),
            "{name}: accuracy on its own axis"
        );
    }
}

#[test]
fn sharpness_and_landscape_reject_bad_input() {
    let fixture = Fixture::new("probe-bad-input");
    let weights = save_tiny(&fixture, "w.safetensors", "16", "0");
    let narrow = save_tiny(&fixture, "narrow.safetensors", "8", "0");
    let garbage = fixture.tmp.join("garbage.safetensors");
    let mut rng = Rng(7);
    std::fs::write(
        &garbage,
        (0..300).map(|_| rng.next() as u8).collect::<Vec<u8>>(),
    )
    .unwrap();
    let garbage = garbage.to_string_lossy().into_owned();
    let missing = fixture.tmp.arg("nothing-here.safetensors");
    let plain_file = fixture.tmp.arg("w.safetensors/plot.svg");
    let missing_dir = fixture.tmp.arg("no-such-dir/plot.svg");
    let directory = fixture.tmp.arg("data");
    let base = ["--weights", weights.as_str(), "--hidden", "16"];
    let cases: Vec<(&str, Vec<&str>, Vec<&str>)> = vec![
        (
            "sharpness",
            vec!["--weights", &missing, "--hidden", "16"],
            vec!["--weights", "nothing-here.safetensors"],
        ),
        (
            "landscape",
            vec!["--weights", &missing, "--hidden", "16"],
            vec!["--weights", "nothing-here.safetensors"],
        ),
        (
            "sharpness",
            vec!["--weights", &garbage, "--hidden", "16"],
            vec!["--weights", "garbage.safetensors", "safetensors"],
        ),
        (
            "sharpness",
            vec!["--weights", &weights, "--hidden", "32"],
            vec!["--weights", "0.weight", "[16, 16]", "[32, 16]"],
        ),
        (
            "landscape",
            [&base[..], &["--against", &narrow]].concat(),
            vec!["--against", "0.weight", "[8, 16]", "[16, 16]"],
        ),
        (
            "landscape",
            [&base[..], &["--against", &garbage]].concat(),
            vec!["--against", "safetensors"],
        ),
        (
            "landscape",
            [&base[..], &["--against", &missing]].concat(),
            vec!["--against", "nothing-here.safetensors"],
        ),
        (
            "landscape",
            [&base[..], &["--points", "1"]].concat(),
            vec!["--points", "got 1"],
        ),
        (
            "landscape",
            [&base[..], &["--kind", "plane", "--points", "500"]].concat(),
            vec!["--points", "101"],
        ),
        (
            "landscape",
            [&base[..], &["--span", "0"]].concat(),
            vec!["--span"],
        ),
        (
            "landscape",
            [&base[..], &["--span", "NaN"]].concat(),
            vec!["--span", "NaN"],
        ),
        (
            "landscape",
            [&base[..], &["--rows", "0"]].concat(),
            vec!["--rows"],
        ),
        (
            "sharpness",
            [&base[..], &["--rows", "0"]].concat(),
            vec!["--rows"],
        ),
        (
            "landscape",
            [&base[..], &["--kind", "plane", "--against", &weights]].concat(),
            vec!["--kind plane", "--against"],
        ),
        (
            "landscape",
            [&base[..], &["--kind", "interpolation"]].concat(),
            vec!["--kind interpolation", "--against"],
        ),
        (
            "landscape",
            [&base[..], &["--svg", &missing_dir]].concat(),
            vec!["--svg", "no-such-dir", "does not exist"],
        ),
        (
            "landscape",
            [&base[..], &["--svg", &plain_file]].concat(),
            vec!["--svg", "not a directory"],
        ),
        (
            "landscape",
            [&base[..], &["--svg", &directory]].concat(),
            vec!["--svg", "is a directory"],
        ),
        (
            "landscape",
            [&base[..], &["--kind", "sideways"]].concat(),
            vec!["--kind", "sideways"],
        ),
        (
            "sharpness",
            [&base[..], &["--eta", "0.01"]].concat(),
            vec!["--eta", "--rho"],
        ),
        (
            "sharpness",
            [&base[..], &["--top", "0", "--trace-samples", "0"]].concat(),
            vec!["nothing to measure"],
        ),
        (
            "sharpness",
            [&base[..], &["--rho", "-0.1"]].concat(),
            vec!["--rho"],
        ),
        (
            "sharpness",
            [&base[..], &["--top", "17"]].concat(),
            vec!["--top"],
        ),
        (
            "sharpness",
            [&base[..], &["--tolerance", "0"]].concat(),
            vec!["--tolerance"],
        ),
        (
            "sharpness",
            [&base[..], &["--step", "NaN"]].concat(),
            vec!["--step"],
        ),
        ("sharpness", vec!["--hidden", "16"], vec!["--weights"]),
    ];
    for (subcommand, args, keywords) in &cases {
        let output = probe_command(&fixture, subcommand, args);
        let line = assert_one_line_error(&output, keywords);
        assert!(
            !line.contains("multiple times"),
            "test bug: a flag was given twice: {line}"
        );
    }
    assert!(!fixture.tmp.join("no-such-dir").exists());
    assert_eq!(
        entries(fixture.tmp.path()),
        [
            "data",
            "garbage.safetensors",
            "narrow.safetensors",
            "w.safetensors"
        ],
        "no plot and no temp file written by a rejected run"
    );
}

#[test]
fn surface_prints_one_json_line_per_sam_step_and_refuses_bad_settings() {
    let tmp = TempDir::new("surface");
    let run = |args: &[&str]| {
        samlab_command(tmp.path())
            .arg("surface")
            .args(args)
            .output()
            .expect("run samlab")
    };
    let lines = json_lines(&run(&[
        "--sam",
        "sam",
        "--rho",
        "0.3",
        "--steps",
        "3",
        "--start=1,-0.5",
    ]));
    assert_eq!(lines.len(), 3, "one line per step");
    let pair = |record: &serde_json::Map<String, Value>, key: &str| -> [f64; 2] {
        match record.get(key) {
            Some(Value::Array(v)) => [v[0].as_f64().unwrap(), v[1].as_f64().unwrap()],
            other => panic!("{key} should be [x, y], got {other:?}"),
        }
    };
    assert_eq!(pair(&lines[0], "w"), [1.0, -0.5], "--start");
    for (t, line) in lines.iter().enumerate() {
        assert_eq!(number(line, "step"), t as f64);
        let (w, p) = (pair(line, "w"), pair(line, "perturbed"));
        let radius = (p[0] - w[0]).hypot(p[1] - w[1]);
        assert!((radius - 0.3).abs() < 1e-5, "‖ε‖ = ρ at step {t}: {radius}");
        if t > 0 {
            assert_eq!(w, pair(&lines[t - 1], "next"), "steps chain");
        }
    }
    let sgd = json_lines(&run(&["--sam", "none", "--steps", "1"]));
    assert_eq!(
        sgd[0].get("perturbed"),
        Some(&Value::Null),
        "SGD has no w + ε"
    );
    for (args, keywords) in [
        (&["--sam", "gsam"][..], &["gsam", "asam"][..]),
        (&["--surface", "himmelblau"], &["surface", "rosenbrock"]),
        (&["--lr", "0"], &["lr"]),
        (&["--start=1,2,3"], &["--start"]),
        (&["--surface", "saddle", "--condition", "5"], &["condition"]),
        (&["--steps", "0"], &["--steps"]),
    ] {
        assert_one_line_error(&run(args), keywords);
    }
}
