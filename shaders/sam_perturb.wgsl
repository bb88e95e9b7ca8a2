// SAM's ascent: saved = w; w ← w + ε with ε = ρ · T² ⊙ d / (‖T ⊙ d‖ + XI), the ε of every
// SAM-family variant (sam-algorithms.md §1). ‖T ⊙ d‖² was reduced beforehand into
// scalars[NORM_SLOT].x. T = 1 for SAM; with ADAPTIVE (ASAM) T = |w| + ETA, on weight tensors only
// when WEIGHTS_ONLY (the official ASAM form) or on every tensor (davda54's `adaptive=True`).
// The save is fused here so the restore after the second pass is an exact copy.
// SIGN: the p = ∞ ball, ε = ρ·sign(d) (no norm; sign(0) = 0).
// NEGATIVE: CR-SAM's second point, w = saved − ε (reads the saved weights, saves nothing).
// MASKED: ε ⊙ M with a per-element factor M: SSAM's and ESAM's 0/1 masks, μP²'s layer scales
// (the norm is whatever was reduced into NORM_SLOT: SSAM's whole g0, ESAM's kept tensors, μP²'s
// layer-weighted norm). RHO_SCALE multiplies ρ (ESAM's 1/β).

override LEN: u32;
override XI: f32 = 1e-12;
override ETA: f32 = 0.0;
override WEIGHTS_ONLY: bool = false;
override NORM_SLOT: u32 = 0u;
// Which component of scalars[NORM_SLOT] holds ‖T⊙d‖² (MSAM reads ‖v‖² from a DOTS slot's z).
override NORM_COMPONENT: u32 = 0u;
// −1 ascends against d (MSAM: d is the momentum buffer, the perturbation is along −v).
override DIRECTION_SIGN: f32 = 1.0;
override RHO_SCALE: f32 = 1.0;

struct SamUniforms {
    rho: f32,
    first_step: u32,
    average_weight: f32,
    sam_step: u32,
}

@group(0) @binding(0) var<storage, read_write> w: array<f32>;
//#if NEGATIVE
@group(0) @binding(1) var<storage, read> saved: array<f32>;
//#else
@group(0) @binding(1) var<storage, read_write> saved: array<f32>;
//#endif
@group(0) @binding(2) var<storage, read> d: array<f32>;
@group(0) @binding(3) var<storage, read> scalars: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> params: SamUniforms;
//#if ADAPTIVE
@group(0) @binding(5) var<storage, read> is_weight: array<f32>;
//#endif
//#if MASKED
@group(0) @binding(5) var<storage, read> mask: array<f32>;
//#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= LEN) { return; }
//#if NEGATIVE
    let wi = saved[i];
//#else
    let wi = w[i];
//#endif
    let scale = DIRECTION_SIGN * RHO_SCALE * params.rho / (sqrt(scalars[NORM_SLOT][NORM_COMPONENT]) + XI);
//#if SIGN
    let e = params.rho * sign(d[i]);
//#else
//#if ADAPTIVE
    var t = abs(wi) + ETA;
    if (WEIGHTS_ONLY && is_weight[i] == 0.0) { t = 1.0; }
    let e = scale * t * t * d[i];
//#else
//#if MASKED
    let e = scale * d[i] * mask[i];
//#else
    let e = scale * d[i];
//#endif
//#endif
//#endif
//#if NEGATIVE
    w[i] = wi - e;
//#else
    saved[i] = wi;
    w[i] = wi + e;
//#endif
}
