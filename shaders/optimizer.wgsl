// Base optimizers as one dispatch over the flat parameter vector, PyTorch semantics.
// SGD:   d = g + wd·w; with momentum μ: buf = d on the first step, else μ·buf + d (dampening 0);
//        d = d + μ·buf if Nesterov else buf; w ← w − lr·d.
// ADAM:  g ← g + wd·w (coupled, torch.optim.Adam); ADAMW: w ← w·(1 − lr·wd) (decoupled).
//        m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; w ← w − step_size · m / (√v / √bc2 + eps),
//        step_size = lr / bc1, computed on the CPU in f64 with the step count.
// FROM_SAVED: the update starts from `saved` (SAM's weights before the perturbation) instead of
// w, which fuses SAM's restore-by-copy into the update: w ← opt(saved, G), exact, one pass fewer.

override LEN: u32;

struct OptimizerUniforms {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    nesterov: u32,
    first_step: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    step_size: f32,              // lr / (1 − β1^t)
    bias_correction2_sqrt: f32,  // √(1 − β2^t)
    pad0: f32,
    pad1: f32,
}

@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<uniform> u: OptimizerUniforms;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
//#if !SGD
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
//#endif
//#if FROM_SAVED
//#if SGD
@group(0) @binding(4) var<storage, read> saved: array<f32>;
//#else
@group(0) @binding(5) var<storage, read> saved: array<f32>;
//#endif
//#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= LEN) { return; }
//#if FROM_SAVED
    var wi = saved[i];
//#else
    var wi = w[i];
//#endif
//#if SGD
    var d = g[i] + u.weight_decay * wi;
    if (u.momentum != 0.0) {
        var buf = d;
        if (u.first_step == 0u) { buf = u.momentum * m[i] + d; }
        m[i] = buf;
        if (u.nesterov != 0u) { d = d + u.momentum * buf; } else { d = buf; }
    }
    w[i] = wi - u.lr * d;
//#else
//#if ADAMW
    wi = wi * (1.0 - u.lr * u.weight_decay);
    let gi = g[i];
//#else
    let gi = g[i] + u.weight_decay * wi;
//#endif
    let mi = u.beta1 * m[i] + (1.0 - u.beta1) * gi;
    let vi = u.beta2 * v[i] + (1.0 - u.beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - u.step_size * mi / (sqrt(vi) / u.bias_correction2_sqrt + u.eps);
//#endif
}
