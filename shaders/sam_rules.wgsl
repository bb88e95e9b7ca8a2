// The direction and combine rules of the SAM variants (docs/sam-variants.md), each one dispatch
// over the flat parameter vector. scalars: vec4 slots written by flat_reduce.wgsl:
//   [0] = (‖T⊙d‖², ‖d‖², ·, ·) of the ascent direction, [1] = (⟨g0, g1⟩, ‖g1‖², ‖g0‖², ·),
//   [2] = (·, ‖gv‖², ·, ·) LookSAM's stored component.
//
// FSAM_DIRECTION  d = g0 − σ·m (d = g0 on the first step), then m ← λ·m + (1−λ)·g0 (m = g0 first).
// GSAM_COMBINE    g1 ← g1 − α·(g0 − c·g1), c = ⟨g0,g1⟩‖g0‖ / ((‖g1‖‖g0‖ + ξ)(‖g1‖ + ξ)).
// CRSAM_COMBINE   g₊ ← g₊ + γ(g₊ + g₋ − 2g0) + β(g₊ − g₋)   (g₊ in `g1`, g₋ in `g2`).
// LOOK_STORE      gv = g1 − (⟨g1,g0⟩ / (‖g0‖² + ξ))·g0.
// LOOK_NORMALIZE  gv ← gv / (‖gv‖ + ξ).
// LOOK_COMBINE    G = g + α‖g‖·ĝv.
// MSAM_DECAY      g1 ← g1 + wd·(w − saved): MSAM decays at the perturbed weights (the base
//                 optimizer adds wd·saved itself).
// SAMPA_Y         w = saved − lr·(g_y + μ·buf + wd·saved), or saved − lr·g_y before SGD has a
//                 momentum buffer (first step, or μ = 0): SAMPa's look-ahead point y.
// SAMPA_COMBINE   G = (1−λ)·G_a + λ·g_y' into g1 (G_a there), g_y ← g_y' (in g0).
// SWA_UPDATE      avg ← avg + (w − avg)·u.average_weight: a running mean of the iterates.
// MSHARP_ACCUMULATE  acc (+)= SCALE·g (FIRST overwrites): m-sharpness averages its sub-batches.
// FISHER_ACCUMULATE  acc (+)= g² (FIRST overwrites): SSAM's Fisher information, Σ of per-sample g².
// NSTEP_ASCENT    δ = (w − saved) + α·g/(‖g‖ + ξ) into `delta` (‖g‖² in scalars[0].y).
// NSTEP_PROJECT   w = saved + δ·min(1, ρ/‖δ‖) (‖δ‖² in scalars[3].y).
// RSAM_DIRECTION  d ← λ·g0 + d: R-SAM's ascent from its random start δ0 (in d).

override LEN: u32;
override XI: f32 = 1e-12;
override SIGMA: f32 = 1.0;
override LAMBDA: f32 = 0.95;
override ALPHA: f32 = 0.0;
override GAMMA: f32 = 0.0;
override BETA: f32 = 0.0;
override WEIGHT_DECAY: f32 = 0.0;
override SCALE: f32 = 1.0;

struct SamUniforms {
    rho: f32,
    first_step: u32,
    average_weight: f32,  // SWA: 1/(n+1) for the n-th averaged iterate
    sam_step: u32,  // SAM steps taken before this one
}

//#if FSAM_DIRECTION
@group(0) @binding(0) var<storage, read> g0: array<f32>;
@group(0) @binding(1) var<storage, read_write> m: array<f32>;
@group(0) @binding(2) var<storage, read_write> d: array<f32>;
@group(0) @binding(3) var<uniform> u: SamUniforms;
//#endif
//#if GSAM_COMBINE
@group(0) @binding(0) var<storage, read_write> g1: array<f32>;
@group(0) @binding(1) var<storage, read> g0: array<f32>;
@group(0) @binding(2) var<storage, read> scalars: array<vec4<f32>>;
//#endif
//#if CRSAM_COMBINE
@group(0) @binding(0) var<storage, read_write> g1: array<f32>;
@group(0) @binding(1) var<storage, read> g0: array<f32>;
@group(0) @binding(2) var<storage, read> g2: array<f32>;
//#endif
//#if LOOK_STORE
@group(0) @binding(0) var<storage, read_write> gv: array<f32>;
@group(0) @binding(1) var<storage, read> g0: array<f32>;
@group(0) @binding(2) var<storage, read> g1: array<f32>;
@group(0) @binding(3) var<storage, read> scalars: array<vec4<f32>>;
//#endif
//#if LOOK_NORMALIZE
@group(0) @binding(0) var<storage, read_write> gv: array<f32>;
@group(0) @binding(1) var<storage, read> scalars: array<vec4<f32>>;
//#endif
//#if LOOK_COMBINE
@group(0) @binding(0) var<storage, read_write> combined: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> gv: array<f32>;
@group(0) @binding(3) var<storage, read> scalars: array<vec4<f32>>;
//#endif
//#if MSAM_DECAY
@group(0) @binding(0) var<storage, read_write> g1: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> saved: array<f32>;
//#endif
//#if SAMPA_Y
struct OptimizerUniforms {
    lr: f32,
    momentum: f32,
    weight_decay: f32,
    nesterov: u32,
    first_step: u32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    step_size: f32,
    bias_correction2_sqrt: f32,
    pad0: f32,
    pad1: f32,
}
@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read> saved: array<f32>;
@group(0) @binding(2) var<storage, read> g_y: array<f32>;
@group(0) @binding(3) var<storage, read> buf: array<f32>;
@group(0) @binding(4) var<uniform> opt: OptimizerUniforms;
//#endif
//#if SAMPA_COMBINE
@group(0) @binding(0) var<storage, read_write> g1: array<f32>;
@group(0) @binding(1) var<storage, read> g0: array<f32>;
@group(0) @binding(2) var<storage, read_write> g_y: array<f32>;
//#endif
//#if SWA_UPDATE
@group(0) @binding(0) var<storage, read_write> average: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<uniform> u: SamUniforms;
//#endif
//#if MSHARP_ACCUMULATE
@group(0) @binding(0) var<storage, read_write> acc: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
//#endif
//#if FISHER_ACCUMULATE
@group(0) @binding(0) var<storage, read_write> acc: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
//#endif
//#if RSAM_DIRECTION
@group(0) @binding(0) var<storage, read_write> d: array<f32>;
@group(0) @binding(1) var<storage, read> g0: array<f32>;
//#endif
//#if NSTEP_ASCENT
@group(0) @binding(0) var<storage, read_write> delta: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> saved: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read> scalars: array<vec4<f32>>;
//#endif
//#if NSTEP_PROJECT
@group(0) @binding(0) var<storage, read_write> w: array<f32>;
@group(0) @binding(1) var<storage, read> saved: array<f32>;
@group(0) @binding(2) var<storage, read> delta: array<f32>;
@group(0) @binding(3) var<storage, read> scalars: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> u: SamUniforms;
//#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= LEN) { return; }
//#if FSAM_DIRECTION
    let gi = g0[i];
    if (u.first_step != 0u) {
        d[i] = gi;
        m[i] = gi;
    } else {
        let mi = m[i];
        d[i] = gi - SIGMA * mi;
        m[i] = LAMBDA * mi + (1.0 - LAMBDA) * gi;
    }
//#endif
//#if GSAM_COMBINE
    let dots = scalars[1];
    let g1_norm = sqrt(dots.y);
    let g0_norm = sqrt(dots.z);
    let c = dots.x * g0_norm / ((g1_norm * g0_norm + XI) * (g1_norm + XI));
    let g1i = g1[i];
    g1[i] = g1i - ALPHA * (g0[i] - c * g1i);
//#endif
//#if CRSAM_COMBINE
    let plus = g1[i];
    let minus = g2[i];
    g1[i] = plus + GAMMA * (plus + minus - 2.0 * g0[i]) + BETA * (plus - minus);
//#endif
//#if LOOK_STORE
    let dots = scalars[1];
    gv[i] = g1[i] - dots.x / (dots.z + XI) * g0[i];
//#endif
//#if LOOK_NORMALIZE
    gv[i] = gv[i] / (sqrt(scalars[2].y) + XI);
//#endif
//#if LOOK_COMBINE
    combined[i] = g[i] + ALPHA * sqrt(scalars[0].y) * gv[i];
//#endif
//#if MSAM_DECAY
    g1[i] = g1[i] + WEIGHT_DECAY * (w[i] - saved[i]);
//#endif
//#if SAMPA_Y
    let x = saved[i];
    var step = g_y[i];
    if (opt.first_step == 0u && opt.momentum != 0.0) {
        step = step + opt.momentum * buf[i] + opt.weight_decay * x;
    }
    w[i] = x - opt.lr * step;
//#endif
//#if SAMPA_COMBINE
    let fresh = g0[i];
    g1[i] = (1.0 - LAMBDA) * g1[i] + LAMBDA * fresh;
    g_y[i] = fresh;
//#endif
//#if SWA_UPDATE
    let a = average[i];
    average[i] = a + (w[i] - a) * u.average_weight;
//#endif
//#if MSHARP_ACCUMULATE
//#if FIRST
    acc[i] = SCALE * g[i];
//#else
    acc[i] = acc[i] + SCALE * g[i];
//#endif
//#endif
//#if FISHER_ACCUMULATE
//#if FIRST
    acc[i] = g[i] * g[i];
//#else
    acc[i] = acc[i] + g[i] * g[i];
//#endif
//#endif
//#if RSAM_DIRECTION
    d[i] = LAMBDA * g0[i] + d[i];
//#endif
//#if NSTEP_ASCENT
    delta[i] = (w[i] - saved[i]) + ALPHA * g[i] / (sqrt(scalars[0].y) + XI);
//#endif
//#if NSTEP_PROJECT
    let norm = sqrt(scalars[3].y);
    var factor = 1.0;
    if (norm > u.rho) { factor = u.rho / norm; }
    w[i] = saved[i] + delta[i] * factor;
//#endif
}
