//! Convolutional models end to end on the GPU: LeNet's accuracy on the embedded MNIST, the
//! BatchNorm rule of SAM's extra passes, dropout masks shared by SAM's passes, checkpoints with
//! running statistics, and augmentation on CIFAR-like colour images.
#![cfg(not(target_arch = "wasm32"))] // native suite; the browser suite is tests/web.rs

mod cases;
mod common;

use std::path::Path;

use common::{block_on, gpu};
use samlab::data::{Dataset, Split};
use samlab::nn::ModelKind;
use samlab::optim::{OptimizerConfig, OptimizerKind, Schedule};
use samlab::sam::{SamConfig, SamKind};
use samlab::train::{TrainConfig, Trainer};

fn embedded_mnist() -> Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    Dataset::load_idx_dir("mnist", &dir).unwrap_or_else(|e| {
        panic!("embedded MNIST missing or unreadable ({e}); run `npm run setup` first")
    })
}

/// A CIFAR-like set (3×size×size colour images, 10 classes) whose class sets the brightness of
/// the red plane, so a small network can learn it in a few steps.
fn synthetic_cifar(count: usize, size: usize) -> Dataset {
    let plane = size * size;
    let split = |count: usize, salt: usize| {
        let mut pixels = Vec::with_capacity(count * 3072);
        let mut labels = Vec::with_capacity(count);
        for i in 0..count {
            let label = (i * 7 + salt) % 10;
            labels.push(label as u8);
            for c in 0..3 {
                for p in 0..plane {
                    // Class = brightness of the red plane; the rest is hashed noise, so no
                    // pixel pattern correlates with the label.
                    let base = if c == 0 { 10 + 24 * label } else { 100 };
                    let mut h = ((salt * 1_000_003 + i) * 4099 + c * 1031 + p) as u64;
                    h = (h ^ (h >> 16)).wrapping_mul(0x45d9f3b);
                    h = (h ^ (h >> 16)).wrapping_mul(0x45d9f3b);
                    pixels.push((base as u64 + (h ^ (h >> 16)) % 12) as u8);
                }
            }
        }
        Split {
            pixels,
            labels,
            count,
            features: 3 * plane,
        }
    };
    Dataset::new(
        "synthetic-cifar",
        split(count, 0),
        split(count / 4, 3),
        10,
        [3, size, size],
    )
}

fn cnn(model: ModelKind, sam: SamKind) -> TrainConfig {
    TrainConfig {
        model,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.05,
            momentum: 0.9,
            ..OptimizerConfig::default()
        },
        sam: SamConfig {
            kind: sam,
            rho: Some(0.05),
            ..SamConfig::default()
        },
        batch_size: 32,
        epochs: 1,
        seed: 3,
        ..TrainConfig::default()
    }
}

/// SGD with momentum, lr 0.02, batch 16, cosine decay and label smoothing 0.1, at the default seed
/// 0. The same recipe gives 97.35% (seed 0), 97.10% (seed 1) and 96.95% (seed 3); an independent
/// JAX LeNet with Adam on the same 8,000 digits gets 95.4–96.6% (docs/benchmarks.md), so 97% in
/// 2 epochs is near what this split allows.
#[test]
fn lenet_reaches_97_percent_on_embedded_mnist_in_two_epochs() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    let config = TrainConfig {
        epochs: 2,
        optimizer: OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.02,
            momentum: 0.9,
            ..OptimizerConfig::default()
        },
        schedule: Schedule::parse("cosine").unwrap(),
        batch_size: 16,
        label_smoothing: 0.1,
        seed: 0,
        ..cnn(ModelKind::Lenet, SamKind::None)
    };
    let mut trainer = Trainer::new(&gpu, config, &dataset, None).expect("trainer builds");
    while trainer.step < trainer.total_steps() {
        trainer.step();
    }
    let test = block_on(trainer.evaluate()).unwrap();
    assert_eq!(test.samples, 2000);
    assert!(
        test.accuracy >= 0.97,
        "LeNet test accuracy {:.4} after 2 epochs (goal ≥ 0.97; 0.9735 when written)",
        test.accuracy
    );
}

/// davda54 semantics: BatchNorm's running statistics see each batch once, in the pass at w. One
/// SAM step therefore leaves exactly the statistics one SGD step leaves (same batch, same w), and
/// the SAM pass at w + ε still normalises with its own batch statistics (its gradient differs).
#[test]
fn sam_updates_batch_norm_running_statistics_in_the_first_pass_only() {
    let dataset = synthetic_cifar(64, 16);
    let gpu = gpu();
    let run = |sam: SamKind, steps: usize| {
        let mut trainer = Trainer::new(&gpu, cnn(ModelKind::Resnet8, sam), &dataset, None).unwrap();
        let initial = block_on(trainer.running_statistics()).unwrap();
        for _ in 0..steps {
            trainer.step();
        }
        let after = block_on(trainer.running_statistics()).unwrap();
        let weights = block_on(trainer.weights()).unwrap();
        (initial, after, weights)
    };
    let (initial, after_sgd, weights_sgd) = run(SamKind::None, 1);
    let (_, after_sam, weights_sam) = run(SamKind::Sam, 1);
    assert_ne!(
        initial, after_sgd,
        "a training step must move the running statistics"
    );
    assert_eq!(
        after_sam, after_sgd,
        "SAM's perturbed pass must not update the running statistics"
    );
    assert_ne!(weights_sam, weights_sgd, "SAM's step differs from SGD's");
    // Each update moves the statistics by momentum 0.1 toward the batch's: after two steps they
    // differ from after one (the check above would pass vacuously if nothing ever updated).
    let (_, after_two, _) = run(SamKind::Sam, 2);
    assert_ne!(after_two, after_sam);
}

/// Dropout masks are a function of (seed, step, layer, element): SAM's second pass drops the same
/// units as the first, so SAM with ρ = 0 is exactly its base optimizer even with dropout (unlike
/// davda54/sam, where pass 2 redraws the mask, issue #80).
#[test]
fn sam_with_rho_zero_and_dropout_equals_the_base_optimizer() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    let run = |sam: SamKind, rho: f64| {
        let config = TrainConfig {
            dropout: 0.5,
            sam: SamConfig {
                kind: sam,
                rho: Some(rho),
                ..SamConfig::default()
            },
            ..cnn(ModelKind::TfjsConvnet, sam)
        };
        let mut trainer = Trainer::new(&gpu, config, &dataset, None).unwrap();
        for _ in 0..5 {
            trainer.step();
        }
        block_on(trainer.weights()).unwrap()
    };
    let sgd = run(SamKind::None, 0.05);
    let sam_zero = run(SamKind::Sam, 0.0);
    let sam = run(SamKind::Sam, 0.05);
    assert_eq!(sgd, sam_zero, "ρ = 0 with a shared mask must reproduce SGD");
    assert_ne!(sgd, sam);
    // And dropout is active: without it the weights differ.
    let config = cnn(ModelKind::TfjsConvnet, SamKind::None);
    let mut trainer = Trainer::new(&gpu, config, &dataset, None).unwrap();
    for _ in 0..5 {
        trainer.step();
    }
    assert_ne!(block_on(trainer.weights()).unwrap(), sgd);
}

#[test]
fn batch_norm_checkpoints_carry_running_statistics_and_pytorch_counters() {
    let dataset = synthetic_cifar(64, 16);
    let gpu = gpu();
    let mut trainer =
        Trainer::new(&gpu, cnn(ModelKind::Resnet8, SamKind::Sam), &dataset, None).unwrap();
    for _ in 0..2 {
        trainer.step();
    }
    let bytes = block_on(trainer.save_safetensors()).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let counter = file.tensor("layer2.0.bn1.num_batches_tracked").unwrap();
    assert_eq!(counter.dtype(), safetensors::Dtype::I64);
    assert_eq!(i64::from_le_bytes(counter.data().try_into().unwrap()), 2);
    assert_eq!(file.tensor("bn1.running_var").unwrap().shape(), [16]);
    let stats = block_on(trainer.running_statistics()).unwrap();
    let eval = block_on(trainer.evaluate()).unwrap();

    let mut fresh =
        Trainer::new(&gpu, cnn(ModelKind::Resnet8, SamKind::Sam), &dataset, None).unwrap();
    fresh.load_safetensors(&bytes).unwrap();
    assert_eq!(block_on(fresh.running_statistics()).unwrap(), stats);
    let reloaded = block_on(fresh.evaluate()).unwrap();
    assert_eq!(
        reloaded.loss.to_bits(),
        eval.loss.to_bits(),
        "evaluation uses the saved running statistics"
    );
}

#[test]
fn resnet8_learns_augmented_colour_images_and_is_deterministic() {
    let dataset = synthetic_cifar(256, 16);
    let gpu = gpu();
    let config = TrainConfig {
        augment: true,
        epochs: 5,
        ..cnn(ModelKind::Resnet8, SamKind::Sam)
    };
    let run = |settle: bool| {
        let mut trainer = Trainer::new(&gpu, config.clone(), &dataset, None).unwrap();
        let mut losses = Vec::new();
        for _ in 0..config.epochs {
            for _ in 0..trainer.steps_per_epoch {
                trainer.step();
            }
            losses.push(block_on(trainer.take_train_metrics()).unwrap().loss);
        }
        // After 40 fast steps the running statistics (momentum 0.1) still lag the weights, a known
        // BatchNorm effect early in training; let them settle on the final weights before
        // judging evaluation mode.
        let weights = block_on(trainer.weights()).unwrap();
        trainer.set_learning_rate(1e-9).unwrap();
        for _ in 0..if settle { 32 } else { 0 } {
            trainer.step();
        }
        let eval = block_on(trainer.evaluate()).unwrap();
        (weights, eval, losses)
    };
    let (weights, eval, losses) = run(true);
    assert!(
        losses[losses.len() - 1] < 0.7 * losses[0] && eval.accuracy >= 0.5,
        "ResNet-8 should learn the colour classes: train loss per epoch {losses:?}, test accuracy {:.3} (chance 0.1)",
        eval.accuracy
    );
    let (again, _, _) = run(false);
    assert!(
        weights
            .iter()
            .zip(&again)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "augmented runs with the same seed must be bitwise identical"
    );
    let mut other = config.clone();
    other.augment = false;
    let mut trainer = Trainer::new(&gpu, other, &dataset, None).unwrap();
    for _ in 0..3 {
        trainer.step();
    }
    let mut augmented = Trainer::new(&gpu, config, &dataset, None).unwrap();
    for _ in 0..3 {
        augmented.step();
    }
    assert_ne!(
        block_on(trainer.weights()).unwrap(),
        block_on(augmented.weights()).unwrap(),
        "augmentation changes what the network sees"
    );
}

/// SWA over a BatchNorm model: the average gets its own running statistics, recomputed over the
/// training split with an equal weight per batch (PyTorch's `swa_utils.update_bn`). With equal
/// batches covering the split, bn1's running mean is the plain mean of conv1's output over every
/// training image, checked here against a CPU convolution.
#[test]
fn swa_average_gets_batch_norm_statistics_recomputed_over_the_training_split() {
    let dataset = synthetic_cifar(64, 8);
    let gpu = gpu();
    let config = TrainConfig {
        swa_start: Some(0.75),
        batch_size: 16,
        ..cnn(ModelKind::Resnet8, SamKind::Sam)
    };
    let mut trainer = Trainer::new(&gpu, config, &dataset, None).unwrap();
    assert!(block_on(trainer.save_average_safetensors())
        .unwrap()
        .is_none());
    while trainer.step < trainer.total_steps() {
        trainer.step();
    }
    // Only the last of the 4 steps is averaged, so the average is the final weights.
    let average = block_on(trainer.average_weights()).unwrap().unwrap();
    assert_eq!(average, block_on(trainer.weights()).unwrap());
    let stats = block_on(trainer.average_running_statistics())
        .unwrap()
        .expect("a BatchNorm model has statistics for its average");
    let spec = trainer.model.layout.get("conv1.weight").unwrap();
    let filters = &average[spec.offset..spec.offset + spec.len()];
    let x: Vec<f32> = dataset
        .train
        .pixels
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let c = (i / 64) % 3;
            (p as f32 / 255.0 - dataset.mean[c]) / dataset.std[c]
        })
        .collect();
    let (y, [oh, ow]) = cases::cpu_conv2d(&x, filters, [64, 3, 8, 8], [16, 3, 3], 1, 1);
    let plane = oh * ow;
    let mean_spec = trainer.model.state.get("bn1.running_mean").unwrap();
    for c in 0..16 {
        let want: f64 = (0..64)
            .flat_map(|n| y[(n * 16 + c) * plane..(n * 16 + c + 1) * plane].iter())
            .sum::<f64>()
            / (64 * plane) as f64;
        let got = stats[mean_spec.offset + c] as f64;
        assert!(
            (got - want).abs() <= 1e-4 * want.abs().max(1.0),
            "bn1 running mean of channel {c}: {got} vs {want} over the training split"
        );
    }
    // The current weights keep their own (momentum) statistics.
    assert_ne!(block_on(trainer.running_statistics()).unwrap(), stats);
    let eval = block_on(trainer.evaluate_average()).unwrap().unwrap();
    assert!(eval.loss.is_finite() && eval.samples == 16);
    // The average's checkpoint carries the recomputed statistics and loads back.
    let bytes = block_on(trainer.save_average_safetensors())
        .unwrap()
        .unwrap();
    let mut fresh =
        Trainer::new(&gpu, cnn(ModelKind::Resnet8, SamKind::Sam), &dataset, None).unwrap();
    fresh.load_safetensors(&bytes).unwrap();
    let loaded = block_on(fresh.running_statistics()).unwrap();
    assert_eq!(
        &loaded[..trainer.model.state.total_len],
        &stats[..trainer.model.state.total_len]
    );
}

/// SAM's extra passes reuse the first pass's activations and their gradients (the passes run one
/// after another), and the column scratch of every convolution is one shared workspace: a SAM
/// trainer needs only a few flat parameter-sized vectors more than an SGD one, however deep the
/// network or large the batch.
#[test]
fn sam_passes_share_activation_memory() {
    let dataset = synthetic_cifar(128, 16);
    let gpu = gpu();
    let live_bytes = |sam: SamKind| {
        let before = gpu.pool_stats().live_bytes;
        let trainer = Trainer::new(&gpu, cnn(ModelKind::Resnet8, sam), &dataset, None).unwrap();
        let bytes = gpu.pool_stats().live_bytes - before;
        let params = trainer.model.layout.total_len as u64 * 4;
        drop(trainer);
        (bytes, params)
    };
    let (sgd, params) = live_bytes(SamKind::None);
    let (sam, _) = live_bytes(SamKind::Sam);
    let (crsam, _) = live_bytes(SamKind::CrSam);
    // The activations of one ResNet-8 pass at batch 32 on 16×16 images are several MB; the flat
    // vectors are 0.3 MB each.
    assert!(
        sam <= sgd + 4 * params,
        "SAM holds {sam} bytes vs SGD {sgd} (parameters {params} bytes): its second pass must reuse the first's scratch"
    );
    assert!(
        crsam <= sam + 2 * params,
        "CR-SAM's third pass: {crsam} vs SAM {sam}"
    );
}
