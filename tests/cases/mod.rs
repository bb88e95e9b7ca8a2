//! Test cases shared by the native suite (`cargo test`, lavapipe) and the browser suite
//! (`wasm-pack test --headless --chrome`, SwiftShader), so both adapters are held to the same
//! numbers. Each case is an async function taking the device; asserting panics fail the test.
#![allow(dead_code)]

use std::sync::Arc;

use samlab::autograd::{Graph, TensorId};
use samlab::data::Batch;
use samlab::gpu::{BufView, Gpu, Plan};
use samlab::nn::Model;
use samlab::ops::{self, MatmulLayout};
use samlab::optim::{OptimizerConfig, OptimizerKind};
use samlab::sam::{SamConfig, SamKind};
use samlab::train::{StepEngine, TrainConfig};
use serde_json::Value;

/// Deterministic test data (splitmix64), independent of the crate's own RNG.
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        TestRng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    pub fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.uniform()).collect()
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Asserts |a − b| ≤ atol + rtol·|b| elementwise, naming the first element that differs.
pub fn assert_close(what: &str, got: &[f32], want: &[f64], rtol: f64, atol: f64) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs expected {}",
        got.len(),
        want.len()
    );
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g as f64 - w).abs();
        assert!(
            err <= atol + rtol * w.abs(),
            "{what}: element {i} is {g}, expected {w} (|diff| {err:.3e} > {atol:.1e} + {rtol:.1e}·|expected|)"
        );
    }
}

/// An op under test: records its output from the graph tensors of its float inputs.
pub type BuildOp = dyn Fn(&mut Graph, &[TensorId], &BufView) -> TensorId;

/// Builds `L = Σ op(inputs) ⊙ R` with every float input as a parameter, runs forward + backward
/// once and returns (output, gradients, extra stats buffer read back if any).
pub struct OpRun {
    pub output: Vec<f32>,
    pub grads: Vec<Vec<f32>>,
    pub loss: f32,
}

pub struct OpHarness {
    gpu: Arc<Gpu>,
    pub input_views: Vec<BufView>,
    grad_views: Vec<BufView>,
    output: BufView,
    loss: BufView,
    plan: samlab::autograd::BuiltPlan,
}

impl OpHarness {
    pub fn new(
        gpu: &Arc<Gpu>,
        inputs: &[(Vec<f32>, Vec<usize>)],
        upstream: &[f32],
        labels: &[u32],
        build: &BuildOp,
    ) -> Self {
        let mut g = Graph::new(gpu);
        let mut input_views = Vec::new();
        let mut grad_views = Vec::new();
        let mut ids = Vec::new();
        for (data, shape) in inputs {
            let view = gpu.upload(data);
            let grad = gpu.alloc(data.len());
            ids.push(g.parameter(view.clone(), grad.clone(), shape));
            input_views.push(view);
            grad_views.push(grad);
        }
        let labels = gpu.upload(if labels.is_empty() {
            &[0u32][..]
        } else {
            labels
        });
        let out = build(&mut g, &ids, &labels);
        let out_shape = g.shape(out).to_vec();
        assert_eq!(
            out_shape.iter().product::<usize>(),
            upstream.len(),
            "upstream must match the output size"
        );
        let r = g.input(gpu.upload(upstream), &out_shape);
        let weighted = ops::mul(&mut g, out, r);
        let loss = ops::sum(&mut g, weighted);
        g.backward(loss);
        let output = g.data(out).clone();
        let loss_view = g.data(loss).clone();
        OpHarness {
            gpu: gpu.clone(),
            input_views,
            grad_views,
            output,
            loss: loss_view,
            plan: g.finish(),
        }
    }

    pub async fn run(&self) -> OpRun {
        self.gpu.submit(&[&self.plan.plan]);
        let mut grads = Vec::new();
        for view in &self.grad_views {
            grads.push(self.gpu.read_f32(view).await.unwrap());
        }
        OpRun {
            output: self.gpu.read_f32(&self.output).await.unwrap(),
            grads,
            loss: self.gpu.read_f32(&self.loss).await.unwrap()[0],
        }
    }

    /// L at `inputs` with element `index` of input `which` replaced by `value`.
    pub async fn loss_with(&self, which: usize, index: usize, value: f32, original: f32) -> f32 {
        let view = &self.input_views[which];
        self.gpu.queue.write_buffer(
            &view.buffer,
            view.offset + index as u64 * 4,
            bytemuck::bytes_of(&value),
        );
        let loss = self.run().await.loss;
        self.gpu.queue.write_buffer(
            &view.buffer,
            view.offset + index as u64 * 4,
            bytemuck::bytes_of(&original),
        );
        loss
    }
}

pub fn build_for(op: &str, params: &Value) -> Box<BuildOp> {
    let smoothing = params
        .get("label_smoothing")
        .and_then(Value::as_f64)
        .unwrap_or(0.0) as f32;
    let s = params.get("s").and_then(Value::as_f64).unwrap_or(1.0) as f32;
    match op {
        "matmul" => Box::new(|g, t, _| ops::matmul(g, t[0], t[1], MatmulLayout::NN)),
        "matmul_nt" => Box::new(|g, t, _| ops::matmul(g, t[0], t[1], MatmulLayout::NT)),
        "matmul_tn" => Box::new(|g, t, _| ops::matmul(g, t[0], t[1], MatmulLayout::TN)),
        "bias_add" => Box::new(|g, t, _| ops::bias_add(g, t[0], t[1])),
        "relu" => Box::new(|g, t, _| ops::relu(g, t[0])),
        "add" => Box::new(|g, t, _| ops::add(g, t[0], t[1])),
        "mul" => Box::new(|g, t, _| ops::mul(g, t[0], t[1])),
        "scale" => Box::new(move |g, t, _| ops::scale(g, t[0], s)),
        "sum" => Box::new(|g, t, _| ops::sum(g, t[0])),
        "mean" => Box::new(|g, t, _| ops::mean(g, t[0])),
        "cross_entropy" => {
            Box::new(move |g, t, labels| ops::cross_entropy(g, t[0], labels, smoothing).loss)
        }
        other => panic!("fixture names an op the test does not know: {other}"),
    }
}

pub fn floats(v: &Value) -> Vec<f64> {
    v["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// A fixture tensor's values as f32 (they are f32 values widened to f64 by the script).
pub fn f32s(v: &Value) -> Vec<f32> {
    floats(v).iter().map(|&x| x as f32).collect()
}

/// The named inputs of a fixture case, in `order`, as (values, shape).
pub fn case_inputs(case: &Value, order: &[&str]) -> Vec<(Vec<f32>, Vec<usize>)> {
    order
        .iter()
        .map(|name| {
            let tensor = &case["inputs"][*name];
            (f32s(tensor), shape(tensor))
        })
        .collect()
}

pub fn shape(v: &Value) -> Vec<usize> {
    v["shape"]
        .as_array()
        .expect("shape array")
        .iter()
        .map(|x| x.as_u64().expect("dim") as usize)
        .collect()
}

/// Every op of tests/golden/ops.json, forward and backward, on `gpu`.
pub async fn ops_match_the_jax_fixtures(gpu: &Arc<Gpu>) {
    let fixture: Value =
        serde_json::from_str(include_str!("../golden/ops.json")).expect("ops.json parses");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 15, "fixture lost cases");
    for case in cases {
        let op = case["op"].as_str().unwrap();
        let params = &case["params"];
        let names: Vec<&String> = case["inputs"].as_object().unwrap().keys().collect();
        // Inputs in the order the op takes them.
        let order: Vec<&str> = match op {
            "bias_add" => vec!["x", "b"],
            "relu" => vec!["x"],
            "scale" | "sum" | "mean" => vec!["a"],
            "cross_entropy" => vec!["logits"],
            _ => vec!["a", "b"],
        };
        assert_eq!(
            names.len(),
            order.len(),
            "{op}: unexpected inputs {names:?}"
        );
        let inputs = case_inputs(case, &order);
        let labels: Vec<u32> = params
            .get("labels")
            .and_then(Value::as_array)
            .map(|l| l.iter().map(|x| x.as_u64().unwrap() as u32).collect())
            .unwrap_or_default();
        let upstream = f32s(&case["upstream"]);
        let build = build_for(op, params);
        let harness = OpHarness::new(gpu, &inputs, &upstream, &labels, &*build);
        let run = harness.run().await;
        let what = format!("{op} {:?}", inputs.iter().map(|i| &i.1).collect::<Vec<_>>());
        assert_close(
            &format!("{what} forward"),
            &run.output,
            &floats(&case["output"]),
            1e-5,
            1e-6,
        );
        for (i, name) in order.iter().enumerate() {
            assert_close(
                &format!("{what} d/d{name}"),
                &run.grads[i],
                &floats(&case["grads"][*name]),
                1e-5,
                1e-6,
            );
        }
        if let Some(correct) = params.get("correct").and_then(Value::as_u64) {
            // The loss op also counts argmax hits; read them from its statistics buffer.
            let mut g = Graph::new(gpu);
            let logits = g.input(harness.input_views[0].clone(), &inputs[0].1);
            let labels_view = gpu.upload(&labels);
            let ce = ops::cross_entropy(&mut g, logits, &labels_view, 0.0);
            let stats = ce.stats.clone();
            let plan = g.finish();
            gpu.submit(&[&plan.plan]);
            let stats = gpu.read_f32(&stats).await.unwrap();
            assert_eq!(stats[1] as u64, correct, "{what}: correct count");
            assert_eq!(stats[2] as usize, labels.len(), "{what}: valid rows");
        }
    }
}

/// CPU reference for C = op(A)·op(B) in f64.
pub fn cpu_matmul(
    a: &[f32],
    b: &[f32],
    m: usize,
    n: usize,
    k: usize,
    layout: MatmulLayout,
) -> Vec<f64> {
    let a_at = |i: usize, p: usize| if layout == MatmulLayout::TN { a[p * m + i] } else { a[i * k + p] } as f64;
    let b_at = |p: usize, j: usize| if layout == MatmulLayout::NT { b[j * k + p] } else { b[p * n + j] } as f64;
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a_at(i, p) * b_at(p, j)).sum();
        }
    }
    c
}

/// All three matmul layouts on shapes straddling the register tile and the workgroup.
pub async fn matmul_matches_cpu_reference_on_awkward_shapes(gpu: &Arc<Gpu>) {
    let mut rng = TestRng::new(11);
    // Shapes straddling the 4×4 register tile and the 8×8 workgroup (32×32 block), vec4 and scalar paths.
    let shapes = [
        (1, 1, 1),
        (3, 5, 7),
        (33, 31, 29),
        (64, 12, 40),
        (37, 64, 8),
        (128, 10, 256),
        (5, 130, 3),
    ];
    for &(m, n, k) in &shapes {
        for layout in [MatmulLayout::NN, MatmulLayout::NT, MatmulLayout::TN] {
            let a = rng.vec(m * k);
            let b = rng.vec(k * n);
            let (sa, sb) = match layout {
                MatmulLayout::NN => (vec![m, k], vec![k, n]),
                MatmulLayout::NT => (vec![m, k], vec![n, k]),
                MatmulLayout::TN => (vec![k, m], vec![k, n]),
            };
            let upstream = rng.vec(m * n);
            let harness = OpHarness::new(
                gpu,
                &[(a.clone(), sa), (b.clone(), sb)],
                &upstream,
                &[],
                &move |g, t, _| ops::matmul(g, t[0], t[1], layout),
            );
            let run = harness.run().await;
            let what = format!("matmul {layout:?} m={m} n={n} k={k}");
            assert_close(
                &what,
                &run.output,
                &cpu_matmul(&a, &b, m, n, k, layout),
                1e-4,
                1e-5,
            );
            // dA and dB by the same CPU routine: L = Σ C ⊙ R.
            let r: Vec<f32> = upstream.clone();
            let (da, db) = match layout {
                MatmulLayout::NN => (
                    cpu_matmul(&r, &b, m, k, n, MatmulLayout::NT),
                    cpu_matmul(&a, &r, k, n, m, MatmulLayout::TN),
                ),
                MatmulLayout::NT => (
                    cpu_matmul(&r, &b, m, k, n, MatmulLayout::NN),
                    cpu_matmul(&r, &a, n, k, m, MatmulLayout::TN),
                ),
                MatmulLayout::TN => (
                    cpu_matmul(&b, &r, k, m, n, MatmulLayout::NT),
                    cpu_matmul(&a, &r, k, n, m, MatmulLayout::NN),
                ),
            };
            assert_close(&format!("{what} dA"), &run.grads[0], &da, 1e-4, 1e-5);
            assert_close(&format!("{what} dB"), &run.grads[1], &db, 1e-4, 1e-5);
        }
    }
}

/// The matmul kernel's tilings (register tiles of 4–32 rows × 4–16 columns, with and without
/// subgroup-shared loads where the adapter has fixed-size subgroups), every layout, on
/// shapes that are not multiples of any tile (1×1, 3×5·5×7, 129×785, …) and batched with B shared
/// and A and C offset (the convolution's use): against the CPU, C overwritten, nothing before it
/// touched.
pub async fn matmul_every_tiling_matches_cpu_reference(gpu: &Arc<Gpu>) {
    use samlab::ops::{tiled_matmul_into, Batch as MatmulBatch, MatmulTiling};
    let mut rng = TestRng::new(12);
    // Every row count (4–32) and column count (4–16) of the kernel's defines, and with subgroups
    // every number of pieces per invocation (1–8 of 8 or 4 lanes) that the choice can reach.
    // (Each tiling is a pipeline to compile; all 24 combinations took minutes on lavapipe.)
    let tile = |rows, cols, subgroup| MatmulTiling {
        rows,
        cols,
        subgroup,
    };
    let mut tilings = vec![
        tile(4, 4, None),
        tile(8, 8, None),
        tile(16, 16, None),
        tile(32, 8, None),
    ];
    if let Some(s) = gpu.fixed_subgroup_size {
        tilings.extend([
            tile(8, 4, Some(s)),
            tile(16, 8, Some(s)),
            tile(32, 16, Some(s)),
        ]);
    }
    // (m, n, k, batch count); a batch shares B (stride 0) and offsets A and C by a base.
    let shapes = [
        (1, 1, 1, 1),
        (3, 7, 5, 1),
        (129, 33, 785, 1),
        (33, 130, 12, 1),
        (17, 9, 25, 3),
    ];
    for &(m, n, k, count) in &shapes {
        for layout in [MatmulLayout::NN, MatmulLayout::NT, MatmulLayout::TN] {
            let (base_a, base_c) = if count > 1 { (4, 8) } else { (0, 0) };
            let a = rng.vec(base_a + count * m * k);
            let b = rng.vec(k * n);
            let c0 = rng.vec(base_c + count * m * n);
            let want: Vec<f64> = (0..count)
                .flat_map(|i| {
                    cpu_matmul(
                        &a[base_a + i * m * k..base_a + (i + 1) * m * k],
                        &b,
                        m,
                        n,
                        k,
                        layout,
                    )
                })
                .collect();
            for &tiling in &tilings {
                let (av, bv, cv) = (gpu.upload(&a), gpu.upload(&b), gpu.upload(&c0));
                let mut g = Graph::new(gpu);
                let batch = MatmulBatch {
                    count,
                    base: [base_a, 0, base_c],
                    stride: [m * k, 0, m * n],
                };
                tiled_matmul_into(&mut g, &av, &bv, &cv, [m, n, k], layout, batch, tiling);
                let plan = g.finish();
                gpu.submit(&[&plan.plan]);
                let got = gpu.read_f32(&cv).await.unwrap();
                let what = format!("matmul {layout:?} m={m} n={n} k={k} ×{count} {tiling:?}");
                assert_eq!(&got[..base_c], &c0[..base_c], "{what}: before C");
                assert_close(&what, &got[base_c..], &want, 1e-4, 1e-5);
            }
        }
    }
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
            ..SamConfig::default()
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

/// Three steps of every case of tests/golden/mlp_steps.json through the real step engine.
pub async fn three_steps_match_the_reference(gpu: &Arc<Gpu>) {
    let fixture: Value = serde_json::from_str(include_str!("../golden/mlp_steps.json"))
        .expect("mlp_steps.json parses");
    let (model, initial, batches) = fixture_setup(&fixture);
    let rows = batches[0].1.len();
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 10, "fixture lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = config_for(case);
        let batch = Batch {
            x: gpu.alloc(rows * model.inputs()),
            labels: gpu.alloc(rows),
            rows,
        };
        let mut engine = StepEngine::new(gpu, &model, &config, &initial, &batch, Plan::new());
        for (t, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let (x, y) = &batches[t];
            gpu.queue
                .write_buffer(&batch.x.buffer, 0, bytemuck::cast_slice(x));
            gpu.queue
                .write_buffer(&batch.labels.buffer, 0, bytemuck::cast_slice(y));
            engine.step(config.optimizer.lr, config.sam.rho(), true, false);

            let stats1 = gpu.read_f32(&engine.stats1).await.unwrap();
            let want_loss = step["loss"].as_f64().unwrap();
            assert!(
                (stats1[0] as f64 - want_loss).abs() <= 1e-5 * want_loss.abs(),
                "{name} step {t}: loss {} vs {want_loss}",
                stats1[0]
            );
            let scalars = gpu.read_f32(&engine.scalars).await.unwrap();
            let grad_norm = (scalars[1] as f64).sqrt();
            let want_norm = step["grad_norm"].as_f64().unwrap();
            assert!(
                (grad_norm - want_norm).abs() <= 1e-5 * want_norm,
                "{name} step {t}: ‖g0‖ {grad_norm} vs {want_norm}"
            );
            if let Some(want_sam_loss) = step["sam_loss"].as_f64() {
                let stats2 = gpu.read_f32(&engine.stats2).await.unwrap();
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
            let params = gpu.read_f32(&engine.params).await.unwrap();
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

/// A host batch: inputs row-major and labels.
type HostBatch = (Vec<f32>, Vec<u32>);

/// The MLP, flat initial weights and batches shared by the step fixtures.
fn fixture_setup(fixture: &Value) -> (Model, Vec<f32>, Vec<HostBatch>) {
    let sizes: Vec<usize> = fixture["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let model = Model::mlp(&sizes);
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
    let batches = fixture["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let x = floats(&b["x"]).iter().map(|&v| v as f32).collect();
            let y = b["y"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            (x, y)
        })
        .collect();
    (model, initial, batches)
}

/// Every tensor of `params` (flat, `model`'s layout) against the fixture tensors `want` (by name)
/// to ≤ 1e-5 relative.
fn assert_params_match(what: &str, model: &Model, params: &[f32], want: &Value) {
    for spec in &model.layout.specs {
        let got = &params[spec.offset..spec.offset + spec.len()];
        let (rel, worst) = relative_error(got, &floats(&want[&spec.name]));
        assert!(
            rel <= 1e-5,
            "{what}: {} relative error {rel:.2e} (worst element {worst:.2e})",
            spec.name
        );
    }
}

/// Writes a host batch into the engine's batch buffers.
fn upload_batch(gpu: &Arc<Gpu>, batch: &Batch, (x, y): &HostBatch) {
    gpu.queue
        .write_buffer(&batch.x.buffer, 0, bytemuck::cast_slice(x));
    gpu.queue
        .write_buffer(&batch.labels.buffer, 0, bytemuck::cast_slice(y));
}

/// Runs `steps` steps of `config` from `initial`, batch t = batches[t mod len]; returns the
/// weights after each step, the loss at w of each step, and the engine's pass count.
async fn run_engine(
    gpu: &Arc<Gpu>,
    model: &Model,
    config: &TrainConfig,
    initial: &[f32],
    batches: &[HostBatch],
    steps: usize,
) -> (Vec<Vec<f32>>, Vec<f32>, f64) {
    let run = run_engine_with_state(gpu, model, config, initial, batches, steps, None).await;
    (run.params, run.losses, run.passes)
}

/// What `run_engine_with_state` saw after each step.
struct EngineRun {
    params: Vec<Vec<f32>>,
    losses: Vec<f32>,
    /// The variant's state vector (masks) after each step.
    states: Vec<Vec<f32>>,
    passes: f64,
}

/// `run_engine` that also reads the variant's state after each step; `total` is the run's number
/// of SAM steps (SSAM-D's schedule).
async fn run_engine_with_state(
    gpu: &Arc<Gpu>,
    model: &Model,
    config: &TrainConfig,
    initial: &[f32],
    batches: &[HostBatch],
    steps: usize,
    total: Option<u64>,
) -> EngineRun {
    let rows = batches[0].1.len();
    let batch = Batch {
        x: gpu.alloc(rows * model.inputs()),
        labels: gpu.alloc(rows),
        rows,
    };
    let mut engine = StepEngine::new(gpu, model, config, initial, &batch, Plan::new());
    engine.sam_steps_total = total;
    let mut run = EngineRun {
        params: Vec::new(),
        losses: Vec::new(),
        states: Vec::new(),
        passes: 0.0,
    };
    for t in 0..steps {
        upload_batch(gpu, &batch, &batches[t % batches.len()]);
        engine.step(config.optimizer.lr, config.sam.rho(), true, false);
        run.losses
            .push(gpu.read_f32(&engine.stats1).await.unwrap()[0]);
        run.params.push(gpu.read_f32(&engine.params).await.unwrap());
        if total.is_some() || config.sam.kind == SamKind::Esam {
            run.states
                .push(gpu.read_f32(&engine.sam_state).await.unwrap());
        }
    }
    run.passes = engine.passes_per_step();
    run
}

fn variant_config(case: &Value) -> Option<TrainConfig> {
    let kind = match case["variant"].as_str().unwrap() {
        "gsam" => SamKind::Gsam,
        "fsam" => SamKind::Fsam,
        "looksam" => SamKind::LookSam,
        "s2sam" => SamKind::S2Sam,
        "crsam" => SamKind::CrSam,
        "sam_linf" => SamKind::SamLinf,
        "msam" => SamKind::Msam,
        "nstep" => SamKind::NStep,
        "msharp" => SamKind::MSharp,
        "sampa" => SamKind::Sampa,
        "ssam" => SamKind::Ssam,
        "ssamd" => SamKind::SsamD,
        "esam" => SamKind::Esam,
        "rsam" => SamKind::Rsam,
        "mup2" => SamKind::Mup2,
        other => panic!("fixture names a variant the test does not know: {other}"),
    };
    let h = &case["hyper"];
    let get = |key: &str| h.get(key).and_then(Value::as_f64);
    let mut config = config_for(&serde_json::json!({
        "optimizer": case["optimizer"],
        "sam": {"kind": "none", "rho": 0.0, "eta": 0.0},
        "label_smoothing": 0.0,
    }));
    config.sam = SamConfig {
        kind,
        rho: get("rho"),
        alpha: get("alpha"),
        sigma: get("sigma"),
        lambda: get("lmbda"),
        k: get("k").map(|k| k as u32),
        gamma: get("gamma"),
        beta: get("beta"),
        n: get("n").map(|n| n as u32),
        m: get("m").map(|m| m as u32),
        sparsity: get("sparsity"),
        fisher_samples: get("num_samples").map(|n| n as u32),
        drop_rate: get("drop_rate"),
        base_width: get("base_width").map(|n| n as u32),
        ..SamConfig::default()
    };
    if let Some(seed) = h.get("seed").and_then(Value::as_u64) {
        config.seed = seed;
    }
    if matches!(kind, SamKind::Ssam | SamKind::SsamD) {
        config.sam.k = get("update_freq").map(|k| k as u32);
    }
    Some(config)
}

/// Four steps of GSAM, F-SAM, LookSAM, S2-SAM, CR-SAM, SAM-L∞, MSAM and n-step SAM (reference and neutral settings)
/// against tests/golden/sam_variants.json; pass counts as the engine reports them.
pub async fn sam_variants_match_the_reference(gpu: &Arc<Gpu>) {
    let fixture: Value = serde_json::from_str(include_str!("../golden/sam_variants.json"))
        .expect("sam_variants.json parses");
    let (model, initial, batches) = fixture_setup(&fixture);
    let mut checked = 0;
    let cases_by_name: std::collections::HashMap<&str, &Value> = fixture["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c))
        .collect();
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let Some(config) = variant_config(case) else {
            continue;
        };
        let steps = case["steps"].as_array().unwrap();
        let (params, losses, passes) =
            run_engine(gpu, &model, &config, &initial, &batches, steps.len()).await;
        let want_passes: Vec<f64> = case["passes_per_step"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect();
        let mean_passes = want_passes.iter().sum::<f64>() / want_passes.len() as f64;
        assert!(
            (passes - mean_passes).abs() < 1e-9,
            "{name}: {passes} passes per step, expected {mean_passes}"
        );
        for (t, step) in steps.iter().enumerate() {
            if !matches!(config.sam.kind, SamKind::S2Sam | SamKind::Msam) {
                // S2-SAM and MSAM never evaluate the loss at the unperturbed weights.
                let want = step["loss"].as_f64().unwrap();
                assert!(
                    (losses[t] as f64 - want).abs() <= 1e-5 * want.abs(),
                    "{name} step {t}: loss {} vs {want}",
                    losses[t]
                );
            }
            for spec in &model.layout.specs {
                let got = &params[t][spec.offset..spec.offset + spec.len()];
                // MSAM's reference stores the perturbed weights; ours keeps w (what evaluation uses).
                let key = if step.get("eval_params").is_some() {
                    "eval_params"
                } else {
                    "params"
                };
                // A neutral case may share another case's stored weights (`params_from`).
                let source = match case.get("params_from").and_then(Value::as_str) {
                    Some(other) => &cases_by_name[other]["steps"][t],
                    None => step,
                };
                let want = floats(&source[key][&spec.name]);
                let (rel, worst) = relative_error(got, &want);
                assert!(
                    rel <= 1e-5,
                    "{name} step {t}: {} relative error {rel:.2e} (worst element {worst:.2e})",
                    spec.name
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 18, "every variant's two cases were checked");
}

/// Each variant at its neutral setting against plain SAM (or the base optimizer) run by the same
/// engine: ≤ 1e-6 relative.
pub async fn neutral_settings_reduce_to_sam_or_the_base_optimizer(gpu: &Arc<Gpu>) {
    let fixture: Value = serde_json::from_str(include_str!("../golden/sam_variants.json"))
        .expect("sam_variants.json parses");
    let (model, initial, batches) = fixture_setup(&fixture);
    for case in fixture["cases"].as_array().unwrap() {
        let Some(reduces_to) = case["reduces_to"].as_object() else {
            continue;
        };
        let Some(config) = variant_config(case) else {
            continue;
        };
        let mut plain = config.clone();
        plain.sam = SamConfig {
            kind: if reduces_to["kind"] == "sam" {
                SamKind::Sam
            } else {
                SamKind::None
            },
            rho: reduces_to["rho"].as_f64(),
            ..SamConfig::default()
        };
        let (got, _, _) = run_engine(gpu, &model, &config, &initial, &batches, 4).await;
        let (want, _, _) = run_engine(gpu, &model, &plain, &initial, &batches, 4).await;
        let want64: Vec<f64> = want[3].iter().map(|&v| v as f64).collect();
        let (rel, worst) = relative_error(&got[3], &want64);
        assert!(
            rel <= 1e-6,
            "{}: differs from {:?} by {rel:.2e} relative (worst {worst:.2e})",
            case["name"],
            reduces_to
        );
    }
}

/// A batch whose rows are all padding has loss 0 and a gradient of exactly zero: every variant
/// must then leave the weights finite and unchanged (ε = 0, never NaN).
pub async fn zero_gradient_gives_no_nan(gpu: &Arc<Gpu>) {
    let fixture: Value = serde_json::from_str(include_str!("../golden/sam_variants.json"))
        .expect("sam_variants.json parses");
    let (model, initial, batches) = fixture_setup(&fixture);
    let padding: Vec<HostBatch> = batches
        .iter()
        .map(|(x, y)| (x.clone(), vec![u32::MAX; y.len()]))
        .collect();
    for kind in [
        SamKind::Sam,
        SamKind::Asam,
        SamKind::AsamDavda54,
        SamKind::Gsam,
        SamKind::Fsam,
        SamKind::LookSam,
        SamKind::S2Sam,
        SamKind::CrSam,
        SamKind::SamLinf,
        SamKind::Msam,
        SamKind::NStep,
        SamKind::MSharp,
        SamKind::Sampa,
        SamKind::Ssam,
        SamKind::SsamD,
        SamKind::Esam,
        SamKind::Rsam,
        SamKind::Mup2,
    ] {
        let mut config = TrainConfig {
            // The fixture's batches have 8 rows: m-sharpness gets 4 sub-batches of 2, SSAM 4
            // Fisher samples.
            sam: SamConfig {
                m: Some(2),
                fisher_samples: Some(4),
                ..SamConfig::new(kind)
            },
            ..TrainConfig::default()
        };
        config.optimizer.lr = 0.1;
        let (params, _, _) = run_engine(gpu, &model, &config, &initial, &padding, 3).await;
        assert!(
            params[2].iter().all(|v| v.is_finite()),
            "{kind:?}: NaN/Inf with a zero gradient"
        );
        assert_eq!(
            params[2], initial,
            "{kind:?}: weights moved with a zero gradient"
        );
    }
}

/// SAMPa against tests/golden/sampa.json: G_a on the previous batch at x + ε, g_y' on the current
/// batch at the look-ahead point, combined with λ (including its lagged-SGD setting ρ = λ = 0).
pub async fn sampa_matches_the_reference(gpu: &Arc<Gpu>) {
    let fixture: Value =
        serde_json::from_str(include_str!("../golden/sampa.json")).expect("sampa.json parses");
    let (model, initial, batches) = fixture_setup(&fixture);
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2, "fixture lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = variant_config(case).expect("sampa is implemented");
        let steps = case["steps"].as_array().unwrap();
        let (params, _, passes) =
            run_engine(gpu, &model, &config, &initial, &batches, steps.len()).await;
        assert_eq!(passes, 2.0, "{name}: two passes per step");
        for (t, step) in steps.iter().enumerate() {
            assert_params_match(
                &format!("{name} step {t}"),
                &model,
                &params[t],
                &step["params"],
            );
        }
    }
}

/// Builds the op of a tests/golden/conv_ops.json case; BatchNorm's running statistics (uploaded
/// from the case) are returned so the caller can check their update.
pub fn build_conv_op(
    op: &str,
    params: &Value,
    gpu: &Arc<Gpu>,
) -> (Box<BuildOp>, Option<ops::RunningStats>) {
    let int = |name: &str| params[name].as_u64().expect("integer parameter") as usize;
    match op {
        "conv2d" => {
            let (stride, pad, bias) = (int("stride"), int("padding"), params["bias"] == true);
            let build = move |g: &mut Graph, t: &[TensorId], _: &BufView| {
                ops::conv2d(g, t[0], t[1], bias.then(|| t[2]), stride, pad)
            };
            (Box::new(build), None)
        }
        "max_pool2d" | "avg_pool2d" => {
            let (k, s, max) = (int("kernel"), int("stride"), op == "max_pool2d");
            let build = move |g: &mut Graph, t: &[TensorId], _: &BufView| {
                if max {
                    ops::max_pool2d(g, t[0], k, s)
                } else {
                    ops::avg_pool2d(g, t[0], k, s)
                }
            };
            (Box::new(build), None)
        }
        "global_avg_pool" => (Box::new(|g, t, _| ops::global_avg_pool(g, t[0])), None),
        "batch_norm" | "batch_norm_eval" => {
            let upload = |name: &str| {
                let values: Vec<f32> = params[name]
                    .as_array()
                    .expect("running statistics")
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
                    .collect();
                gpu.upload(&values)
            };
            let running = ops::RunningStats {
                mean: upload("running_mean"),
                var: upload("running_var"),
                seen: None,
            };
            let mode = if op == "batch_norm" {
                ops::NormMode::Train {
                    update_running: true,
                }
            } else {
                ops::NormMode::Eval
            };
            let stats = running.clone();
            let build = move |g: &mut Graph, t: &[TensorId], _: &BufView| {
                ops::batch_norm(g, t[0], t[1], t[2], &stats, mode)
            };
            (Box::new(build), Some(running))
        }
        other => panic!("conv fixture names an op the test does not know: {other}"),
    }
}

/// Every case of tests/golden/conv_ops.json (conv2d, pooling, BatchNorm train/eval with the
/// running-statistics update), forward and backward, on `gpu`.
pub async fn conv_ops_match_the_jax_fixtures(gpu: &Arc<Gpu>) {
    let fixture: Value = serde_json::from_str(include_str!("../golden/conv_ops.json"))
        .expect("conv_ops.json parses");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 19, "fixture lost cases");
    for case in cases {
        let op = case["op"].as_str().unwrap();
        let names: Vec<&String> = case["inputs"].as_object().unwrap().keys().collect();
        let order: Vec<&str> = match op {
            "conv2d" if names.len() == 3 => vec!["x", "w", "b"],
            "conv2d" => vec!["x", "w"],
            "batch_norm" | "batch_norm_eval" => vec!["x", "gamma", "beta"],
            _ => vec!["x"],
        };
        assert_eq!(names.len(), order.len(), "{op}: inputs {names:?}");
        let inputs = case_inputs(case, &order);
        let upstream = f32s(&case["upstream"]);
        let (build, running) = build_conv_op(op, &case["params"], gpu);
        let harness = OpHarness::new(gpu, &inputs, &upstream, &[], &*build);
        let run = harness.run().await;
        let what = format!("{op} {:?} {}", inputs[0].1, case["params"]["stride"]);
        // BatchNorm gradients sum to ~0 per channel, so tolerances scale with the largest value.
        let scale = |v: &[f64]| v.iter().fold(1.0f64, |m, x| m.max(x.abs()));
        let want = floats(&case["output"]);
        assert_close(
            &format!("{what} forward"),
            &run.output,
            &want,
            1e-5,
            2e-6 * scale(&want),
        );
        for (i, name) in order.iter().enumerate() {
            let want = floats(&case["grads"][*name]);
            assert_close(
                &format!("{what} d/d{name}"),
                &run.grads[i],
                &want,
                1e-5,
                2e-6 * scale(&want),
            );
        }
        if let (Some(running), Some(expected)) = (running, case.get("running")) {
            for (view, key) in [(&running.mean, "mean"), (&running.var, "var")] {
                let want: Vec<f64> = expected[key]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                let got = gpu.read_f32(view).await.unwrap();
                assert_close(&format!("{what} running {key}"), &got, &want, 1e-5, 1e-6);
            }
        }
    }
}

/// CPU reference of PyTorch's conv2d (f64): y [N, CO, OH, OW].
#[allow(clippy::too_many_arguments)]
pub fn cpu_conv2d(
    x: &[f32],
    w: &[f32],
    [n, c, h, wd]: [usize; 4],
    [co, kh, kw]: [usize; 3],
    stride: usize,
    pad: usize,
) -> (Vec<f64>, [usize; 2]) {
    let oh = (h + 2 * pad - kh) / stride + 1;
    let ow = (wd + 2 * pad - kw) / stride + 1;
    let mut y = vec![0.0f64; n * co * oh * ow];
    for s in 0..n {
        for o in 0..co {
            for i in 0..oh {
                for j in 0..ow {
                    let mut total = 0.0f64;
                    for ci in 0..c {
                        for a in 0..kh {
                            for b in 0..kw {
                                let (r, q) = (i * stride + a, j * stride + b);
                                if r < pad || q < pad || r - pad >= h || q - pad >= wd {
                                    continue;
                                }
                                total += x[((s * c + ci) * h + r - pad) * wd + q - pad] as f64
                                    * w[((o * c + ci) * kh + a) * kw + b] as f64;
                            }
                        }
                    }
                    y[((s * co + o) * oh + i) * ow + j] = total;
                }
            }
        }
    }
    (y, [oh, ow])
}

/// A convolution big enough to be split into sample chunks (its column tensor exceeds the
/// scratch budget) against the CPU reference: the forward, and the filter and input gradients
/// checked through L = Σ y ⊙ R via the adjoint identities ⟨dL/dw, w⟩ = ⟨y, R⟩ (no bias) and
/// ⟨dL/dx, x⟩ = ⟨y, R⟩ (conv is linear in each argument).
pub async fn chunked_conv_matches_the_cpu_reference(gpu: &Arc<Gpu>) {
    let mut rng = TestRng::new(11);
    let (n, c, h, w, co) = (40, 16, 32, 32, 16);
    let x = rng.vec(n * c * h * w);
    let wt = rng.vec(co * c * 9);
    let (want, [oh, ow]) = cpu_conv2d(&x, &wt, [n, c, h, w], [co, 3, 3], 1, 1);
    let upstream = rng.vec(n * co * oh * ow);
    let build = |g: &mut Graph, t: &[TensorId], _: &BufView| ops::conv2d(g, t[0], t[1], None, 1, 1);
    let harness = OpHarness::new(
        gpu,
        &[
            (x.clone(), vec![n, c, h, w]),
            (wt.clone(), vec![co, c, 3, 3]),
        ],
        &upstream,
        &[],
        &build,
    );
    let run = harness.run().await;
    assert_close("chunked conv forward", &run.output, &want, 1e-4, 1e-4);
    let dot = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(&p, &q)| p as f64 * q as f64)
            .sum::<f64>()
    };
    let loss: f64 = want
        .iter()
        .zip(&upstream)
        .map(|(&y, &r)| y * r as f64)
        .sum();
    for (what, grad, value) in [("filter", &run.grads[1], &wt), ("input", &run.grads[0], &x)] {
        let got = dot(grad, value);
        assert!(
            (got - loss).abs() <= 1e-3 * loss.abs().max(1.0),
            "chunked conv {what} gradient: ⟨grad, value⟩ = {got}, expected {loss}"
        );
    }
}

/// SSAM against tests/golden/ssam.json: the Fisher mask on every refresh step (exactly), the weights
/// after every step (≤ 1e-5 relative), and s = 0 against plain SAM (≤ 1e-6 relative; SSAM's
/// ξ = 1e-7 against SAM's 1e-12 is far below that).
pub async fn ssam_matches_the_reference(gpu: &Arc<Gpu>) {
    let fixture: Value =
        serde_json::from_str(include_str!("../golden/ssam.json")).expect("ssam.json parses");
    let (model, initial, batches) = fixture_setup(&fixture);
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4, "fixture lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = variant_config(case).expect("ssam is implemented");
        let steps = case["steps"].as_array().unwrap();
        let rows = batches[0].1.len();
        let batch = Batch {
            x: gpu.alloc(rows * model.inputs()),
            labels: gpu.alloc(rows),
            rows,
        };
        let mut engine = StepEngine::new(gpu, &model, &config, &initial, &batch, Plan::new());
        for (t, step) in steps.iter().enumerate() {
            upload_batch(gpu, &batch, &batches[t % batches.len()]);
            engine.step(config.optimizer.lr, config.sam.rho(), true, false);
            if let Some(mask) = step.get("mask").filter(|m| m.is_object()) {
                let got = gpu.read_f32(&engine.sam_state).await.unwrap();
                assert_mask(&format!("{name} step {t}"), &model, &got, mask);
            }
            let params = gpu.read_f32(&engine.params).await.unwrap();
            assert_params_match(
                &format!("{name} step {t}"),
                &model,
                &params,
                &step["params"],
            );
        }
        assert_eq!(engine.passes_per_step(), 2.0, "{name}: two passes per step");
        if case["reduces_to"].is_object() {
            let setup = (&model, &initial[..], &batches[..]);
            assert_equals_sam(gpu, name, &config, setup, steps.len()).await;
        }
    }
}

/// The cases of a fixture of randomised or layer-scaled variants (tests/golden/rsam_mup2.json,
/// esam_ssamd.json): the weights after every step (≤ 1e-5 relative), the loss of the first pass,
/// the masks where the fixture records them (exactly), the engine's pass count, and each neutral
/// case against plain SAM run by the same engine (≤ 1e-6 relative).
pub async fn fixture_variants_match_the_reference(
    gpu: &Arc<Gpu>,
    json: &str,
    cases_expected: usize,
) {
    let fixture: Value = serde_json::from_str(json).expect("fixture parses");
    let (model, initial, batches) = fixture_setup(&fixture);
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), cases_expected, "fixture lost cases");
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let config = variant_config(case).expect("variant is implemented");
        let steps = case["steps"].as_array().unwrap();
        let total = case["hyper"].get("total_steps").and_then(Value::as_u64);
        let run =
            run_engine_with_state(gpu, &model, &config, &initial, &batches, steps.len(), total)
                .await;
        let mut passes = 0.0;
        for (t, step) in steps.iter().enumerate() {
            if let Some(want) = step.get("loss").and_then(Value::as_f64) {
                let got = run.losses[t] as f64;
                assert!(
                    (got - want).abs() <= 1e-5 * want.abs(),
                    "{name} step {t}: loss {got} vs {want}"
                );
            }
            passes += step.get("passes").and_then(Value::as_f64).unwrap_or(2.0);
            if let Some(mask) = step.get("mask").filter(|m| m.is_object()) {
                assert_mask(&format!("{name} step {t}"), &model, &run.states[t], mask);
            }
            if let Some(kept) = step.get("kept_tensors").and_then(Value::as_array) {
                for (spec, keep) in model.layout.specs.iter().zip(kept) {
                    let want = keep.as_f64().unwrap() as f32;
                    let got = &run.states[t][spec.offset..spec.offset + spec.len()];
                    assert!(
                        got.iter().all(|&v| v == want),
                        "{name} step {t}: tensor {} kept = {want} expected",
                        spec.name
                    );
                }
            }
            assert_params_match(
                &format!("{name} step {t}"),
                &model,
                &run.params[t],
                &step["params"],
            );
        }
        let want_passes = passes / steps.len() as f64;
        assert!(
            (run.passes - want_passes).abs() < 1e-9,
            "{name}: {} passes per step, expected {want_passes}",
            run.passes
        );
        if case["reduces_to"].is_object() {
            let setup = (&model, &initial[..], &batches[..]);
            assert_equals_sam(gpu, name, &config, setup, steps.len()).await;
        }
    }
}

/// A 0/1 mask in the flat layout against the fixture's per-tensor masks, exactly.
fn assert_mask(what: &str, model: &Model, got: &[f32], want: &Value) {
    for spec in &model.layout.specs {
        let want = floats(&want[&spec.name]);
        let have = &got[spec.offset..spec.offset + spec.len()];
        let differ = have
            .iter()
            .zip(&want)
            .filter(|(&h, &w)| h as f64 != w)
            .count();
        assert_eq!(
            differ, 0,
            "{what}: {differ} mask entries of {} differ",
            spec.name
        );
    }
}

/// `config` run for `steps` steps against plain SAM with the same ρ run by the same engine: the
/// final weights agree to ≤ 1e-6 relative (a variant's neutral setting).
async fn assert_equals_sam(
    gpu: &Arc<Gpu>,
    name: &str,
    config: &TrainConfig,
    (model, initial, batches): (&Model, &[f32], &[HostBatch]),
    steps: usize,
) {
    let mut plain = config.clone();
    plain.sam = SamConfig {
        kind: SamKind::Sam,
        rho: config.sam.rho,
        ..SamConfig::default()
    };
    let (got, _, _) = run_engine(gpu, model, config, initial, batches, steps).await;
    let (want, _, _) = run_engine(gpu, model, &plain, initial, batches, steps).await;
    let want64: Vec<f64> = want[steps - 1].iter().map(|&v| v as f64).collect();
    let (rel, worst) = relative_error(&got[steps - 1], &want64);
    assert!(
        rel <= 1e-6,
        "{name}: differs from SAM by {rel:.2e} (worst {worst:.2e})"
    );
}
