// Flat-vector operations of the sharpness instruments (src/sharpness): Hessian-vector products by
// central differences, power iteration, Hutchinson's trace, worst-case sharpness and loss-landscape
// slices. Coefficients come from a uniform written before each submission (the instruments are
// driven from the host, one small plan at a time).
//
// AXPBY             out = a·x + b·y
// AXPBYPCZ          out = a·x + b·y + c·z (a landscape point w + α·d1 + β·d2)
// SCALE_ADD         out = a·out + b·x (in place: a buffer cannot be bound writable and readable)
// MUL               out = x ⊙ y
// ABS_PLUS          out = |x| + a (ASAM's T = |w| + η)
// PROJECT           out = x·min(1, a/‖x‖) with ‖x‖² = scalars[SLOT].y (the ρ-ball)
// RADEMACHER        out = ±1 per parameter, GAUSSIAN out = N(0, 1) per parameter, 0 on padding;
//                   drawn from the hash of (seed, draw, parameter index), as shaders/sam_masks.wgsl
// FILTER_NORMALIZE  one invocation per row (`rows` table as R-SAM's): d_row ← d_row·‖w_row‖/‖d_row‖
//                   on every row of a ≥ 2-D tensor, d = 0 on 1-D tensors (Li et al. 2018, biases
//                   and BatchNorm parameters not perturbed)

override LEN: u32;
override TENSORS: u32 = 0u;
override ROWS: u32 = 0u;
override SLOT: u32 = 0u;

struct Coefficients {
    a: f32,
    b: f32,
    c: f32,
    seed: u32,
    draw: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

//#if AXPBY || AXPBYPCZ || MUL
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<uniform> k: Coefficients;
//#if AXPBYPCZ
@group(0) @binding(4) var<storage, read> z: array<f32>;
//#endif
//#endif
//#if ABS_PLUS || SCALE_ADD
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> k: Coefficients;
//#endif
//#if PROJECT
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> scalars: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> k: Coefficients;
//#endif
//#if RADEMACHER || GAUSSIAN
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> tensors: array<vec4<u32>>;
@group(0) @binding(2) var<uniform> k: Coefficients;
//#endif
//#if FILTER_NORMALIZE
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> rows: array<vec4<u32>>;
//#endif

//#include random

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
//#if FILTER_NORMALIZE
    if (i >= ROWS) { return; }
    let row = rows[i];
    if (row.w == 1u) {
        for (var e = 0u; e < row.y; e = e + 1u) { out[row.x + e] = 0.0; }
        return;
    }
    var weight_sq = 0.0;
    var direction_sq = 0.0;
    for (var e = 0u; e < row.y; e = e + 1u) {
        let wi = w[row.x + e];
        let di = out[row.x + e];
        weight_sq = weight_sq + wi * wi;
        direction_sq = direction_sq + di * di;
    }
    let factor = sqrt(weight_sq) / (sqrt(direction_sq) + 1e-10);
    for (var e = 0u; e < row.y; e = e + 1u) { out[row.x + e] = out[row.x + e] * factor; }
//#else
    if (i >= LEN) { return; }
//#endif
//#if AXPBY
    out[i] = k.a * x[i] + k.b * y[i];
//#endif
//#if AXPBYPCZ
    out[i] = k.a * x[i] + k.b * y[i] + k.c * z[i];
//#endif
//#if MUL
    out[i] = x[i] * y[i];
//#endif
//#if ABS_PLUS
    out[i] = abs(x[i]) + k.a;
//#endif
//#if SCALE_ADD
    out[i] = k.a * out[i] + k.b * x[i];
//#endif
//#if PROJECT
    let norm = sqrt(scalars[SLOT].y);
    if (norm > k.a) { out[i] = out[i] * (k.a / norm); }
//#endif
//#if RADEMACHER || GAUSSIAN
    var value = 0.0;
    for (var j = 0u; j < TENSORS; j = j + 1u) {
        let t = tensors[j];
        if (i >= t.x && i < t.x + t.y) {
            let p = t.z + (i - t.x);
            let source = pcg(pcg(pcg(k.seed ^ 0x50524F42u) + k.draw) + p);  // "PROB"
//#if RADEMACHER
            value = select(-1.0, 1.0, (pcg(source) & 1u) == 1u);
//#else
            value = normal(source);
//#endif
        }
    }
    out[i] = value;
//#endif
}
