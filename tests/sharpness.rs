//! The sharpness instruments (src/sharpness) against exact Hessians from JAX
//! (tests/golden/hessian.json, `python3 tests/golden/make_hessian_fixtures.py`): finite-difference
//! Hessian-vector products, λ_max and the top eigenvalues by power iteration, the trace (exactly
//! through the unit vectors, and by Hutchinson within its error), worst-case sharpness and linear
//! interpolation; filter normalisation; and a trained SAM model flatter than SGD from the same start.
#![cfg(not(target_arch = "wasm32"))] // native suite

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{block_on, gpu};
use samlab::data::{Batch, Dataset};
use samlab::gpu::{Gpu, Plan};
use samlab::nn::Model;
use samlab::optim::{OptimizerConfig, OptimizerKind};
use samlab::sam::{SamConfig, SamKind};
use samlab::sharpness::{PowerIteration, Probe};
use samlab::train::{TrainConfig, Trainer};
use serde_json::Value;

const FIXTURE: &str = include_str!("golden/hessian.json");

fn floats(v: &Value) -> Vec<f64> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// A fixture model: the model, its flat weights (our padded layout) and a probe over its batch.
struct Case {
    name: String,
    model: Model,
    flat: Vec<f32>,
    entry: Value,
}

fn cases() -> Vec<Case> {
    let fixture: Value = serde_json::from_str(FIXTURE).expect("hessian.json parses");
    fixture["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let sizes: Vec<usize> = entry["sizes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .collect();
            let model = Model::mlp(&sizes);
            let flat = to_flat(&model, &entry["params"]);
            Case {
                name: entry["name"].as_str().unwrap().to_string(),
                model,
                flat,
                entry: entry.clone(),
            }
        })
        .collect()
}

/// Tensors by name → the model's flat layout (padding zero).
fn to_flat(model: &Model, tensors: &Value) -> Vec<f32> {
    let mut flat = vec![0.0f32; model.layout.total_len];
    for spec in &model.layout.specs {
        let data = floats(&tensors[&spec.name]);
        assert_eq!(data.len(), spec.len(), "{}", spec.name);
        for (dst, v) in flat[spec.offset..].iter_mut().zip(data) {
            *dst = v as f32;
        }
    }
    flat
}

/// The flat layout → the concatenation of the tensors (the fixture's parameter vector).
fn unpad(model: &Model, flat: &[f32]) -> Vec<f64> {
    model
        .layout
        .specs
        .iter()
        .flat_map(|s| flat[s.offset..s.offset + s.len()].iter().map(|&v| v as f64))
        .collect()
}

fn probe(gpu: &Arc<Gpu>, case: &Case) -> Probe {
    let batch = &case.entry["batch"];
    let x: Vec<f32> = floats(&batch["x"]).iter().map(|&v| v as f32).collect();
    let y: Vec<u32> = batch["y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let batch = Batch {
        x: gpu.upload(&x),
        labels: gpu.upload(&y),
        rows: y.len(),
    };
    let weights = gpu.upload(&case.flat);
    let state = gpu.upload(&case.model.init_state());
    Probe::new(gpu, &case.model, &weights, &state, batch, &Plan::new())
}

fn relative(got: &[f64], want: &[f64]) -> f64 {
    let diff: f64 = got.iter().zip(want).map(|(a, b)| (a - b).powi(2)).sum();
    let norm: f64 = want.iter().map(|b| b * b).sum();
    (diff / norm).sqrt()
}

fn number(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("fixture lacks {key}"))
}

#[test]
fn loss_and_hessian_vector_products_match_the_exact_ones() {
    let gpu = gpu();
    for case in cases() {
        let mut probe = probe(&gpu, &case);
        let at = block_on(probe.loss()).unwrap();
        let want = number(&case.entry, "loss");
        assert!(
            (at.loss - want).abs() <= 1e-5 * want,
            "{}: loss {} vs {want}",
            case.name,
            at.loss
        );
        let h = block_on(probe.use_default_step()).unwrap();
        for (i, hvp) in case.entry["hvp"].as_array().unwrap().iter().enumerate() {
            let v = to_flat(&case.model, &hvp["v"]);
            let got = block_on(probe.hvp(&v)).unwrap();
            let want = unpad(&case.model, &to_flat(&case.model, &hvp["hv"]));
            let error = relative(&unpad(&case.model, &got), &want);
            println!(
                "{} HVP {i}: relative error {error:.2e} (h = {h:.2e})",
                case.name
            );
            assert!(
                error <= 1e-3,
                "{} HVP {i}: relative error {error:.2e}",
                case.name
            );
        }
    }
}

#[test]
fn power_iteration_finds_the_top_eigenvalues() {
    let gpu = gpu();
    for case in cases() {
        let mut probe = probe(&gpu, &case);
        let want: Vec<f64> = case.entry["eigenvalues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        // The MLP's λ2 < 0 and |λ2| is within 0.3% of λ3: deflation cannot order them, so only its
        // λ1 is checked (the fixture script prints the gaps).
        let top = if case.name == "mlp" { 1 } else { 2 };
        let found = block_on(probe.top_eigenvalues(&PowerIteration {
            top,
            max_iterations: 300,
            tolerance: 1e-7,
            seed: 3,
        }))
        .unwrap();
        for (k, (got, want)) in found.iter().zip(&want).enumerate() {
            println!(
                "{} λ_{}: {:.6} vs exact {want:.6} after {} iterations",
                case.name,
                k + 1,
                got.value,
                got.iterations
            );
            assert!(
                (got.value - want).abs() <= 2e-3 * want.abs(),
                "{} λ_{}: {} vs exact {want}",
                case.name,
                k + 1,
                got.value
            );
        }
    }
}

#[test]
fn trace_is_exact_through_unit_vectors_and_hutchinson_is_within_its_error() {
    let gpu = gpu();
    for case in cases() {
        let mut probe = probe(&gpu, &case);
        let want = number(&case.entry, "trace");
        if case.model.layout.parameter_count() <= 64 {
            // tr(H) = Σ_i (H e_i)_i through the same finite-difference products.
            let mut trace = 0.0;
            for spec in &case.model.layout.specs {
                for j in 0..spec.len() {
                    let mut e = vec![0.0f32; case.model.layout.total_len];
                    e[spec.offset + j] = 1.0;
                    trace += block_on(probe.hvp(&e)).unwrap()[spec.offset + j] as f64;
                }
            }
            assert!(
                (trace - want).abs() <= 1e-3 * want.abs(),
                "{}: Σ (H e_i)_i = {trace} vs exact {want}",
                case.name
            );
        }
        let estimate = block_on(probe.hessian_trace(400, 5)).unwrap();
        println!(
            "{}: Hutchinson {:.5} ± {:.5} vs exact {want:.5}",
            case.name, estimate.value, estimate.std_error
        );
        assert!(estimate.std_error > 0.0);
        assert!(
            (estimate.value - want).abs() <= 3.0 * estimate.std_error,
            "{}: Hutchinson {} ± {} vs exact {want}",
            case.name,
            estimate.value,
            estimate.std_error
        );
    }
}

#[test]
fn worst_case_sharpness_and_interpolation_match_the_reference() {
    let gpu = gpu();
    for case in cases() {
        let mut probe = probe(&gpu, &case);
        for item in case.entry["worst_case"].as_array().unwrap() {
            let rho = number(item, "rho");
            let steps = number(item, "steps") as u32;
            let eta = item.get("eta").and_then(Value::as_f64);
            let (got, _) = block_on(probe.worst_case_sharpness(rho, steps, eta)).unwrap();
            let want = number(item, "sharpness");
            assert!(
                (got - want).abs() <= 1e-3 * want.abs() + 1e-6,
                "{}: ρ {rho}, {steps} steps, η {eta:?}: sharpness {got} vs {want}",
                case.name
            );
        }
        let interpolation = &case.entry["interpolation"];
        let other = to_flat(&case.model, &interpolation["other"]);
        let points = interpolation["points"].as_array().unwrap();
        let ts: Vec<f64> = points.iter().map(|p| number(p, "t")).collect();
        let got = block_on(probe.interpolate(&other, &ts)).unwrap();
        for (p, g) in points.iter().zip(&got) {
            let want = number(p, "loss");
            assert!(
                (g.loss - want).abs() <= 1e-4 * want.abs().max(1.0),
                "{} t = {}: loss {} vs {want}",
                case.name,
                number(p, "t"),
                g.loss
            );
            assert!((g.accuracy - number(p, "accuracy")).abs() < 1e-9);
        }
    }
}

#[test]
fn filter_normalised_directions_match_each_rows_weight_norm() {
    let gpu = gpu();
    let case = cases().pop().expect("the MLP case");
    let mut probe = probe(&gpu, &case);
    let d = block_on(probe.direction(9, 0)).unwrap();
    let other = block_on(probe.direction(9, 1)).unwrap();
    assert_ne!(d, other, "two draws differ");
    for spec in &case.model.layout.specs {
        let range = spec.offset..spec.offset + spec.len();
        if spec.shape.len() < 2 {
            assert!(
                d[range].iter().all(|&v| v == 0.0),
                "{} is not perturbed",
                spec.name
            );
            continue;
        }
        let row = spec.len() / spec.shape[0];
        for r in 0..spec.shape[0] {
            let at = spec.offset + r * row;
            let norm = |v: &[f32]| v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
            let (dn, wn) = (norm(&d[at..at + row]), norm(&case.flat[at..at + row]));
            assert!(
                (dn - wn).abs() <= 1e-5 * wn,
                "{} row {r}: direction norm {dn} vs weight norm {wn}",
                spec.name
            );
        }
    }
}

fn embedded_mnist() -> Dataset {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    Dataset::load_idx_dir("mnist", &dir).unwrap_or_else(|e| {
        panic!("embedded MNIST missing or unreadable ({e}); run `npm run setup` first")
    })
}

/// SGD and SAM from the same initial weights and batch order on the embedded MNIST: SAM ends with
/// a smaller λ_max on the same fixed batch (Foret et al. report several times flatter at
/// convergence). One seed's SGD λ_max moves by ±20% with any change in the kernels' summation order
/// (seed 1 went from 2.80 to 2.43 with the subgroup matmul), so the test compares the means of two
/// seeds (`samlab reproduce curvature`: SGD 5.13 ± 0.86, SAM 3.07 ± 0.13 over three seeds).
#[test]
fn sam_ends_flatter_than_sgd_from_the_same_start() {
    let gpu = gpu();
    let dataset = embedded_mnist();
    let lambda = |kind: SamKind, seed: u64| {
        let config = TrainConfig {
            hidden: vec![128],
            optimizer: OptimizerConfig {
                kind: OptimizerKind::Sgd,
                lr: 0.1,
                momentum: 0.9,
                ..OptimizerConfig::default()
            },
            sam: SamConfig {
                rho: Some(0.05),
                ..SamConfig::new(kind)
            },
            batch_size: 64,
            epochs: 3,
            seed,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&gpu, config, &dataset, None).unwrap();
        for _ in 0..trainer.total_steps() {
            trainer.step();
        }
        let accuracy = block_on(trainer.evaluate()).unwrap().accuracy;
        let mut probe = trainer.probe(1000);
        let top = block_on(probe.top_eigenvalues(&PowerIteration {
            max_iterations: 100,
            tolerance: 1e-4,
            ..PowerIteration::default()
        }))
        .unwrap();
        (top[0].value, accuracy)
    };
    let (mut sgd, mut sam) = (0.0, 0.0);
    for seed in [1, 2] {
        let (sgd_seed, sgd_accuracy) = lambda(SamKind::None, seed);
        let (sam_seed, sam_accuracy) = lambda(SamKind::Sam, seed);
        println!("seed {seed}: λ_max SGD {sgd_seed:.3} ({sgd_accuracy:.4}), SAM {sam_seed:.3} ({sam_accuracy:.4})");
        assert!(
            sgd_accuracy > 0.9 && sam_accuracy > 0.9,
            "both runs trained"
        );
        sgd += sgd_seed / 2.0;
        sam += sam_seed / 2.0;
    }
    assert!(
        sam < 0.85 * sgd,
        "SAM's mean λ_max {sam} is not below SGD's {sgd}"
    );
}
