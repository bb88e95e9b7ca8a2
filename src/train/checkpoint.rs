//! Weights as safetensors with PyTorch's names and layouts (`0.weight` [out, in], `0.bias` …), so a
//! PyTorch user can `load_state_dict(safetensors.torch.load_file(path))` and the reverse.

use crate::nn::ParamLayout;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a readable safetensors file: {0}")]
    Format(String),
    #[error("checkpoint has no tensor {name:?} (the model expects {expected:?}); was it saved from a different model?")]
    Missing { name: String, expected: Vec<usize> },
    #[error("checkpoint tensor {name:?} has shape {found:?} but the model expects {expected:?}; pick the model that wrote it (e.g. matching --hidden widths)")]
    Shape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("checkpoint tensor {name:?} is {dtype}, expected F32")]
    Dtype { name: String, dtype: String },
    #[error("checkpoint tensor {name:?} contains a non-finite value at element {index}")]
    NonFinite { name: String, index: usize },
    #[error("checkpoint has an unexpected tensor {name:?}; it was saved from a different model")]
    Unexpected { name: String },
}

/// Serialises the flat parameter vector `flat` laid out by `layout`.
pub fn to_safetensors(layout: &ParamLayout, flat: &[f32]) -> Vec<u8> {
    to_safetensors_with_counters(layout, flat, &[])
}

/// PyTorch's BatchNorm keeps a `num_batches_tracked` int64 scalar beside its running statistics;
/// checkpoints carry it so `load_state_dict` finds every key. Loading ignores it (we use a fixed
/// momentum, so it changes nothing).
pub const BATCH_COUNTER_SUFFIX: &str = ".num_batches_tracked";

/// Like `to_safetensors`, plus int64 scalars `counters` (name, value).
pub fn to_safetensors_with_counters(
    layout: &ParamLayout,
    flat: &[f32],
    counters: &[(String, i64)],
) -> Vec<u8> {
    let tensors: Vec<(String, Vec<u8>, Vec<usize>)> = layout
        .specs
        .iter()
        .map(|spec| {
            (
                spec.name.clone(),
                bytemuck::cast_slice(layout.tensor(flat, spec)).to_vec(),
                spec.shape.clone(),
            )
        })
        .collect();
    let counter_bytes: Vec<(String, Vec<u8>)> = counters
        .iter()
        .map(|(name, value)| (name.clone(), value.to_le_bytes().to_vec()))
        .collect();
    let mut views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(name, bytes, shape)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("shape and byte length agree by construction");
            (name.clone(), view)
        })
        .collect();
    for (name, bytes) in &counter_bytes {
        let view = safetensors::tensor::TensorView::new(safetensors::Dtype::I64, vec![], bytes)
            .expect("one int64 is 8 bytes");
        views.push((name.clone(), view));
    }
    safetensors::serialize(views, None).expect("serialising in-memory f32 tensors cannot fail")
}

/// Reads a checkpoint into a flat vector for `layout`, checking every name, dtype and shape.
pub fn from_safetensors(layout: &ParamLayout, bytes: &[u8]) -> Result<Vec<f32>, CheckpointError> {
    let file = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| CheckpointError::Format(describe_format_error(bytes, e)))?;
    let mut flat = vec![0.0f32; layout.total_len];
    for spec in &layout.specs {
        let tensor = file
            .tensor(&spec.name)
            .map_err(|_| CheckpointError::Missing {
                name: spec.name.clone(),
                expected: spec.shape.clone(),
            })?;
        if tensor.dtype() != safetensors::Dtype::F32 {
            return Err(CheckpointError::Dtype {
                name: spec.name.clone(),
                dtype: format!("{:?}", tensor.dtype()),
            });
        }
        if tensor.shape() != spec.shape.as_slice() {
            return Err(CheckpointError::Shape {
                name: spec.name.clone(),
                found: tensor.shape().to_vec(),
                expected: spec.shape.clone(),
            });
        }
        let target = &mut flat[spec.offset..spec.offset + spec.len()];
        for (i, (chunk, out)) in tensor
            .data()
            .chunks_exact(4)
            .zip(target.iter_mut())
            .enumerate()
        {
            let value = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if !value.is_finite() {
                return Err(CheckpointError::NonFinite {
                    name: spec.name.clone(),
                    index: i,
                });
            }
            *out = value;
        }
    }
    if let Some(extra) = file
        .names()
        .into_iter()
        .find(|name| layout.get(name).is_none() && !name.ends_with(BATCH_COUNTER_SUFFIX))
    {
        return Err(CheckpointError::Unexpected {
            name: extra.to_string(),
        });
    }
    Ok(flat)
}

/// The safetensors crate's terse parse errors ("header too large") as a sentence that says what is
/// wrong with this file. A safetensors file is an 8-byte little-endian header length, that many
/// bytes of JSON header (each tensor's dtype, shape and data offsets), then the tensor data.
fn describe_format_error(bytes: &[u8], e: safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    let header_len = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    let n = header_len.unwrap_or(0);
    match e {
        E::HeaderTooSmall => format!(
            "the file is {} bytes, too short for the 8-byte header length a safetensors file starts with",
            bytes.len()
        ),
        E::HeaderTooLarge => format!(
            "its first 8 bytes give a header length of {n} bytes, more than the 100 MB limit; it is not a safetensors file, or it is corrupt"
        ),
        E::InvalidHeaderLength => format!(
            "its header length ({n} bytes) runs past the end of the {}-byte file; the file is truncated or not a safetensors file",
            bytes.len()
        ),
        E::InvalidHeader(source) => {
            format!("the header is not UTF-8 text ({source}); it is not a safetensors file")
        }
        E::InvalidHeaderDeserialization(source) => {
            format!("the header is not valid safetensors JSON ({source})")
        }
        E::MetadataIncompleteBuffer => {
            let data = (bytes.len() as u64).saturating_sub(8 + n);
            let declared = header_data_len(bytes, n);
            match declared {
                Some(declared) if declared > data => format!(
                    "the header describes {declared} bytes of tensor data but only {data} follow; the file is truncated"
                ),
                Some(declared) => format!(
                    "the header describes {declared} bytes of tensor data but {data} follow; the file has {} bytes too many",
                    data - declared
                ),
                None => format!("the tensor data ({data} bytes) does not match the header"),
            }
        }
        E::InvalidOffset(name) => format!(
            "tensor {name:?} has data offsets that overlap or leave a gap; the file is corrupt"
        ),
        E::TensorInvalidInfo => {
            "a tensor's data offsets do not match its shape and dtype; the file is corrupt".into()
        }
        E::ValidationOverflow => "a tensor's shape is so large that its size overflows".into(),
        other => other.to_string(),
    }
}

/// The end of the tensor data a header of `header_len` bytes declares (the largest data offset).
fn header_data_len(bytes: &[u8], header_len: u64) -> Option<u64> {
    let end = 8usize.checked_add(usize::try_from(header_len).ok()?)?;
    let header: serde_json::Value = serde_json::from_slice(bytes.get(8..end)?).ok()?;
    header
        .as_object()?
        .iter()
        .filter(|(key, _)| *key != "__metadata__")
        .filter_map(|(_, info)| info.get("data_offsets")?.get(1)?.as_u64())
        .max()
        .or(Some(0))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// crash or a full disk never leaves a half-written checkpoint behind.
#[cfg(not(target_arch = "wasm32"))]
pub fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}
