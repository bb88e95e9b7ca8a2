// Deterministic two-level reductions over flat parameter-space vectors (all parameters in one
// buffer), for SAM's global norms and read-outs. PARTIAL: workgroup w sums elements
// [w·CHUNK, (w+1)·CHUNK) lane-strided, then lane 0 adds the lane sums in order, into
// partials[w] (a vec4 of sums).
// FINAL: one workgroup sums the partials the same way into out[SLOT] (a vec4 slot).
//
// NORMS:  (Σ (T⊙g)², Σ g², 0, 0) where T is SAM's adaptive scale (ASAM): with ADAPTIVE,
//         T = |w| + ETA on weight tensors and, unless WEIGHTS_ONLY, on biases too (else 1 there);
//         with WEIGHTED, T is a given per-element vector (ESAM's tensor mask, μP²'s layer weights).
// DOTS:   (Σ a·b, Σ b·b, Σ a·a, 0), e.g. ⟨g0, g1⟩, ‖g1‖² and ‖g0‖².

override LEN: u32;
override CHUNK: u32 = 4096u;
override SLOT: u32 = 0u;
override ETA: f32 = 0.0;
override WEIGHTS_ONLY: bool = false;

//#if FINAL
@group(0) @binding(0) var<storage, read> partials: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>;
//#endif
//#if NORMS
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<vec4<f32>>;
//#if ADAPTIVE
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> is_weight: array<f32>;
//#endif
//#if WEIGHTED
@group(0) @binding(2) var<storage, read> weight: array<f32>;
//#endif
//#endif
//#if DOTS
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> partials: array<vec4<f32>>;
//#endif

var<workgroup> lanes: array<vec4<f32>, 256>;

fn term(i: u32) -> vec4<f32> {
//#if FINAL
    return partials[i];
//#endif
//#if NORMS
    let gi = g[i];
//#if ADAPTIVE
    var t = abs(w[i]) + ETA;
    if (WEIGHTS_ONLY && is_weight[i] == 0.0) { t = 1.0; }
    let tg = t * gi;
//#else
//#if WEIGHTED
    let tg = weight[i] * gi;
//#else
    let tg = gi;
//#endif
//#endif
    return vec4<f32>(tg * tg, gi * gi, 0.0, 0.0);
//#endif
//#if DOTS
    let ai = a[i];
    let bi = b[i];
    return vec4<f32>(ai * bi, bi * bi, ai * ai, 0.0);
//#endif
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
//#if FINAL
    let start = 0u;
    let end = LEN;
//#else
    let start = wg.x * CHUNK;
    let end = min(start + CHUNK, LEN);
//#endif
    var total = vec4<f32>(0.0);
    for (var i = start + lane; i < end; i = i + 256u) {
        total = total + term(i);
    }
    lanes[lane] = total;
    // One barrier, then lane 0 adds the 256 lane sums in order: on CPU adapters (lavapipe,
    // SwiftShader) a barrier costs far more than 256 additions, and the order stays fixed.
    workgroupBarrier();
    if (lane == 0u) {
        var sum = vec4<f32>(0.0);
        for (var l = 0u; l < 256u; l = l + 1u) {
            sum = sum + lanes[l];
        }
//#if FINAL
        out[SLOT] = sum;
//#else
        partials[wg.x] = sum;
//#endif
    }
}
