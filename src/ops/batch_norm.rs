use super::conv::channel_kernel;
use crate::autograd::{Graph, TensorId};
use crate::gpu::{grid_1d, BufView, Kernel};

/// How a BatchNorm normalises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NormMode {
    /// With the batch's own statistics; `update_running` folds them into the running statistics
    /// (off in SAM's extra passes, davda54 semantics: the running statistics see each batch once).
    Train { update_running: bool },
    /// With the batch's own statistics, folded into the running statistics as an equal-weight
    /// average over batches (`RunningStats::seen` counts them): recomputing the statistics of
    /// other weights, e.g. an SWA average (PyTorch's `swa_utils.update_bn`).
    Recompute,
    /// With the running statistics (evaluation).
    Eval,
}

/// A BatchNorm layer's non-trainable state: PyTorch's `running_mean` and `running_var` [C].
#[derive(Clone, Debug)]
pub struct RunningStats {
    pub mean: BufView,
    pub var: BufView,
    /// `NormMode::Recompute` only: a uniform `{batches seen, 0, 0, 0}`.
    pub seen: Option<BufView>,
}

pub const BATCH_NORM_EPS: f32 = 1e-5;
pub const BATCH_NORM_MOMENTUM: f32 = 0.1;

/// BatchNorm over channel dim 1 of x [N, C] (BatchNorm1d) or [N, C, H, W] (BatchNorm2d), as
/// PyTorch's `F.batch_norm` with eps 1e-5 and momentum 0.1: y = γ·(x − μ)/√(σ² + ε) + β with the
/// biased batch variance; the running variance is updated with the unbiased one.
pub fn batch_norm(
    g: &mut Graph,
    x: TensorId,
    gamma: TensorId,
    beta: TensorId,
    running: &RunningStats,
    mode: NormMode,
) -> TensorId {
    let shape = g.shape(x).to_vec();
    assert!(
        shape.len() >= 2 && g.shape(gamma) == [shape[1]] && g.shape(beta) == [shape[1]],
        "batch_norm expects x [N, C, …] with γ and β of [C], got {shape:?}"
    ); // ok: graph-construction bug
    let (n, c) = (shape[0], shape[1]);
    let spatial: usize = shape[2..].iter().product();
    let kernel = move |variant: &'static str| {
        channel_kernel(variant, n, c, spatial)
            .constant("EPS", BATCH_NORM_EPS)
            .constant("MOMENTUM", BATCH_NORM_MOMENTUM)
    };
    let y = g.output(&shape, &[x, gamma, beta]);
    let (xv, gv, bv, yv) = (
        g.data(x).clone(),
        g.data(gamma).clone(),
        g.data(beta).clone(),
        g.data(y).clone(),
    );
    // [mean | inv_std | Σdy | Σdy·x̂], C each (see shaders/channel.wgsl).
    let stats = g.alloc(4 * c);
    match mode {
        NormMode::Train { update_running } => {
            let k = kernel("BN_STATS").define_if(update_running, "UPDATE_RUNNING");
            let mut bindings = vec![&xv, &stats];
            if update_running {
                bindings.extend([&running.mean, &running.var]);
            }
            g.launch(&k, &bindings, [c as u32, 1, 1]);
        }
        NormMode::Recompute => {
            let seen = running
                .seen
                .as_ref()
                .expect("recomputing statistics needs the batch counter"); // ok: caller bug
            let k = kernel("BN_STATS")
                .define("UPDATE_RUNNING")
                .define("CUMULATIVE");
            g.launch(
                &k,
                &[&xv, &stats, &running.mean, &running.var, seen],
                [c as u32, 1, 1],
            );
        }
        NormMode::Eval => g.launch(
            &kernel("BN_EVAL_STATS"),
            &[&running.mean, &running.var, &stats],
            grid_1d(c),
        ),
    }
    g.launch(
        &kernel("BN_NORMALIZE"),
        &[&xv, &stats, &gv, &bv, &yv],
        grid_1d(yv.len),
    );
    g.record(y, move |g, dy| {
        let dy = dy.clone();
        let (dgamma, dbeta) = (g.alloc(c), g.alloc(c));
        g.launch(
            &kernel("BN_GRAD_REDUCE"),
            &[&dy, &xv, &stats, &dgamma, &dbeta],
            [c as u32, 1, 1],
        );
        for (param, grad) in [(gamma, &dgamma), (beta, &dbeta)] {
            g.contribute_grad(param, |g, d| {
                let copy = Kernel::new("scale").constant("LEN", c as u32);
                g.launch(&copy, &[grad, d], grid_1d(c));
            });
        }
        g.contribute_grad(x, |g, dx| {
            let k = kernel("BN_GRAD_INPUT");
            if mode == NormMode::Eval {
                g.launch(&k.define("EVAL"), &[&dy, &stats, &gv, dx], grid_1d(dx.len));
            } else {
                g.launch(&k, &[&dy, &xv, &stats, &gv, dx], grid_1d(dx.len));
            }
        });
    });
    y
}
