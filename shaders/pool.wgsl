// 2-D pooling over [N, C, H, W] without padding (floor mode: OH = (H − KH)/STRIDE + 1).
// Forward: one invocation per output element. MAX also records which input element won (its
// index within the H×W plane; the first one on ties) so the backward needs no comparison.
// Backward: one invocation per input element, gathering over the windows that contain it (a fixed
// order, so overlapping windows stay race-free and deterministic).

override H: u32;
override W: u32;
override KH: u32;
override KW: u32;
override STRIDE: u32;
override OH: u32;
override OW: u32;
override LEN: u32;  // N·C·OH·OW forward, N·C·H·W backward

//#if FORWARD
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
//#if FOLLOW
@group(0) @binding(2) var<storage, read> argmax: array<u32>;
//#else
//#if MAX
@group(0) @binding(2) var<storage, read_write> argmax: array<u32>;
//#endif
//#endif
//#else
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
//#if MAX
@group(0) @binding(2) var<storage, read> argmax: array<u32>;
//#endif
//#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= LEN) { return; }
//#if FORWARD
    let ow = i % OW;
    let oh = (i / OW) % OH;
    let plane = (i / (OW * OH)) * H * W;
//#if FOLLOW
    // A recorded winner (the sharpness probe's fixed linear region, src/autograd).
    y[i] = x[plane + argmax[i]];
//#else
//#if MAX
    var best = x[plane + oh * STRIDE * W + ow * STRIDE];
    var best_at = oh * STRIDE * W + ow * STRIDE;
    for (var kh = 0u; kh < KH; kh = kh + 1u) {
        for (var kw = 0u; kw < KW; kw = kw + 1u) {
            let at = (oh * STRIDE + kh) * W + ow * STRIDE + kw;
            let v = x[plane + at];
            // Strictly greater keeps the first maximum; a NaN wins so it propagates (PyTorch).
            if (v > best || v != v) {
                best = v;
                best_at = at;
            }
        }
    }
    y[i] = best;
    argmax[i] = best_at;
//#else
    var total = 0.0;
    for (var kh = 0u; kh < KH; kh = kh + 1u) {
        for (var kw = 0u; kw < KW; kw = kw + 1u) {
            total = total + x[plane + (oh * STRIDE + kh) * W + ow * STRIDE + kw];
        }
    }
    y[i] = total / f32(KH * KW);
//#endif
//#endif
//#else
    let iw = i % W;
    let ih = (i / W) % H;
    let nc = i / (W * H);
    // Windows oh with oh·STRIDE ≤ ih < oh·STRIDE + KH.
    let oh_first = select(0u, (ih + 1u - KH + STRIDE - 1u) / STRIDE, ih + 1u > KH);
    let ow_first = select(0u, (iw + 1u - KW + STRIDE - 1u) / STRIDE, iw + 1u > KW);
    let oh_last = min(ih / STRIDE, OH - 1u);
    let ow_last = min(iw / STRIDE, OW - 1u);
    var total = 0.0;
    for (var oh = oh_first; oh <= oh_last; oh = oh + 1u) {
        for (var ow = ow_first; ow <= ow_last; ow = ow + 1u) {
            let o = (nc * OH + oh) * OW + ow;
//#if MAX
            if (argmax[o] == ih * W + iw) { total = total + dy[o]; }
//#else
            total = total + dy[o];
//#endif
        }
    }
//#if MAX
    dx[i] = total;
//#else
    dx[i] = total / f32(KH * KW);
//#endif
//#endif
}
