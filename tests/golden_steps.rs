//! Three consecutive training steps of a small MLP for every base optimizer and SAM form, against
//! tests/golden/mlp_steps.json (JAX, float64, davda54/sam and PyTorch optimizer semantics;
//! regenerate with `python3 tests/golden/make_fixtures.py`). Runs the real step engine: the same
//! plan, kernels and SAM loop as training, with the batch uploaded instead of gathered.

mod common;

use common::{block_on, gpu};
use samlab::data::Batch;
use samlab::gpu::Plan;
use samlab::nn::Mlp;
use samlab::optim::{OptimizerConfig, OptimizerKind};
use samlab::sam::{SamConfig, SamKind};
use samlab::train::{StepEngine, TrainConfig};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn config_for(case: &Value) -> TrainConfig {
    let o = &case["optimizer"];
    let kind = match o["kind"].as_str().unwrap() {
        "sgd" => OptimizerKind::Sgd,
        "adam" => OptimizerKind::Adam,
        "adamw" => OptimizerKind::AdamW,
        other => panic!("unknown optimizer {other}"),
    };
    let s = &case["sam"];
    let sam_kind = match s["kind"].as_str().unwrap() {
        "none" => SamKind::None,
        "sam" => SamKind::Sam,
        "asam" => SamKind::Asam,
        "asam_davda54" => SamKind::AsamDavda54,
        other => panic!("unknown sam kind {other}"),
    };
    TrainConfig {
        optimizer: OptimizerConfig {
            kind,
            lr: o["lr"].as_f64().unwrap(),
            momentum: o["momentum"].as_f64().unwrap(),
            nesterov: o["nesterov"].as_bool().unwrap(),
            weight_decay: o["weight_decay"].as_f64().unwrap(),
            beta1: o["betas"][0].as_f64().unwrap(),
            beta2: o["betas"][1].as_f64().unwrap(),
            eps: o["eps"].as_f64().unwrap(),
        },
        sam: SamConfig {
            kind: sam_kind,
            rho: Some(s["rho"].as_f64().unwrap()),
            eta: Some(s["eta"].as_f64().unwrap()),
        },
        label_smoothing: case["label_smoothing"].as_f64().unwrap(),
        ..TrainConfig::default()
    }
}

/// Relative error of a whole tensor, ‖got − want‖ / ‖want‖, plus the worst element.
fn relative_error(got: &[f32], want: &[f64]) -> (f64, f64) {
    let diff: f64 = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).powi(2))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = want.iter().map(|w| w * w).sum::<f64>().sqrt();
    let worst = got
        .iter()
        .zip(want)
        .map(|(&g, &w)| (g as f64 - w).abs())
        .fold(0.0, f64::max);
    (diff / norm.max(1e-30), worst)
}

#[test]
fn three_steps_match_the_reference_for_every_optimizer_and_sam_form() {
    let fixture: Value =
        serde_json::from_str(include_str!("golden/mlp_steps.json")).expect("mlp_steps.json parses");
    let sizes: Vec<usize> = fixture["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let model = Mlp::new(&sizes);
    let mut initial = vec![0.0f32; model.layout.total_len];
    for spec in &model.layout.specs {
        let data = floats(&fixture["init"][&spec.name]);
        assert_eq!(data.len(), spec.len(), "{}", spec.name);
        for (dst, v) in initial[spec.offset..spec.offset + spec.len()]
            .iter_mut()
            .zip(data)
        {
            *dst = v as f32;
        }
    }
    let batches = fixture["batches"].as_array().unwrap();
    let rows = batches[0]["y"].as_array().unwrap().len();
    let gpu = gpu();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 10, "fixture lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = config_for(case);
        let batch = Batch {
            x: gpu.alloc(rows * sizes[0]),
            labels: gpu.alloc(rows),
            rows,
        };
        let mut engine = StepEngine::new(&gpu, &model, &config, &initial, &batch, Plan::new());
        for (t, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let x: Vec<f32> = floats(&batches[t]["x"]).iter().map(|&v| v as f32).collect();
            let y: Vec<u32> = batches[t]["y"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            gpu.queue
                .write_buffer(&batch.x.buffer, 0, bytemuck::cast_slice(&x));
            gpu.queue
                .write_buffer(&batch.labels.buffer, 0, bytemuck::cast_slice(&y));
            engine.step(config.optimizer.lr);

            let stats1 = block_on(gpu.read_f32(&engine.stats1)).unwrap();
            let want_loss = step["loss"].as_f64().unwrap();
            assert!(
                (stats1[0] as f64 - want_loss).abs() <= 1e-5 * want_loss.abs(),
                "{name} step {t}: loss {} vs {want_loss}",
                stats1[0]
            );
            let scalars = block_on(gpu.read_f32(&engine.scalars)).unwrap();
            let grad_norm = (scalars[1] as f64).sqrt();
            let want_norm = step["grad_norm"].as_f64().unwrap();
            assert!(
                (grad_norm - want_norm).abs() <= 1e-5 * want_norm,
                "{name} step {t}: ‖g0‖ {grad_norm} vs {want_norm}"
            );
            if let Some(want_sam_loss) = step["sam_loss"].as_f64() {
                let stats2 = block_on(gpu.read_f32(&engine.stats2)).unwrap();
                assert!(
                    (stats2[0] as f64 - want_sam_loss).abs() <= 1e-5 * want_sam_loss.abs(),
                    "{name} step {t}: L(w+ε) {} vs {want_sam_loss}",
                    stats2[0]
                );
                let cos = scalars[4] as f64 / (grad_norm * (scalars[5] as f64).sqrt());
                let want_cos = step["cos"].as_f64().unwrap();
                assert!(
                    (cos - want_cos).abs() <= 1e-5,
                    "{name} step {t}: cos(g0, g1) {cos} vs {want_cos}"
                );
            }
            let params = block_on(gpu.read_f32(&engine.params)).unwrap();
            for spec in &model.layout.specs {
                let got = &params[spec.offset..spec.offset + spec.len()];
                let want = floats(&step["params"][&spec.name]);
                let (rel, worst) = relative_error(got, &want);
                assert!(rel <= 1e-5, "{name} step {t}: {} differs from the reference: relative error {rel:.2e}, worst element {worst:.2e}", spec.name);
            }
            // Padding between tensors must stay exactly zero through every update.
            let mut covered = vec![false; params.len()];
            for spec in &model.layout.specs {
                covered[spec.offset..spec.offset + spec.len()].fill(true);
            }
            assert!(
                params.iter().zip(&covered).all(|(&p, &c)| c || p == 0.0),
                "{name}: padding changed"
            );
        }
    }
}
