//! Checkpoints at the library level (no GPU): safetensors round trips, every way a file can fail
//! to fit the model, and the atomic writer.
#![cfg(not(target_arch = "wasm32"))] // native suite; the browser suite is tests/web.rs

use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::Dtype;
use samlab::nn::{Model, ParamLayout};
use samlab::train::checkpoint::{from_safetensors, to_safetensors, write_atomically};
use samlab::train::CheckpointError;

/// The [5, 4, 3] MLP: 0.weight [4, 5], 0.bias [4], 2.weight [3, 4], 2.bias [3].
fn layout() -> ParamLayout {
    Model::mlp(&[5, 4, 3]).layout
}

/// A flat vector with distinct, awkward values in every tensor element and zeros in the padding.
fn sample_flat(layout: &ParamLayout) -> Vec<f32> {
    let specials = [
        -0.0f32,
        f32::MIN_POSITIVE / 8.0,
        f32::MAX,
        -f32::MAX,
        1.0e-30,
        -3.5,
        0.1,
        f32::EPSILON,
    ];
    let mut flat = vec![0.0f32; layout.total_len];
    let mut k = 0usize;
    for spec in &layout.specs {
        for v in &mut flat[spec.offset..spec.offset + spec.len()] {
            *v = if k < specials.len() {
                specials[k]
            } else {
                (k as f32 * 0.37).sin() * 1.7
            };
            k += 1;
        }
    }
    flat
}

/// One tensor for a hand-built file: name, dtype, shape, little-endian bytes.
struct Raw {
    name: &'static str,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f32_tensor(name: &'static str, shape: &[usize], values: &[f32]) -> Raw {
    assert_eq!(values.len(), shape.iter().product::<usize>());
    Raw {
        name,
        dtype: Dtype::F32,
        shape: shape.to_vec(),
        bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

fn filled(name: &'static str, shape: &[usize], value: f32) -> Raw {
    f32_tensor(name, shape, &vec![value; shape.iter().product()])
}

fn serialize(tensors: &[Raw]) -> Vec<u8> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|t| {
            (
                t.name.to_string(),
                TensorView::new(t.dtype, t.shape.clone(), &t.bytes)
                    .expect("consistent test tensor"),
            )
        })
        .collect();
    safetensors::serialize(views, None).expect("serialise test tensors")
}

/// The four tensors the [5, 4, 3] model expects, all finite.
fn good_tensors() -> Vec<Raw> {
    vec![
        filled("0.weight", &[4, 5], 0.5),
        filled("0.bias", &[4], 0.25),
        filled("2.weight", &[3, 4], -0.5),
        filled("2.bias", &[3], 1.0),
    ]
}

fn load_err(bytes: &[u8]) -> CheckpointError {
    match from_safetensors(&layout(), bytes) {
        Ok(_) => panic!("expected the checkpoint to be rejected"),
        Err(e) => e,
    }
}

fn assert_one_line_mentions(message: &str, needles: &[&str]) {
    assert_eq!(
        message.lines().count(),
        1,
        "error message should be one line: {message:?}"
    );
    for needle in needles {
        assert!(
            message.contains(needle),
            "error message {message:?} should mention {needle:?}"
        );
    }
}

#[test]
fn layout_has_pytorch_names_and_shapes() {
    let layout = layout();
    let got: Vec<(&str, &[usize])> = layout
        .specs
        .iter()
        .map(|s| (s.name.as_str(), s.shape.as_slice()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("0.weight", &[4, 5][..]),
            ("0.bias", &[4][..]),
            ("2.weight", &[3, 4][..]),
            ("2.bias", &[3][..])
        ]
    );
}

#[test]
fn round_trip_is_bit_exact() {
    let layout = layout();
    let flat = sample_flat(&layout);
    let bytes = to_safetensors(&layout, &flat);
    let back = from_safetensors(&layout, &bytes).expect("round trip loads");
    assert_eq!(back.len(), flat.len());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        bits(&back),
        bits(&flat),
        "every element (and the zero padding) survives bit for bit"
    );

    // The file itself is plain safetensors with PyTorch's names, shapes and F32.
    let file = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors");
    let mut names = file
        .names()
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
    names.sort();
    assert_eq!(names, ["0.bias", "0.weight", "2.bias", "2.weight"]);
    for spec in &layout.specs {
        let t = file.tensor(&spec.name).unwrap();
        assert_eq!(t.dtype(), Dtype::F32, "{}", spec.name);
        assert_eq!(t.shape(), spec.shape.as_slice(), "{}", spec.name);
        let values: Vec<u32> = t
            .data()
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(values, bits(layout.tensor(&flat, spec)), "{}", spec.name);
    }

    // Saving is deterministic.
    assert_eq!(to_safetensors(&layout, &flat), bytes);
}

#[test]
fn hand_built_file_with_the_right_tensors_loads() {
    let layout = layout();
    let flat = from_safetensors(&layout, &serialize(&good_tensors())).expect("loads");
    let w2 = layout.get("2.weight").unwrap();
    assert!(layout.tensor(&flat, w2).iter().all(|&v| v == -0.5));
    let b0 = layout.get("0.bias").unwrap();
    assert!(layout.tensor(&flat, b0).iter().all(|&v| v == 0.25));
}

#[test]
fn missing_tensor_is_named() {
    let mut tensors = good_tensors();
    tensors.retain(|t| t.name != "2.bias");
    let err = load_err(&serialize(&tensors));
    match &err {
        CheckpointError::Missing { name, expected } => {
            assert_eq!(name, "2.bias");
            assert_eq!(expected, &[3]);
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    assert_one_line_mentions(&err.to_string(), &["2.bias", "[3]"]);
}

#[test]
fn wrong_shape_names_tensor_and_both_shapes() {
    let mut tensors = good_tensors();
    tensors[0] = filled("0.weight", &[5, 4], 0.5); // transposed: [in, out] instead of [out, in]
    let err = load_err(&serialize(&tensors));
    match &err {
        CheckpointError::Shape {
            name,
            found,
            expected,
        } => {
            assert_eq!(name, "0.weight");
            assert_eq!(found, &[5, 4]);
            assert_eq!(expected, &[4, 5]);
        }
        other => panic!("expected Shape, got {other:?}"),
    }
    assert_one_line_mentions(&err.to_string(), &["0.weight", "[5, 4]", "[4, 5]"]);

    // Same element count but a different rank is also a shape error.
    let mut tensors = good_tensors();
    tensors[2] = filled("2.weight", &[12], 0.5);
    let err = load_err(&serialize(&tensors));
    assert!(matches!(err, CheckpointError::Shape { .. }), "{err:?}");
    assert_one_line_mentions(&err.to_string(), &["2.weight", "[12]", "[3, 4]"]);
}

#[test]
fn f64_tensor_is_a_dtype_error() {
    let mut tensors = good_tensors();
    tensors[1] = Raw {
        name: "0.bias",
        dtype: Dtype::F64,
        shape: vec![4],
        bytes: [0.25f64; 4].iter().flat_map(|v| v.to_le_bytes()).collect(),
    };
    let err = load_err(&serialize(&tensors));
    match &err {
        CheckpointError::Dtype { name, dtype } => {
            assert_eq!(name, "0.bias");
            assert_eq!(dtype, "F64");
        }
        other => panic!("expected Dtype, got {other:?}"),
    }
    assert_one_line_mentions(&err.to_string(), &["0.bias", "F64", "F32"]);
}

#[test]
fn extra_tensor_is_rejected() {
    let mut tensors = good_tensors();
    tensors.push(filled("4.weight", &[2, 3], 0.0));
    let err = load_err(&serialize(&tensors));
    match &err {
        CheckpointError::Unexpected { name } => assert_eq!(name, "4.weight"),
        other => panic!("expected Unexpected, got {other:?}"),
    }
    assert_one_line_mentions(&err.to_string(), &["4.weight", "unexpected"]);
}

#[test]
fn non_finite_values_are_rejected_with_their_index() {
    for (bad, label) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "+inf"),
        (f32::NEG_INFINITY, "-inf"),
    ] {
        let mut tensors = good_tensors();
        let mut values = vec![-0.5f32; 12];
        values[7] = bad;
        tensors[2] = f32_tensor("2.weight", &[3, 4], &values);
        let err = load_err(&serialize(&tensors));
        match &err {
            CheckpointError::NonFinite { name, index } => {
                assert_eq!(name, "2.weight", "{label}");
                assert_eq!(*index, 7, "{label}");
            }
            other => panic!("{label}: expected NonFinite, got {other:?}"),
        }
        assert_one_line_mentions(&err.to_string(), &["2.weight", "non-finite", "7"]);
    }
}

#[test]
fn garbage_and_truncated_bytes_are_format_errors() {
    let good = to_safetensors(&layout(), &sample_flat(&layout()));
    let mut garbage: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    // A header length that claims more bytes than the file has.
    garbage[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let mut small_header = 16u64.to_le_bytes().to_vec();
    small_header.extend_from_slice(b"{not json at all");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("three bytes", vec![1, 2, 3]),
        ("garbage", garbage),
        ("header is not JSON", small_header),
        ("cut inside the header", good[..20].to_vec()),
        ("cut inside the data", good[..good.len() - 5].to_vec()),
        ("one byte short", good[..good.len() - 1].to_vec()),
    ];
    for (label, bytes) in cases {
        let err = load_err(&bytes);
        assert!(
            matches!(err, CheckpointError::Format(_)),
            "{label}: expected Format, got {err:?}"
        );
        assert_one_line_mentions(&err.to_string(), &["safetensors"]);
    }
}

// ---------------------------------------------------------------------------------------------
// write_atomically

/// A fresh, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "samlab-checkpoint-test-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn assert_no_temp_files(dir: &Path) {
    let leftovers: Vec<String> = entries(dir)
        .into_iter()
        .filter(|n| n.ends_with(".tmp") || n.contains(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left in {}: {leftovers:?}",
        dir.display()
    );
}

#[test]
fn write_atomically_writes_and_replaces_without_leftovers() {
    let tmp = TempDir::new("write");
    let path = tmp.0.join("weights.safetensors");
    let bytes = to_safetensors(&layout(), &sample_flat(&layout()));
    write_atomically(&path, &bytes).expect("write");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(entries(&tmp.0), ["weights.safetensors"]);

    // Overwriting replaces the whole file (a shorter payload leaves no tail of the old one).
    write_atomically(&path, b"short").expect("overwrite");
    assert_eq!(std::fs::read(&path).unwrap(), b"short");
    assert_eq!(entries(&tmp.0), ["weights.safetensors"]);
    assert_no_temp_files(&tmp.0);
}

#[test]
fn write_atomically_into_a_missing_directory_fails_cleanly() {
    let tmp = TempDir::new("missing");
    let path = tmp.0.join("no-such-dir").join("weights.safetensors");
    let err = write_atomically(&path, b"data").expect_err("the directory does not exist");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    assert!(!path.exists());
    assert!(
        !tmp.0.join("no-such-dir").exists(),
        "must not create the directory"
    );
    assert!(
        entries(&tmp.0).is_empty(),
        "nothing may be left behind: {:?}",
        entries(&tmp.0)
    );
}

#[test]
fn write_atomically_onto_a_directory_fails_and_removes_its_temp_file() {
    let tmp = TempDir::new("onto-dir");
    let target = tmp.0.join("taken");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap(); // non-empty, so rename cannot replace it
    let err = write_atomically(&target, b"data");
    assert!(err.is_err(), "writing over a directory must fail");
    assert!(target.is_dir(), "the directory stays as it was");
    assert_eq!(entries(&target), ["keep"]);
    assert_no_temp_files(&tmp.0);
    assert_eq!(entries(&tmp.0), ["taken"]);
}
