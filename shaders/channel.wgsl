// Per-channel ops on activations laid out [N, C, S] (S = H·W for images, 1 for [N, C]): the conv
// bias and BatchNorm. Reductions over a channel (N·S values) run one workgroup per channel, each
// lane summing a fixed strided subset and a fixed tree combining the lanes: deterministic, no
// atomics. The `stats` scratch of a BatchNorm holds [mean | inv_std | Σdy | Σdy·x̂], C values each.
//
// BIAS:        y = x + b[c]                                   (elementwise)
// CHANNEL_SUM: out[c] = Σ_{n,s} dy                            (the conv bias gradient)
// BN_STATS:    batch mean and 1/√(var+ε) (biased var, two-pass); with UPDATE_RUNNING also
//              running ← (1−MOMENTUM)·running + MOMENTUM·stat, unbiased var (PyTorch); with
//              CUMULATIVE the momentum is 1/(batches seen + 1) (recomputing statistics for SWA)
// BN_EVAL_STATS: the same two rows from the running statistics (evaluation mode)
// BN_NORMALIZE: y = γ·(x − mean)·inv_std + β                   (elementwise)
// BN_GRAD_REDUCE: dβ = Σ dy, dγ = Σ dy·x̂, also kept in `stats` for the input gradient
// BN_GRAD_INPUT: dx = γ·inv_std·(dy − (Σdy + x̂·Σdy·x̂)/M) in training, γ·inv_std·dy with EVAL

override N: u32;
override C: u32;
override S: u32;
override EPS: f32 = 1e-5;
override MOMENTUM: f32 = 0.1;

//#if BIAS
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
//#endif
//#if CHANNEL_SUM
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
//#endif
//#if BN_STATS
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> stats: array<f32>;
//#if UPDATE_RUNNING
@group(0) @binding(2) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_var: array<f32>;
//#if CUMULATIVE
// Batches already folded in; the momentum is 1/(seen + 1), an equal-weight average over batches
// (PyTorch's momentum=None, used by swa_utils.update_bn).
struct Seen {
    batches: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}
@group(0) @binding(4) var<uniform> seen: Seen;
//#endif
//#endif
//#endif
//#if BN_EVAL_STATS
@group(0) @binding(0) var<storage, read> running_mean: array<f32>;
@group(0) @binding(1) var<storage, read> running_var: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
//#endif
//#if BN_NORMALIZE
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
//#endif
//#if BN_GRAD_REDUCE
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> stats: array<f32>;
@group(0) @binding(3) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dbeta: array<f32>;
//#endif
//#if BN_GRAD_INPUT
@group(0) @binding(0) var<storage, read> dy: array<f32>;
//#if EVAL
@group(0) @binding(1) var<storage, read> stats: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
//#else
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
//#endif
//#endif

var<workgroup> lanes: array<f32, 256>;
var<workgroup> lanes2: array<f32, 256>;

// Index of element j (0 ≤ j < N·S) of channel c.
fn at(c: u32, j: u32) -> u32 {
    return ((j / S) * C + c) * S + j % S;
}

// Tree-sums lanes (and lanes2) into lanes[0] (lanes2[0]); every lane must call it.
fn combine(lane: u32) {
    workgroupBarrier();
    for (var width = 128u; width > 0u; width = width / 2u) {
        if (lane < width) {
            lanes[lane] = lanes[lane] + lanes[lane + width];
            lanes2[lane] = lanes2[lane] + lanes2[lane + width];
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let M = N * S;
//#if BIAS
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= N * C * S) { return; }
    y[i] = x[i] + bias[(i / S) % C];
//#endif
//#if CHANNEL_SUM
    let c = wg.x;
    var total = 0.0;
    for (var j = lane; j < M; j = j + 256u) { total = total + dy[at(c, j)]; }
    lanes[lane] = total;
    lanes2[lane] = 0.0;
    combine(lane);
    if (lane == 0u) { out[c] = lanes[0]; }
//#endif
//#if BN_STATS
    let c = wg.x;
    var total = 0.0;
    for (var j = lane; j < M; j = j + 256u) { total = total + x[at(c, j)]; }
    lanes[lane] = total;
    lanes2[lane] = 0.0;
    combine(lane);
    let mean = lanes[0] / f32(M);
    workgroupBarrier();
    var squares = 0.0;
    for (var j = lane; j < M; j = j + 256u) {
        let d = x[at(c, j)] - mean;
        squares = squares + d * d;
    }
    lanes[lane] = squares;
    combine(lane);
    if (lane == 0u) {
        let variance = lanes[0] / f32(M);
        stats[c] = mean;
        stats[C + c] = inverseSqrt(variance + EPS);
//#if UPDATE_RUNNING
        let unbiased = lanes[0] / f32(max(M, 2u) - 1u);
//#if CUMULATIVE
        let momentum = 1.0 / f32(seen.batches + 1u);
//#else
        let momentum = MOMENTUM;
//#endif
        running_mean[c] = (1.0 - momentum) * running_mean[c] + momentum * mean;
        running_var[c] = (1.0 - momentum) * running_var[c] + momentum * unbiased;
//#endif
    }
//#endif
//#if BN_EVAL_STATS
    let c = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (c >= C) { return; }
    stats[c] = running_mean[c];
    stats[C + c] = inverseSqrt(running_var[c] + EPS);
//#endif
//#if BN_NORMALIZE
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= N * C * S) { return; }
    let c = (i / S) % C;
    y[i] = gamma[c] * (x[i] - stats[c]) * stats[C + c] + beta[c];
//#endif
//#if BN_GRAD_REDUCE
    let c = wg.x;
    let mean = stats[c];
    let inv_std = stats[C + c];
    var sum_dy = 0.0;
    var sum_dy_xhat = 0.0;
    for (var j = lane; j < M; j = j + 256u) {
        let i = at(c, j);
        sum_dy = sum_dy + dy[i];
        sum_dy_xhat = sum_dy_xhat + dy[i] * (x[i] - mean) * inv_std;
    }
    lanes[lane] = sum_dy;
    lanes2[lane] = sum_dy_xhat;
    combine(lane);
    if (lane == 0u) {
        dbeta[c] = lanes[0];
        dgamma[c] = lanes2[0];
        stats[2u * C + c] = lanes[0];
        stats[3u * C + c] = lanes2[0];
    }
//#endif
//#if BN_GRAD_INPUT
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= N * C * S) { return; }
    let c = (i / S) % C;
    let inv_std = stats[C + c];
//#if EVAL
    dx[i] = gamma[c] * inv_std * dy[i];
//#else
    let xhat = (x[i] - stats[c]) * inv_std;
    dx[i] = gamma[c] * inv_std * (dy[i] - (stats[2u * C + c] + xhat * stats[3u * C + c]) / f32(M));
//#endif
//#endif
}
