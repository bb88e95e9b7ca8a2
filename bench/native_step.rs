//! Native step-time benchmark: the MLP 784-256-256-10 at batch 128 on the embedded MNIST with
//! momentum SGD and with every SAM variant at its defaults, measured side by side in one process, rounds interleaved
//! so machine noise hits every configuration alike. Prints one JSON line per configuration and the
//! ratios. Run: `npm run bench:native` (or `cargo run --release --example native_step`).
//!
//! `-- convnet` instead times the tfjs-examples MNIST convnet (conv5×5×8, pool, conv5×5×16, pool,
//! dense 10) at batch 64 with momentum SGD and SAM, the configuration docs/anchors.md measured
//! for TF.js (`npm run bench:native -- convnet`). `-- resnet8` times ResNet-8 at batch 128 on
//! CIFAR-10-shaped data (3×32×32; random pixels, since the timing does not depend on them).

use std::path::Path;
use std::time::Instant;

use samlab::data::{Dataset, Split};
use samlab::gpu::Gpu;
use samlab::nn::ModelKind;
use samlab::sam::{SamConfig, SamKind};
use samlab::train::{TrainConfig, Trainer};

const WARM_UP_STEPS: usize = 5;
const STEPS_PER_ROUND: usize = 20;
const ROUNDS: usize = 7;
/// ResNet-8 steps take seconds on a CPU adapter: fewer per round.
const RESNET_STEPS_PER_ROUND: usize = 3;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() -> Result<(), String> {
    std::env::set_var(
        "XDG_RUNTIME_DIR",
        std::env::var_os("XDG_RUNTIME_DIR").unwrap_or_else(|| std::env::temp_dir().into()),
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    let dataset =
        Dataset::load_idx_dir("mnist", &dir).map_err(|e| format!("{e} (run `npm run setup`)"))?;
    let gpu = pollster::block_on(Gpu::new()).map_err(|e| e.to_string())?;
    let convnet = std::env::args().any(|a| a == "convnet");
    let resnet = std::env::args().any(|a| a == "resnet8");
    let (model, model_name, batch) = if convnet {
        (ModelKind::TfjsConvnet, "tfjs-convnet", 64)
    } else if resnet {
        (ModelKind::Resnet8, "resnet8", 128)
    } else {
        (ModelKind::Mlp, "mlp", 128)
    };
    let dataset = if resnet {
        let split = |count: usize| Split {
            pixels: (0..count * 3072).map(|i| (i * 7919 % 251) as u8).collect(),
            labels: (0..count).map(|i| (i % 10) as u8).collect(),
            count,
            features: 3072,
        };
        Dataset::new("cifar-shaped", split(2560), split(500), 10, [3, 32, 32])
    } else {
        dataset
    };
    let all = [
        ("sgd", SamKind::None),
        ("sam", SamKind::Sam),
        ("asam", SamKind::Asam),
        ("gsam", SamKind::Gsam),
        ("fsam", SamKind::Fsam),
        ("looksam", SamKind::LookSam),
        ("s2sam", SamKind::S2Sam),
        ("crsam", SamKind::CrSam),
        ("sam-linf", SamKind::SamLinf),
        ("msam", SamKind::Msam),
        ("nstep", SamKind::NStep),
        ("ssam", SamKind::Ssam),
        ("ssam-d", SamKind::SsamD),
        ("esam", SamKind::Esam),
        ("rsam", SamKind::Rsam),
        ("mup2", SamKind::Mup2),
    ];
    let steps_per_round = if resnet {
        RESNET_STEPS_PER_ROUND
    } else {
        STEPS_PER_ROUND
    };
    let configs = if convnet || resnet {
        &all[..2]
    } else {
        &all[..]
    };
    let mut trainers = Vec::new();
    for &(_, kind) in configs {
        let config = TrainConfig {
            model,
            batch_size: batch,
            sam: SamConfig {
                kind,
                rho: None,
                eta: None,
                ..SamConfig::default()
            },
            epochs: 1000, // never reached: the benchmark stops on its own
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&gpu, config, &dataset, None).map_err(|e| e.to_string())?;
        for _ in 0..WARM_UP_STEPS {
            trainer.step();
        }
        pollster::block_on(trainer.take_train_metrics()).map_err(|e| e.to_string())?;
        trainers.push(trainer);
    }
    let mut timings = vec![Vec::new(); configs.len()];
    for _ in 0..ROUNDS {
        for (trainer, times) in trainers.iter_mut().zip(&mut timings) {
            let start = Instant::now();
            for _ in 0..steps_per_round {
                trainer.step();
            }
            // Waits for the queue: the read is ordered after every step just submitted.
            pollster::block_on(trainer.take_train_metrics()).map_err(|e| e.to_string())?;
            times.push(start.elapsed().as_secs_f64() * 1000.0 / steps_per_round as f64);
        }
    }
    let adapter = gpu.adapter_name();
    let mut medians = Vec::new();
    for ((name, _), times) in configs.iter().zip(&mut timings) {
        let ms = median(times);
        medians.push(ms);
        let line = serde_json::json!({
            "system": "samlab-native", "model": model_name, "optimizer": name, "batch": batch,
            "ms_per_step": ms, "samples_per_s": batch as f64 * 1000.0 / ms, "adapter": adapter,
        });
        println!("{line}");
    }
    println!("step time relative to momentum SGD (medians of {ROUNDS} interleaved rounds of {steps_per_round} steps):");
    for ((name, _), ms) in configs.iter().zip(&medians).skip(1) {
        let goal = match *name {
            "sam" => " (goal ≤ 2.05)",
            "msam" | "s2sam" => " (goal ≤ 1.1)",
            "looksam" => " (k = 5, goal ≤ 1.3)",
            _ => "",
        };
        println!("  {name:>9}/sgd = {:.2}{goal}", ms / medians[0]);
    }
    Ok(())
}
