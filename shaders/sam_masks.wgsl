// Per-tensor and per-element random masks and noise of the SAM variants that draw at random
// (docs/sam-variants.md). Every draw is an integer hash of (run seed, a per-rule salt, the SAM step
// and an index), so a run is reproducible and tests/golden/*.py can recompute each draw exactly.
// `tensors` describes the flat layout: one vec4 per parameter tensor (flat offset, length, index of
// its first element among all parameters, row length); padding between tensors belongs to none.
//
// ESAM_MASK           mask = 1 on the tensors ESAM perturbs this step (each kept with probability
//                     BETA, drawn per tensor and step; all of them on the first SAM step), 0 elsewhere.
// SSAMD_INIT_SCORE    score = a uniform in (0, 1] per parameter (SSAM-D's random initial mask), 0 on padding.
// SSAMD_DEATH_SCORE   score = (|g0| + 1e-7)·mask: live parameters ranked by gradient magnitude.
// SSAMD_GROWTH_SCORE  score = uniform in (0, 1]·(1 − mask): the dead parameters in random order.
// MASK_UNION          mask = mask + other (disjoint 0/1 masks).
// RSAM_NOISE          one invocation per row (`rows`: flat offset, length, first parameter index,
//                     1 for a 1-D tensor): δ0 = SIGMA·‖w_row‖·z (z standard normal), saved = w,
//                     w += δ0, δ0 kept in `noise`. R-SAM's filter-wise random start.

override LEN: u32;
override TENSORS: u32 = 0u;
override ROWS: u32 = 0u;
override SEED: u32 = 0u;
override BETA: f32 = 1.0;
override SIGMA: f32 = 0.0;

// Salts that keep the rules' random streams apart ("ESAM", "SSDI", "SSDG", "RSAM").
const ESAM_SALT: u32 = 0x4553414Du;
const SSAMD_INIT_SALT: u32 = 0x53534449u;
const SSAMD_GROWTH_SALT: u32 = 0x53534447u;
const RSAM_SALT: u32 = 0x5253414Du;

struct SamUniforms {
    rho: f32,
    first_step: u32,
    average_weight: f32,
    sam_step: u32,
}

//#if ESAM_MASK
@group(0) @binding(0) var<storage, read> tensors: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> mask: array<f32>;
@group(0) @binding(2) var<uniform> u: SamUniforms;
//#endif
//#if SSAMD_INIT_SCORE
@group(0) @binding(0) var<storage, read> tensors: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> score: array<f32>;
//#endif
//#if SSAMD_DEATH_SCORE
@group(0) @binding(0) var<storage, read> g0: array<f32>;
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> score: array<f32>;
//#endif
//#if SSAMD_GROWTH_SCORE
@group(0) @binding(0) var<storage, read> tensors: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> mask: array<f32>;
@group(0) @binding(2) var<storage, read_write> score: array<f32>;
@group(0) @binding(3) var<uniform> u: SamUniforms;
//#endif
//#if MASK_UNION
@group(0) @binding(0) var<storage, read_write> mask: array<f32>;
@group(0) @binding(1) var<storage, read> other: array<f32>;
//#endif
//#if RSAM_NOISE
@group(0) @binding(0) var<storage, read> rows: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> saved: array<f32>;
@group(0) @binding(3) var<storage, read_write> noise: array<f32>;
@group(0) @binding(4) var<uniform> u: SamUniforms;
//#endif

//#include random

fn stream(salt: u32, step: u32) -> u32 {
    return pcg(pcg(SEED ^ salt) + step);
}

// The uniform in (0, 1] of parameter p of a stream (never 0, so every live entry outranks padding).
fn positive_uniform(base: u32, p: u32) -> f32 {
    return f32((pcg(base + p) >> 8u) + 1u) / 16777216.0;
}

// The tensor holding flat element i, or TENSORS for padding.
fn tensor_of(i: u32) -> u32 {
//#if ESAM_MASK || SSAMD_INIT_SCORE || SSAMD_GROWTH_SCORE
    for (var j = 0u; j < TENSORS; j = j + 1u) {
        let t = tensors[j];
        if (i >= t.x && i < t.x + t.y) { return j; }
    }
//#endif
    return TENSORS;
}

// Parameter index of flat element i (its tensor `j` known).
fn parameter_index(i: u32, j: u32) -> u32 {
//#if SSAMD_INIT_SCORE || SSAMD_GROWTH_SCORE
    return tensors[j].z + (i - tensors[j].x);
//#else
    return 0u;
//#endif
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
//#if RSAM_NOISE
    if (i >= ROWS) { return; }
    let row = rows[i];
    var sum = 0.0;
    for (var e = 0u; e < row.y; e = e + 1u) {
        let v = w[row.x + e];
        sum = sum + v * v;
    }
    var norm = sqrt(sum);
    if (row.w == 1u) { norm = norm + 1e-16; }
    let base = stream(RSAM_SALT, u.sam_step);
    for (var e = 0u; e < row.y; e = e + 1u) {
        let at = row.x + e;
        let delta = SIGMA * norm * normal(pcg(base + row.z + e));
        let wi = w[at];
        saved[at] = wi;
        noise[at] = delta;
        w[at] = wi + delta;
    }
//#else
    if (i >= LEN) { return; }
//#endif
//#if ESAM_MASK
    let j = tensor_of(i);
    var keep = 0.0;
    if (j < TENSORS) {
        keep = 1.0;
        if (u.sam_step > 0u && unit_uniform(pcg(stream(ESAM_SALT, u.sam_step) + j)) >= BETA) {
            keep = 0.0;
        }
    }
    mask[i] = keep;
//#endif
//#if SSAMD_INIT_SCORE
    let j = tensor_of(i);
    var value = 0.0;
    if (j < TENSORS) {
        value = positive_uniform(stream(SSAMD_INIT_SALT, 0u), parameter_index(i, j));
    }
    score[i] = value;
//#endif
//#if SSAMD_DEATH_SCORE
    score[i] = (abs(g0[i]) + 1e-7) * mask[i];
//#endif
//#if SSAMD_GROWTH_SCORE
    let j = tensor_of(i);
    var value = 0.0;
    if (j < TENSORS) {
        value = positive_uniform(stream(SSAMD_GROWTH_SALT, u.sam_step), parameter_index(i, j)) * (1.0 - mask[i]);
    }
    score[i] = value;
//#endif
//#if MASK_UNION
    mask[i] = mask[i] + other[i];
//#endif
}
