//! SAM in two dimensions (src/surface/): the surfaces' kernel against its formulas (checked
//! themselves against central finite differences), and the trajectories of the real SAM loop and
//! optimizer kernels against a CPU reference of the same update rules (docs/sam-variants.md:
//! ε = ρ·g/(‖g‖ + 1e-12); ASAM ε = ρ·T²⊙g/(‖T⊙g‖ + 1e-16), T = |w| + η; PyTorch SGD momentum).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::sync::Arc;

use samlab::gpu::Gpu;
use samlab::sam::{SamConfig, SamKind};
use samlab::surface::{submit_grid, Surface, SurfaceConfig, SurfaceRun, TracePoint};

/// An independent f64 copy of each surface's formula and gradient.
fn reference(surface: Surface, w: [f64; 2]) -> (f64, [f64; 2]) {
    let [x, y] = w;
    match surface {
        Surface::SharpFlat => {
            let (sa2, sb2) = (0.2f64 * 0.2, 0.8f64 * 0.8);
            let da = [x + 0.6, y];
            let db = [x - 0.6, y];
            let pa = (-(da[0] * da[0] + da[1] * da[1]) / (2.0 * sa2)).exp();
            let pb = 0.5 * (-(db[0] * db[0] + db[1] * db[1]) / (2.0 * sb2)).exp();
            let total = pa + pb;
            let grad = |i: usize| (pa * da[i] / sa2 + pb * db[i] / sb2) / total;
            (-total.ln(), [grad(0), grad(1)])
        }
        Surface::Rosenbrock => (
            (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            [
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ],
        ),
        Surface::Saddle => (
            x * x - y * y / 2.0 + y.powi(4) / 4.0,
            [2.0 * x, y.powi(3) - y],
        ),
        Surface::Quadratic { condition } => ((x * x + condition * y * y) / 2.0, [x, condition * y]),
    }
}

fn surfaces() -> [Surface; 5] {
    [
        Surface::SharpFlat,
        Surface::Rosenbrock,
        Surface::Saddle,
        Surface::Quadratic { condition: 10.0 },
        Surface::Quadratic { condition: 100.0 },
    ]
}

const POINTS: [[f64; 2]; 7] = [
    [-1.2, 1.2],
    [-0.55, 0.1],
    [0.3, -0.7],
    [1.5, 1.9],
    [-1.9, -0.4],
    [0.0, 0.0],
    [0.9, 0.8],
];

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * (1.0 + want.abs())
}

#[test]
fn the_formulas_match_central_finite_differences() {
    let h = 1e-6;
    for surface in surfaces() {
        for w in POINTS {
            let (_, grad) = reference(surface, w);
            for i in 0..2 {
                let mut plus = w;
                let mut minus = w;
                plus[i] += h;
                minus[i] -= h;
                let fd = (reference(surface, plus).0 - reference(surface, minus).0) / (2.0 * h);
                assert!(
                    close(grad[i], fd, 1e-6),
                    "{surface:?} at {w:?}: ∂L/∂w{i} = {} by the formula, {fd} by finite differences",
                    grad[i]
                );
            }
        }
    }
}

fn run(
    gpu: &Arc<Gpu>,
    surface: Surface,
    kind: SamKind,
    rho: f64,
    lr: f64,
    momentum: f64,
) -> SurfaceRun {
    let config = SurfaceConfig {
        surface,
        sam: SamConfig {
            rho: Some(rho),
            ..SamConfig::new(kind)
        },
        lr,
        momentum,
        start: surface.info().start,
    };
    SurfaceRun::new(gpu, config).expect("a valid config")
}

fn steps(run: &mut SurfaceRun, n: usize) -> Vec<TracePoint> {
    let pending = run.submit_steps(n).expect("n in range");
    common::block_on(pending.read()).expect("the trace reads back")
}

#[test]
fn the_gpu_surface_pass_gives_the_formulas_loss_and_gradient() {
    let gpu = common::gpu();
    for surface in surfaces() {
        let mut sgd = run(&gpu, surface, SamKind::None, 0.0, 1e-3, 0.0);
        for w in POINTS {
            sgd.reset(w).unwrap();
            let point = &steps(&mut sgd, 1)[0];
            let (loss, grad) = reference(surface, w);
            let shown =
                format!("{surface:?} at {w:?}: GPU {point:?}, reference L {loss} ∇L {grad:?}");
            assert!(close(point.loss as f64, loss, 1e-5), "loss: {shown}");
            for i in 0..2 {
                assert!(
                    close(point.grad[i] as f64, grad[i], 1e-5),
                    "gradient: {shown}"
                );
                assert_eq!(
                    point.w[i], w[i] as f32,
                    "evaluated where it started: {shown}"
                );
            }
        }
    }
}

/// ε of `kind` at w for the gradient g (docs/sam-variants.md).
fn epsilon(kind: SamKind, rho: f64, w: [f64; 2], g: [f64; 2]) -> [f64; 2] {
    match kind {
        SamKind::None => [0.0; 2],
        SamKind::Sam => {
            let norm = (g[0] * g[0] + g[1] * g[1]).sqrt();
            [rho * g[0] / (norm + 1e-12), rho * g[1] / (norm + 1e-12)]
        }
        SamKind::Asam => {
            let t = [w[0].abs() + 0.01, w[1].abs() + 0.01];
            let norm = ((t[0] * g[0]).powi(2) + (t[1] * g[1]).powi(2)).sqrt();
            [
                rho * t[0] * t[0] * g[0] / (norm + 1e-16),
                rho * t[1] * t[1] * g[1] / (norm + 1e-16),
            ]
        }
        other => panic!("no reference for {other:?}"),
    }
}

/// One step of the CPU reference: (w + ε, G, new momentum buffer, next w).
fn reference_step(
    surface: Surface,
    kind: SamKind,
    rho: f64,
    lr: f64,
    momentum: f64,
    buffer: Option<[f64; 2]>,
    w: [f64; 2],
) -> ([f64; 2], [f64; 2], [f64; 2], [f64; 2]) {
    let (_, g0) = reference(surface, w);
    let e = epsilon(kind, rho, w, g0);
    let p = [w[0] + e[0], w[1] + e[1]];
    let g = if kind == SamKind::None {
        g0
    } else {
        reference(surface, p).1
    };
    let buf = match (momentum, buffer) {
        (0.0, _) | (_, None) => g,
        (m, Some(b)) => [m * b[0] + g[0], m * b[1] + g[1]],
    };
    let next = [w[0] - lr * buf[0], w[1] - lr * buf[1]];
    (p, g, buf, next)
}

fn f64s(v: [f32; 2]) -> [f64; 2] {
    [v[0] as f64, v[1] as f64]
}

/// Every step of `trace` against the reference step from the GPU's own w (so f32 rounding never
/// accumulates), and the whole trajectory against a reference rolled out in f64 from the start.
fn check_trajectory(
    surface: Surface,
    kind: SamKind,
    rho: f64,
    lr: f64,
    momentum: f64,
    trace: &[TracePoint],
) {
    let label = format!("{surface:?} {kind:?} ρ {rho} lr {lr} momentum {momentum}");
    let mut buffer = None;
    let mut rolled = surface.info().start;
    let mut rolled_buffer = None;
    for (t, point) in trace.iter().enumerate() {
        let w = f64s(point.w);
        let (p, g, buf, next) = reference_step(surface, kind, rho, lr, momentum, buffer, w);
        buffer = Some(buf);
        let at = format!("{label}, step {t}: GPU {point:?}");
        if kind == SamKind::None {
            assert!(
                point.perturbed.is_none(),
                "SGD has no perturbed point: {at}"
            );
        } else {
            let gp = f64s(point.perturbed.expect("SAM records w + ε"));
            let gg = f64s(point.perturbed_grad.expect("and ∇L(w + ε)"));
            for i in 0..2 {
                assert!(close(gp[i], p[i], 1e-5), "w + ε = {p:?} expected: {at}");
                assert!(close(gg[i], g[i], 1e-5), "∇L(w + ε) = {g:?} expected: {at}");
            }
        }
        for i in 0..2 {
            assert!(
                close(point.update[i] as f64, g[i], 1e-5),
                "G = {g:?} expected: {at}"
            );
            assert!(
                close(point.next[i] as f64, next[i], 1e-5),
                "next w = {next:?} expected: {at}"
            );
        }
        if let Some(following) = trace.get(t + 1) {
            assert_eq!(
                following.w, point.next,
                "each step starts where the last ended: {at}"
            );
        }
        let (_, _, rolled_buf, rolled_next) =
            reference_step(surface, kind, rho, lr, momentum, rolled_buffer, rolled);
        rolled_buffer = Some(rolled_buf);
        rolled = rolled_next;
        for i in 0..2 {
            assert!(
                close(point.next[i] as f64, rolled[i], 1e-4),
                "the f64 rollout from the start is at {rolled:?}: {at}"
            );
        }
    }
}

#[test]
fn sgd_sam_and_asam_trajectories_match_the_cpu_reference_on_every_surface() {
    let gpu = common::gpu();
    for surface in surfaces() {
        let info = surface.info();
        for (kind, rho) in [
            (SamKind::None, 0.0),
            (SamKind::Sam, info.rho),
            (SamKind::Asam, info.rho_asam),
        ] {
            for momentum in [0.0, 0.9] {
                let mut r = run(&gpu, surface, kind, rho, info.lr, momentum);
                let trace = steps(&mut r, 12);
                assert_eq!(trace.len(), 12);
                check_trajectory(surface, kind, rho, info.lr, momentum, &trace);
            }
        }
    }
}

#[test]
fn rho_and_lr_changes_apply_from_the_next_step_and_reset_starts_afresh() {
    let gpu = common::gpu();
    let surface = Surface::Quadratic { condition: 10.0 };
    let mut r = run(&gpu, surface, SamKind::Sam, 0.1, 0.05, 0.5);
    let first = steps(&mut r, 3);
    r.set_rho(0.3).unwrap();
    r.set_learning_rate(0.02).unwrap();
    let second = steps(&mut r, 3);
    assert_eq!(second[0].step, 3, "steps are counted across calls");
    assert_eq!((second[0].rho, second[0].lr), (0.3, 0.02));
    assert_eq!(second[0].w, first[2].next);
    // The reference: momentum carries over the change; ρ and lr are the new ones.
    let mut buffer = None;
    let mut w = surface.info().start;
    for (t, point) in first.iter().chain(&second).enumerate() {
        let (rho, lr) = if t < 3 { (0.1, 0.05) } else { (0.3, 0.02) };
        let (_, _, buf, next) = reference_step(surface, SamKind::Sam, rho, lr, 0.5, buffer, w);
        buffer = Some(buf);
        w = next;
        for i in 0..2 {
            assert!(
                close(point.next[i] as f64, w[i], 1e-5),
                "step {t}: GPU {point:?}, reference {w:?}"
            );
        }
    }
    assert!(r.set_rho(-1.0).unwrap_err().contains("rho"));
    assert!(r.set_learning_rate(0.0).unwrap_err().contains("lr"));

    r.reset([0.5, -0.5]).unwrap();
    let again = steps(&mut r, 2);
    assert_eq!(again[0].step, 0);
    assert_eq!(again[0].w, [0.5, -0.5]);
    // Fresh momentum: the first step after a reset is the plain SAM step.
    let (_, _, _, next) = reference_step(surface, SamKind::Sam, 0.3, 0.02, 0.5, None, [0.5, -0.5]);
    for i in 0..2 {
        assert!(
            close(again[0].next[i] as f64, next[i], 1e-5),
            "{again:?} vs {next:?}"
        );
    }
}

#[test]
fn a_zero_gradient_gives_no_perturbation_and_no_nan() {
    let gpu = common::gpu();
    for kind in [SamKind::Sam, SamKind::Asam] {
        let mut r = run(
            &gpu,
            Surface::Quadratic { condition: 10.0 },
            kind,
            0.5,
            0.1,
            0.0,
        );
        r.reset([0.0, 0.0]).unwrap();
        let trace = steps(&mut r, 2);
        for point in &trace {
            assert_eq!(point.perturbed, Some([0.0, 0.0]), "{kind:?}: {point:?}");
            assert_eq!(point.next, [0.0, 0.0], "{kind:?}: {point:?}");
        }
    }
}

#[test]
fn from_the_sharp_flat_default_start_sgd_stays_sharp_and_sam_and_asam_reach_the_flat_valley() {
    // What the view's note says about this surface's defaults.
    let gpu = common::gpu();
    let surface = Surface::SharpFlat;
    let info = surface.info();
    let end = |kind: SamKind, rho: f64| {
        let mut r = run(&gpu, surface, kind, rho, info.lr, 0.0);
        let trace = steps(&mut r, 400);
        trace.last().unwrap().next
    };
    let sgd = end(SamKind::None, 0.0);
    assert!(
        (sgd[0] + 0.6).abs() < 0.05 && sgd[1].abs() < 0.05,
        "SGD ended at {sgd:?}, not in the sharp valley at (−0.6, 0)"
    );
    for (kind, rho) in [(SamKind::Sam, info.rho), (SamKind::Asam, info.rho_asam)] {
        let w = end(kind, rho);
        assert!(
            (w[0] - 0.6).abs() < 0.1 && w[1].abs() < 0.1,
            "{kind:?} ended at {w:?}, not in the flat valley at (0.6, 0)"
        );
    }
}

#[test]
fn the_saddle_holds_sam_but_not_sgd_and_sam_bounces_rho_away_in_the_bowl() {
    // The other two notes of the view, at the suggested settings.
    let gpu = common::gpu();
    let end = |surface: Surface, kind: SamKind| {
        let config = SurfaceConfig::suggested(surface, kind);
        let mut r = SurfaceRun::new(&gpu, config).unwrap();
        let trace = steps(&mut r, 600);
        trace.last().unwrap().next
    };
    let sgd = end(Surface::Saddle, SamKind::None);
    assert!(
        sgd[0].abs() < 0.01 && (sgd[1].abs() - 1.0).abs() < 0.01,
        "SGD left the saddle for (0, ±1): {sgd:?}"
    );
    let asam = end(Surface::Saddle, SamKind::Asam);
    assert!(
        (asam[1].abs() - 1.0).abs() < 0.1,
        "ASAM left the saddle: {asam:?}"
    );
    let sam = end(Surface::Saddle, SamKind::Sam);
    assert!(
        sam[0].abs() < 0.1 && sam[1].abs() < 0.01,
        "SAM (ρ = 0.3) stays at the saddle: {sam:?}"
    );

    let bowl = Surface::Quadratic { condition: 10.0 };
    let sam = end(bowl, SamKind::Sam);
    let rho = bowl.info().rho as f32;
    assert!(
        sam[0].abs() < 1e-3 && (sam[1].abs() - rho).abs() < 1e-3,
        "SAM bounces at y = ±ρ: {sam:?}"
    );
    let sgd = end(bowl, SamKind::None);
    assert!(
        sgd[0].abs() < 1e-3 && sgd[1].abs() < 1e-3,
        "SGD reaches the minimum: {sgd:?}"
    );
}

#[test]
fn the_grid_kernel_draws_the_same_function() {
    let gpu = common::gpu();
    for surface in surfaces() {
        let grid = common::block_on(submit_grid(&gpu, surface, 9).unwrap().read()).unwrap();
        let [x0, x1, y0, y1] = grid.domain;
        assert_eq!(grid.loss.len(), 9);
        for (j, row) in grid.loss.iter().enumerate() {
            for (i, &v) in row.iter().enumerate() {
                let w = [
                    x0 + (x1 - x0) * i as f64 / 8.0,
                    y0 + (y1 - y0) * j as f64 / 8.0,
                ];
                let (loss, _) = reference(surface, w);
                assert!(
                    close(v as f64, loss, 1e-5),
                    "{surface:?} grid ({i}, {j}) at {w:?}: {v} vs {loss}"
                );
            }
        }
    }
    assert!(submit_grid(&gpu, Surface::Saddle, 1).is_err());
}

#[test]
fn bad_settings_are_refused_with_a_message() {
    let gpu = common::gpu();
    let bad = |config: SurfaceConfig| SurfaceRun::new(&gpu, config).err().expect("refused");
    let base = SurfaceConfig::suggested(Surface::Saddle, SamKind::Sam);
    assert!(bad(SurfaceConfig {
        sam: SamConfig::new(SamKind::Gsam),
        ..base.clone()
    })
    .contains("sam, asam"));
    assert!(bad(SurfaceConfig {
        lr: -1.0,
        ..base.clone()
    })
    .contains("lr"));
    assert!(bad(SurfaceConfig {
        momentum: 1.0,
        ..base.clone()
    })
    .contains("momentum"));
    assert!(bad(SurfaceConfig {
        start: [f64::NAN, 0.0],
        ..base.clone()
    })
    .contains("start"));
    assert!(Surface::parse("himmelblau", None)
        .unwrap_err()
        .contains("sharp-flat"));
    assert!(Surface::parse("quadratic", Some(0.5))
        .unwrap_err()
        .contains("condition"));
    assert!(Surface::parse("saddle", Some(3.0))
        .unwrap_err()
        .contains("condition"));
    let mut r = SurfaceRun::new(&gpu, base).unwrap();
    assert!(r.submit_steps(0).is_err());
    assert!(r.submit_steps(1001).is_err());
}
