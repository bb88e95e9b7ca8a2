//! Every op's forward and backward on the GPU, checked three ways: against golden values from JAX
//! (tests/golden/ops.json, float64), against a CPU reference on random shapes that are not
//! multiples of the tile or workgroup sizes, and against central finite differences of the GPU's
//! own forward pass. The first two are shared with the browser suite (tests/cases).
#![cfg(not(target_arch = "wasm32"))] // native suite; the browser suite is tests/web.rs

mod cases;
mod common;

use cases::{BuildOp, OpHarness, TestRng};
use common::{block_on, gpu};
use samlab::autograd::{Graph, TensorId};
use samlab::ops::{self, MatmulLayout};

#[test]
fn every_op_matches_the_jax_fixtures() {
    block_on(cases::ops_match_the_jax_fixtures(&gpu()));
}

#[test]
fn conv_pool_and_batch_norm_match_the_jax_fixtures() {
    block_on(cases::conv_ops_match_the_jax_fixtures(&gpu()));
}

#[test]
fn chunked_conv_matches_the_cpu_reference() {
    block_on(cases::chunked_conv_matches_the_cpu_reference(&gpu()));
}

#[test]
fn matmul_matches_cpu_reference_on_awkward_shapes() {
    block_on(cases::matmul_matches_cpu_reference_on_awkward_shapes(&gpu()));
}

#[test]
fn matmul_every_tiling_matches_cpu_reference() {
    block_on(cases::matmul_every_tiling_matches_cpu_reference(&gpu()));
}

/// Checks the GPU backward of `build` against central differences of the GPU forward at a few
/// random elements of each input.
fn check_finite_differences(
    h: f32,
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
    let run = block_on(harness.run());
    for (which, (data, _)) in inputs.iter().enumerate() {
        for _ in 0..4 {
            let i = rng.below(data.len());
            let plus = block_on(harness.loss_with(which, i, data[i] + h, data[i]));
            let minus = block_on(harness.loss_with(which, i, data[i] - h, data[i]));
            let numeric = (plus - minus) as f64 / (2.0 * h as f64);
            let analytic = run.grads[which][i] as f64;
            let ok = |estimate: f64| (estimate - analytic).abs() <= 2e-3 + 1e-2 * analytic.abs();
            // Near a ReLU or max-pool kink only one side is smooth: accept a one-sided difference
            // (its O(h) error is far below the tolerance) when the central one straddles it.
            let smooth_side = || {
                let base = block_on(harness.loss_with(which, i, data[i], data[i])) as f64;
                ok((plus as f64 - base) / h as f64) || ok((base - minus as f64) / h as f64)
            };
            assert!(
                ok(numeric) || smooth_side(),
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
            1e-2,
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
        1e-2,
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
        1e-2,
        "relu",
        &[(relu_in, vec![6, 11])],
        &[],
        &|g, t, _| ops::relu(g, t[0]),
        &mut rng,
    );
    let y = shaped(&mut rng, &[6, 11]);
    check_finite_differences(
        1e-2,
        "add",
        &[x.clone(), y.clone()],
        &[],
        &|g, t, _| ops::add(g, t[0], t[1]),
        &mut rng,
    );
    check_finite_differences(
        1e-2,
        "mul",
        &[x.clone(), y],
        &[],
        &|g, t, _| ops::mul(g, t[0], t[1]),
        &mut rng,
    );
    check_finite_differences(
        1e-2,
        "scale",
        std::slice::from_ref(&x),
        &[],
        &|g, t, _| ops::scale(g, t[0], -1.7),
        &mut rng,
    );
    let big = shaped(&mut rng, &[5000]);
    check_finite_differences(
        1e-2,
        "sum (two-level)",
        std::slice::from_ref(&big),
        &[],
        &|g, t, _| ops::sum(g, t[0]),
        &mut rng,
    );
    check_finite_differences(
        1e-2,
        "mean (two-level)",
        &[big],
        &[],
        &|g, t, _| ops::mean(g, t[0]),
        &mut rng,
    );
    // Convolutions: stride 2 with padding on odd sizes, a bias, and batch 1.
    for (xs, ws, stride, pad, bias) in [
        ([2, 3, 7, 6], [4, 3, 3, 3], 2, 1, true),
        ([1, 2, 5, 5], [3, 2, 2, 3], 1, 0, false),
    ] {
        let mut inputs = vec![shaped(&mut rng, &xs), shaped(&mut rng, &ws)];
        if bias {
            inputs.push(shaped(&mut rng, &[ws[0]]));
        }
        check_finite_differences(
            1e-2,
            &format!("conv2d {xs:?} stride {stride} pad {pad}"),
            &inputs,
            &[],
            &move |g, t, _| ops::conv2d(g, t[0], t[1], bias.then(|| t[2]), stride, pad),
            &mut rng,
        );
    }
    // Pooling on an odd size with overlapping windows; distinct values keep max-pool off ties.
    let mut distinct: Vec<f32> = (0..2 * 3 * 7 * 7).map(|i| i as f32 * 0.05).collect();
    for i in (1..distinct.len()).rev() {
        distinct.swap(i, rng.below(i + 1));
    }
    let pool_in = (distinct, vec![2, 3, 7, 7]);
    for (kernel, stride) in [(3, 2), (2, 2)] {
        check_finite_differences(
            1e-2,
            &format!("max_pool2d {kernel}/{stride}"),
            std::slice::from_ref(&pool_in),
            &[],
            &move |g, t, _| ops::max_pool2d(g, t[0], kernel, stride),
            &mut rng,
        );
        check_finite_differences(
            1e-2,
            &format!("avg_pool2d {kernel}/{stride}"),
            std::slice::from_ref(&pool_in),
            &[],
            &move |g, t, _| ops::avg_pool2d(g, t[0], kernel, stride),
            &mut rng,
        );
    }
    check_finite_differences(
        1e-2,
        "global_avg_pool",
        std::slice::from_ref(&pool_in),
        &[],
        &|g, t, _| ops::global_avg_pool(g, t[0]),
        &mut rng,
    );
    // BatchNorm in both modes (training mode without touching the running statistics, so the
    // repeated evaluations see the same function), 2-D and 1-D.
    for (shape, mode) in [
        (
            vec![3, 4, 3, 2],
            ops::NormMode::Train {
                update_running: false,
            },
        ),
        (
            vec![5, 3],
            ops::NormMode::Train {
                update_running: false,
            },
        ),
        (vec![2, 3, 2, 2], ops::NormMode::Eval),
    ] {
        let c = shape[1];
        let inputs = [
            shaped(&mut rng, &shape),
            (rng.vec(c).iter().map(|v| 1.0 + 0.5 * v).collect(), vec![c]),
            shaped(&mut rng, &[c]),
        ];
        let running: Vec<f32> = (0..c).map(|i| 0.1 * i as f32).collect();
        check_finite_differences(
            1e-2,
            &format!("batch_norm {shape:?} {mode:?}"),
            &inputs,
            &[],
            &move |g, t, _| {
                let stats = ops::RunningStats {
                    mean: g.gpu.upload(&running),
                    var: g.gpu.upload(&vec![1.5f32; running.len()]),
                    seen: None,
                };
                ops::batch_norm(g, t[0], t[1], t[2], &stats, mode)
            },
            &mut rng,
        );
    }
    let logits = (
        rng.vec(7 * 10).iter().map(|v| 3.0 * v).collect(),
        vec![7, 10],
    );
    let labels: Vec<u32> = (0..7).map(|_| rng.below(10) as u32).collect();
    for smoothing in [0.0f32, 0.2] {
        check_finite_differences(
            1e-2,
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

/// Whole models, end to end: the gradient of the mean cross-entropy with respect to parameters
/// of every kind of layer (conv, pooling, BatchNorm, residual sums, dropout, linear) against
/// central differences of the GPU forward.
#[test]
fn model_gradients_match_finite_differences() {
    use samlab::nn::{ForwardContext, Model, ModelKind};
    let mut rng = TestRng::new(9);
    for (kind, input, dropout) in [
        (ModelKind::Lenet, [1, 12, 12], 0.0),
        (ModelKind::TfjsConvnet, [1, 16, 16], 0.3),
        (ModelKind::Resnet8, [3, 8, 8], 0.0),
    ] {
        let model = Model::new(kind, input, 10, &[], dropout).unwrap();
        let rows = 4;
        let flat = model.init(1);
        let mut inputs = vec![(rng.vec(rows * model.inputs()), vec![rows, model.inputs()])];
        for spec in &model.layout.specs {
            inputs.push((
                model.layout.tensor(&flat, spec).to_vec(),
                spec.shape.clone(),
            ));
        }
        let labels: Vec<u32> = (0..rows).map(|_| rng.below(10) as u32).collect();
        let build = move |g: &mut Graph, t: &[TensorId], labels: &samlab::gpu::BufView| {
            // State and the dropout step live on the graph's own device.
            let state = g.gpu.upload(&model.init_state());
            let step_buffer = g.gpu.alloc_uniform(16);
            g.gpu
                .queue
                .write_buffer(&step_buffer, 0, bytemuck::cast_slice(&[7u32, 3, 0, 0]));
            let step = samlab::gpu::BufView::whole(&step_buffer);
            // Train mode without updates keeps the running statistics fixed between the
            // finite-difference evaluations; the fixed step keeps the dropout mask fixed.
            let ctx = ForwardContext {
                state: &state,
                mode: ops::NormMode::Train {
                    update_running: false,
                },
                step: &step,
                seen: None,
            };
            let logits = model.forward(g, t[0], &t[1..], &ctx);
            ops::cross_entropy(g, logits, labels, 0.0).loss
        };
        // A small step: ReLU and max-pool kinks are everywhere in a network.
        check_finite_differences(
            1e-3,
            &format!("{kind:?}"),
            &inputs,
            &labels,
            &build,
            &mut rng,
        );
    }
}

/// Inverted dropout: about p of the elements are zeroed, the rest scaled by 1/(1 − p), the
/// backward applies the same mask, and a different step draws a different mask.
#[test]
fn dropout_drops_the_requested_share_with_one_mask_for_both_directions() {
    let gpu = gpu();
    let n = 20_000;
    let x = vec![1.0f32; n];
    let p = 0.3f32;
    let masks: Vec<(Vec<f32>, Vec<f32>)> = [3u32, 4]
        .iter()
        .map(|&step| {
            let build = move |g: &mut Graph, t: &[TensorId], _: &samlab::gpu::BufView| {
                let uniform = g.gpu.alloc_uniform(16);
                g.gpu
                    .queue
                    .write_buffer(&uniform, 0, bytemuck::cast_slice(&[9u32, step, 0, 0]));
                ops::dropout(g, t[0], p, 1, &samlab::gpu::BufView::whole(&uniform))
            };
            let harness = OpHarness::new(&gpu, &[(x.clone(), vec![n])], &x, &[], &build);
            let run = block_on(harness.run());
            (run.output, run.grads[0].clone())
        })
        .collect();
    let (y, dx) = &masks[0];
    let scale = 1.0 / (1.0 - p);
    assert!(y.iter().all(|&v| v == 0.0 || (v - scale).abs() < 1e-6));
    let dropped = y.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
    assert!(
        (dropped - p as f64).abs() < 0.02,
        "dropped {dropped}, expected {p}"
    );
    // Upstream is all ones, so dx is the mask itself.
    assert_eq!(y, dx, "the backward must reuse the forward's mask");
    assert_ne!(y, &masks[1].0, "another step must draw another mask");
}
