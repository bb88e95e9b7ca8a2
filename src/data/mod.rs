//! Data sets: IDX (MNIST-format) files, host-side splits with label noise, and the GPU copy that
//! batches are gathered from by a kernel (nothing but a cursor crosses to the GPU per step).

pub mod cifar;
mod gpu_split;
pub mod idx;
mod shift;

pub use gpu_split::{Batch, GpuSplit, Normalisation};
pub use shift::{read_pixel_bytes, Shift};

use crate::rng::Rng;

/// One split of a classification data set, as bytes: `count` samples of `features` bytes each.
#[derive(Clone, Debug)]
pub struct Split {
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    pub count: usize,
    pub features: usize,
}

/// A data set with its train and test splits and how to normalise its pixels.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub name: String,
    pub train: Split,
    pub test: Split,
    pub classes: usize,
    /// One sample's shape, channels × height × width (MNIST [1, 28, 28], CIFAR-10 [3, 32, 32]);
    /// pixels are stored channel-major (CHW), as both formats do.
    pub shape: [usize; 3],
    /// Per-channel normalisation (x/255 − mean[c])/std[c].
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Dataset {
    /// The shape and per-channel constants the batch gather needs.
    pub fn normalisation(&self) -> Normalisation {
        Normalisation {
            shape: self.shape,
            mean: self.mean.clone(),
            std: self.std.clone(),
        }
    }

    /// A data set of `shape`-d samples; normalisation constants are the usual ones for the sets
    /// we know and the training split's own per-channel statistics otherwise.
    pub fn new(
        name: &str,
        train: Split,
        test: Split,
        classes: usize,
        shape: [usize; 3],
    ) -> Dataset {
        let (mean, std) = normalisation(name, &train, shape[0]);
        Dataset {
            name: name.to_string(),
            train,
            test,
            classes,
            shape,
            mean,
            std,
        }
    }
}

impl Split {
    pub fn from_idx(images: idx::Images, labels: Vec<u8>) -> Split {
        Split {
            count: images.count,
            features: images.rows * images.cols,
            pixels: images.pixels,
            labels,
        }
    }

    /// Samples `range` (in file order), or a message when the split is shorter.
    pub fn range(&self, range: std::ops::Range<usize>) -> Result<Split, String> {
        if range.start > range.end || range.end > self.count {
            return Err(format!(
                "images {}..{} asked of a split of {}",
                range.start, range.end, self.count
            ));
        }
        let f = self.features;
        Ok(Split {
            pixels: self.pixels[range.start * f..range.end * f].to_vec(),
            labels: self.labels[range.clone()].to_vec(),
            count: range.len(),
            features: f,
        })
    }
}

/// Normalisation constants for the sets we know (PyTorch/torchvision convention); others get
/// their own per-channel statistics computed from the training split (CHW layout).
pub fn normalisation(name: &str, train: &Split, channels: usize) -> (Vec<f32>, Vec<f32>) {
    match name {
        "mnist" => (vec![0.1307], vec![0.3081]),
        "fashion-mnist" => (vec![0.2860], vec![0.3530]),
        _ => {
            let channels = channels.max(1);
            let plane = train.features / channels;
            let mut sums = vec![(0.0f64, 0.0f64, 0usize); channels];
            for sample in train.pixels.chunks_exact(train.features.max(1)) {
                for (c, values) in sample.chunks_exact(plane.max(1)).enumerate() {
                    let entry = &mut sums[c.min(channels - 1)];
                    for &p in values {
                        let v = p as f64 / 255.0;
                        entry.0 += v;
                        entry.1 += v * v;
                        entry.2 += 1;
                    }
                }
            }
            sums.iter()
                .map(|&(sum, squares, n)| {
                    let n = n.max(1) as f64;
                    let mean = sum / n;
                    let var = (squares / n - mean * mean).max(0.0);
                    (mean as f32, var.sqrt().max(1e-3) as f32)
                })
                .unzip()
        }
    }
}

/// Symmetric label noise: exactly round(fraction·n) samples, chosen with `seed`, get a label drawn
/// uniformly from the *other* classes, so `fraction` is the true share of wrong labels. Applied to
/// the training split only.
pub fn with_label_noise(labels: &[u8], fraction: f64, classes: usize, seed: u64) -> Vec<u8> {
    let mut noisy = labels.to_vec();
    if fraction <= 0.0 || classes < 2 {
        return noisy;
    }
    let mut rng = Rng::new(seed, 3);
    let mut indices: Vec<usize> = (0..labels.len()).collect();
    rng.shuffle(&mut indices);
    let flips = (fraction * labels.len() as f64).round() as usize;
    for &i in &indices[..flips.min(labels.len())] {
        let offset = 1 + rng.below(classes as u32 - 1) as u8;
        noisy[i] = ((labels[i] as usize + offset as usize) % classes) as u8;
    }
    noisy
}

#[cfg(not(target_arch = "wasm32"))]
impl Dataset {
    /// Loads `train-*` and `t10k-*` IDX files (plain or .gz) from `dir`.
    pub fn load_idx_dir(name: &str, dir: &std::path::Path) -> Result<Dataset, idx::DataError> {
        let classes = 10u8;
        let (train_images, train_labels) = idx::load_split(dir, "train", classes)?;
        let (test_images, test_labels) = idx::load_split(dir, "t10k", classes)?;
        let shape = [1, train_images.rows, train_images.cols];
        let train = Split::from_idx(train_images, train_labels);
        let test = Split::from_idx(test_images, test_labels);
        Ok(Dataset::new(name, train, test, classes as usize, shape))
    }
}

/// Helpers shared by the parsers' unit tests (native only, like those tests).
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod test_util {
    use super::idx::DataError;

    pub fn err_msg<T: std::fmt::Debug>(r: Result<T, DataError>) -> String {
        r.expect_err("expected an error").to_string()
    }

    /// The message names `word` and fits on one line.
    pub fn assert_contains(msg: &str, word: &str) {
        assert!(
            msg.contains(word),
            "error message {msg:?} should contain {word:?}"
        );
        assert!(
            !msg.contains('\n'),
            "error message should be one line: {msg:?}"
        );
    }

    /// A fresh empty directory under the system temp dir.
    pub fn temp_dir(prefix: &str, name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("samlab-{prefix}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::with_label_noise;

    #[test]
    fn label_noise_flips_exactly_the_fraction_to_other_classes() {
        let labels: Vec<u8> = (0..1000).map(|i| (i % 10) as u8).collect();
        let noisy = with_label_noise(&labels, 0.4, 10, 5);
        let changed = labels.iter().zip(&noisy).filter(|(a, b)| a != b).count();
        assert_eq!(changed, 400);
        assert!(noisy.iter().all(|&l| l < 10));
        assert_eq!(
            noisy,
            with_label_noise(&labels, 0.4, 10, 5),
            "same seed, same noise"
        );
        assert_ne!(noisy, with_label_noise(&labels, 0.4, 10, 6));
        assert_eq!(with_label_noise(&labels, 0.0, 10, 5), labels);
    }
}
