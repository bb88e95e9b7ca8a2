//! Every op's forward and backward on the GPU, checked three ways: against golden values from JAX
//! (tests/golden/ops.json, float64), against a CPU reference on random shapes that are not
//! multiples of the tile or workgroup sizes, and against central finite differences of the GPU's
//! own forward pass.

mod common;

use std::sync::Arc;

use common::{assert_close, block_on, gpu, TestRng};
use samlab::autograd::{Graph, TensorId};
use samlab::gpu::{BufView, Gpu};
use samlab::ops::{self, MatmulLayout};
use serde_json::Value;

/// An op under test: records its output from the graph tensors of its float inputs.
type BuildOp = dyn Fn(&mut Graph, &[TensorId], &BufView) -> TensorId;

/// Builds `L = Σ op(inputs) ⊙ R` with every float input as a parameter, runs forward + backward
/// once and returns (output, gradients, extra stats buffer read back if any).
struct OpRun {
    output: Vec<f32>,
    grads: Vec<Vec<f32>>,
    loss: f32,
}

struct OpHarness {
    gpu: Arc<Gpu>,
    input_views: Vec<BufView>,
    grad_views: Vec<BufView>,
    output: BufView,
    loss: BufView,
    plan: samlab::autograd::BuiltPlan,
}

impl OpHarness {
    fn new(
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

    fn run(&self) -> OpRun {
        self.gpu.submit(&[&self.plan.plan]);
        OpRun {
            output: block_on(self.gpu.read_f32(&self.output)).unwrap(),
            grads: self
                .grad_views
                .iter()
                .map(|v| block_on(self.gpu.read_f32(v)).unwrap())
                .collect(),
            loss: block_on(self.gpu.read_f32(&self.loss)).unwrap()[0],
        }
    }

    /// L at `inputs` with element `index` of input `which` replaced by `value`.
    fn loss_with(&self, which: usize, index: usize, value: f32, original: f32) -> f32 {
        let view = &self.input_views[which];
        self.gpu.queue.write_buffer(
            &view.buffer,
            view.offset + index as u64 * 4,
            bytemuck::bytes_of(&value),
        );
        let loss = self.run().loss;
        self.gpu.queue.write_buffer(
            &view.buffer,
            view.offset + index as u64 * 4,
            bytemuck::bytes_of(&original),
        );
        loss
    }
}

fn build_for(op: &str, params: &Value) -> Box<BuildOp> {
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

fn floats(v: &Value) -> Vec<f64> {
    v["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn shape(v: &Value) -> Vec<usize> {
    v["shape"]
        .as_array()
        .expect("shape array")
        .iter()
        .map(|x| x.as_u64().expect("dim") as usize)
        .collect()
}

#[test]
fn every_op_matches_the_jax_fixtures() {
    let fixture: Value =
        serde_json::from_str(include_str!("golden/ops.json")).expect("ops.json parses");
    let gpu = gpu();
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
        let inputs: Vec<(Vec<f32>, Vec<usize>)> = order
            .iter()
            .map(|n| {
                let v = &case["inputs"][*n];
                (floats(v).iter().map(|&x| x as f32).collect(), shape(v))
            })
            .collect();
        let labels: Vec<u32> = params
            .get("labels")
            .and_then(Value::as_array)
            .map(|l| l.iter().map(|x| x.as_u64().unwrap() as u32).collect())
            .unwrap_or_default();
        let upstream: Vec<f32> = floats(&case["upstream"])
            .iter()
            .map(|&x| x as f32)
            .collect();
        let build = build_for(op, params);
        let harness = OpHarness::new(&gpu, &inputs, &upstream, &labels, &*build);
        let run = harness.run();
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
            let mut g = Graph::new(&gpu);
            let logits = g.input(harness.input_views[0].clone(), &inputs[0].1);
            let labels_view = gpu.upload(&labels);
            let ce = ops::cross_entropy(&mut g, logits, &labels_view, 0.0);
            let stats = ce.stats.clone();
            let plan = g.finish();
            gpu.submit(&[&plan.plan]);
            let stats = block_on(gpu.read_f32(&stats)).unwrap();
            assert_eq!(stats[1] as u64, correct, "{what}: correct count");
            assert_eq!(stats[2] as usize, labels.len(), "{what}: valid rows");
        }
    }
}

/// CPU reference for C = op(A)·op(B) in f64.
fn cpu_matmul(
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

#[test]
fn matmul_matches_cpu_reference_on_awkward_shapes() {
    let gpu = gpu();
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
                &gpu,
                &[(a.clone(), sa), (b.clone(), sb)],
                &upstream,
                &[],
                &move |g, t, _| ops::matmul(g, t[0], t[1], layout),
            );
            let run = harness.run();
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

/// Checks the GPU backward of `build` against central differences of the GPU forward at a few
/// random elements of each input.
fn check_finite_differences(
    name: &str,
    inputs: &[(Vec<f32>, Vec<usize>)],
    labels: &[u32],
    build: &BuildOp,
    rng: &mut TestRng,
) {
    let gpu = gpu();
    let out_len = {
        let mut g = Graph::new(&gpu);
        let ids: Vec<TensorId> = inputs
            .iter()
            .map(|(d, s)| g.input(gpu.upload(d), s))
            .collect();
        let labels_view = gpu.upload(if labels.is_empty() {
            &[0u32][..]
        } else {
            labels
        });
        let out = build(&mut g, &ids, &labels_view);
        g.data(out).len
    };
    let upstream = rng.vec(out_len);
    let harness = OpHarness::new(&gpu, inputs, &upstream, labels, build);
    let run = harness.run();
    let h = 1e-2f32;
    for (which, (data, _)) in inputs.iter().enumerate() {
        for _ in 0..4 {
            let i = rng.below(data.len());
            let plus = harness.loss_with(which, i, data[i] + h, data[i]);
            let minus = harness.loss_with(which, i, data[i] - h, data[i]);
            let numeric = (plus - minus) as f64 / (2.0 * h as f64);
            let analytic = run.grads[which][i] as f64;
            let err = (numeric - analytic).abs();
            assert!(
                err <= 2e-3 + 1e-2 * analytic.abs(),
                "{name}: d/d(input {which})[{i}] backward {analytic} vs finite difference {numeric}"
            );
        }
    }
}

#[test]
fn backward_matches_finite_differences() {
    let mut rng = TestRng::new(5);
    let shaped =
        |rng: &mut TestRng, shape: &[usize]| (rng.vec(shape.iter().product()), shape.to_vec());
    let (m, n, k) = (7, 9, 13);
    for layout in [MatmulLayout::NN, MatmulLayout::NT, MatmulLayout::TN] {
        let (sa, sb) = match layout {
            MatmulLayout::NN => ([m, k], [k, n]),
            MatmulLayout::NT => ([m, k], [n, k]),
            MatmulLayout::TN => ([k, m], [k, n]),
        };
        let inputs = [shaped(&mut rng, &sa), shaped(&mut rng, &sb)];
        check_finite_differences(
            &format!("matmul {layout:?}"),
            &inputs,
            &[],
            &move |g, t, _| ops::matmul(g, t[0], t[1], layout),
            &mut rng,
        );
    }
    let x = shaped(&mut rng, &[6, 11]);
    let b = shaped(&mut rng, &[11]);
    check_finite_differences(
        "bias_add",
        &[x.clone(), b],
        &[],
        &|g, t, _| ops::bias_add(g, t[0], t[1]),
        &mut rng,
    );
    // Keep relu inputs away from the kink so ±h never crosses it.
    let relu_in: Vec<f32> =
        x.0.iter()
            .map(|&v| if v.abs() < 0.05 { 0.5 } else { v })
            .collect();
    check_finite_differences(
        "relu",
        &[(relu_in, vec![6, 11])],
        &[],
        &|g, t, _| ops::relu(g, t[0]),
        &mut rng,
    );
    let y = shaped(&mut rng, &[6, 11]);
    check_finite_differences(
        "add",
        &[x.clone(), y.clone()],
        &[],
        &|g, t, _| ops::add(g, t[0], t[1]),
        &mut rng,
    );
    check_finite_differences(
        "mul",
        &[x.clone(), y],
        &[],
        &|g, t, _| ops::mul(g, t[0], t[1]),
        &mut rng,
    );
    check_finite_differences(
        "scale",
        std::slice::from_ref(&x),
        &[],
        &|g, t, _| ops::scale(g, t[0], -1.7),
        &mut rng,
    );
    let big = shaped(&mut rng, &[5000]);
    check_finite_differences(
        "sum (two-level)",
        std::slice::from_ref(&big),
        &[],
        &|g, t, _| ops::sum(g, t[0]),
        &mut rng,
    );
    check_finite_differences(
        "mean (two-level)",
        &[big],
        &[],
        &|g, t, _| ops::mean(g, t[0]),
        &mut rng,
    );
    let logits = (
        rng.vec(7 * 10).iter().map(|v| 3.0 * v).collect(),
        vec![7, 10],
    );
    let labels: Vec<u32> = (0..7).map(|_| rng.below(10) as u32).collect();
    for smoothing in [0.0f32, 0.2] {
        check_finite_differences(
            &format!("cross_entropy smoothing {smoothing}"),
            std::slice::from_ref(&logits),
            &labels,
            &move |g, t, l| ops::cross_entropy(g, t[0], l, smoothing).loss,
            &mut rng,
        );
    }
}

#[test]
fn reductions_are_deterministic_and_match_f64() {
    let gpu = gpu();
    let mut rng = TestRng::new(9);
    let data = rng.vec(100_003);
    let exact: f64 = data.iter().map(|&v| v as f64).sum();
    let mut results = Vec::new();
    for _ in 0..2 {
        let mut g = Graph::new(&gpu);
        let x = g.input(gpu.upload(&data), &[data.len()]);
        let s = ops::sum(&mut g, x);
        let view = g.data(s).clone();
        let plan = g.finish();
        gpu.submit(&[&plan.plan]);
        results.push(block_on(gpu.read_f32(&view)).unwrap()[0]);
    }
    assert_eq!(
        results[0].to_bits(),
        results[1].to_bits(),
        "same input, same bits"
    );
    assert!(
        (results[0] as f64 - exact).abs() < 1e-3 * (1.0 + exact.abs()),
        "sum {} vs f64 {exact}",
        results[0]
    );
}

#[test]
fn cross_entropy_is_stable_for_huge_logits_and_ignores_padding_rows() {
    let gpu = gpu();
    let mut g = Graph::new(&gpu);
    // Row 0: logits of ±1e4 (a naive softmax overflows); row 1: a padding row (label ≥ classes).
    let logits = g.input(gpu.upload(&[1.0e4f32, -1.0e4, 0.0, 5.0, 5.0, 5.0]), &[2, 3]);
    let labels = gpu.upload(&[1u32, 0xFFFF_FFFF]);
    let ce = ops::cross_entropy(&mut g, logits, &labels, 0.0);
    let stats = ce.stats.clone();
    let plan = g.finish();
    gpu.submit(&[&plan.plan]);
    let stats = block_on(gpu.read_f32(&stats)).unwrap();
    assert!(
        (stats[0] - 2.0e4).abs() < 1.0,
        "loss {} should be 2e4",
        stats[0]
    );
    assert_eq!(stats[1], 0.0, "argmax is class 0, label 1");
    assert_eq!(stats[2], 1.0, "the padding row is ignored");
    assert_eq!(stats[3], 0.0, "no non-finite rows");
}
