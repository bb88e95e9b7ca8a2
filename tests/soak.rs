//! Soak: 10,000 SAM steps with metrics read every 100 steps, an evaluation every 1,000 and a
//! sharpness probe built and dropped every 2,500: the number of live GPU buffers and their bytes
//! must be the same at every checkpoint after warm-up (docs/reliability.md records the figures).
#![cfg(not(target_arch = "wasm32"))] // native suite

mod common;

use std::path::Path;

use common::{block_on, gpu};
use samlab::data::Dataset;
use samlab::sam::{SamConfig, SamKind};
use samlab::sharpness::PowerIteration;
use samlab::train::{TrainConfig, Trainer};

const STEPS: u64 = 10_000;

#[test]
fn ten_thousand_steps_keep_live_buffers_and_bytes_constant() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let dataset = Dataset::load_idx_dir("mnist", &dir).unwrap_or_else(|e| {
        panic!("embedded MNIST missing or unreadable ({e}); run `npm run setup` first")
    });
    let gpu = gpu();
    let config = TrainConfig {
        hidden: vec![32],
        batch_size: 16,
        epochs: 20, // 500 steps an epoch: reshuffles cross 20 epoch boundaries
        sam: SamConfig {
            rho: Some(0.05),
            ..SamConfig::new(SamKind::Sam)
        },
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&gpu, config, &dataset, None).unwrap();
    assert!(trainer.total_steps() >= STEPS);
    let mut checkpoints = Vec::new();
    let started = std::time::Instant::now();
    for step in 1..=STEPS {
        trainer.step();
        if step % 100 == 0 {
            let metrics = block_on(trainer.take_train_metrics()).unwrap();
            assert!(
                metrics.loss.is_finite(),
                "step {step}: loss {}",
                metrics.loss
            );
        }
        if step % 1000 == 0 {
            block_on(trainer.evaluate()).unwrap();
        }
        if step % 2500 == 0 {
            let mut probe = trainer.probe(256);
            let top = block_on(probe.top_eigenvalues(&PowerIteration {
                max_iterations: 5,
                ..PowerIteration::default()
            }))
            .unwrap();
            assert!(top[0].value.is_finite());
        }
        if step % 1000 == 0 {
            let stats = gpu.pool_stats();
            checkpoints.push((step, stats.live, stats.live_bytes, stats.created));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    for (step, live, bytes, created) in &checkpoints {
        println!("step {step}: {live} live buffers, {bytes} live bytes, {created} created so far");
    }
    println!("{STEPS} steps in {seconds:.1} s");
    // Warm-up: the first evaluation, probe and readbacks create their buffers; from the second
    // checkpoint on nothing may grow.
    let (_, live, bytes, _) = checkpoints[1];
    for &(step, l, b, _) in &checkpoints[1..] {
        assert_eq!(l, live, "step {step}: live buffers changed ({live} → {l})");
        assert_eq!(b, bytes, "step {step}: live bytes changed ({bytes} → {b})");
    }
    // The first probe (step 2,500) creates its buffers; later probes reuse them from the pool.
    let (_, _, _, created) = checkpoints[2];
    for &(step, _, _, c) in &checkpoints[2..] {
        assert_eq!(
            c, created,
            "step {step}: buffers were created after the first probe"
        );
    }
}
