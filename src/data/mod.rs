//! Data sets: IDX (MNIST-format) files, host-side splits with label noise, and the GPU copy that
//! batches are gathered from by a kernel (nothing but a cursor crosses to the GPU per step).

mod gpu_split;
pub mod idx;

pub use gpu_split::{Batch, GpuSplit};

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
    /// Per-pixel normalisation (x/255 − mean)/std, the usual values for the set.
    pub mean: f32,
    pub std: f32,
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
}

/// Normalisation constants for the sets we know (PyTorch/torchvision convention); others get
/// their own statistics computed from the training split.
pub fn normalisation(name: &str, train: &Split) -> (f32, f32) {
    match name {
        "mnist" => (0.1307, 0.3081),
        "fashion-mnist" => (0.2860, 0.3530),
        _ => {
            let n = train.pixels.len().max(1) as f64;
            let mean = train.pixels.iter().map(|&p| p as f64 / 255.0).sum::<f64>() / n;
            let var = train
                .pixels
                .iter()
                .map(|&p| (p as f64 / 255.0 - mean).powi(2))
                .sum::<f64>()
                / n;
            (mean as f32, var.sqrt().max(1e-3) as f32)
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
        let train = Split::from_idx(train_images, train_labels);
        let test = Split::from_idx(test_images, test_labels);
        let (mean, std) = normalisation(name, &train);
        Ok(Dataset {
            name: name.to_string(),
            train,
            test,
            classes: classes as usize,
            mean,
            std,
        })
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
