// The data movement around a convolution computed as matrix products (im2col). Layouts are
// PyTorch's: x [N, C, H, W], filters [CO, C, KH, KW]; the column tensor is cols[n, r, p] with
// r = (c·KH + kh)·KW + kw and p = oh·OW + ow, so one sample's output is filters[CO, R] · cols[n].
//
// IM2COL: one invocation per column element; out-of-image taps (zero padding) read 0.
// COL2IM: the adjoint, one invocation per input element gathering every (r, p) that read it (at
// most KH·KW of them), so the sum is race-free and in a fixed order.
// SUM_BATCH: out[i] = Σ_n partials[n·LEN + i], the second level of the filter gradient (the first,
// over each sample's pixels, is a batched matmul); ACCUMULATE adds to out (later sample chunks).
//
// The column tensor holds one chunk of samples, starting at sample N0 of x (so a fixed scratch
// serves any batch size).

override C: u32;
override H: u32;
override W: u32;
override KH: u32;
override KW: u32;
override STRIDE: u32;
override PAD: u32;
override OH: u32;
override OW: u32;
override LEN: u32;  // elements written: chunk·R·P for IM2COL, chunk·C·H·W for COL2IM
override N0: u32 = 0u;
override COUNT: u32 = 1u;  // SUM_BATCH: partials to add

//#if IM2COL
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> cols: array<f32>;
//#endif
//#if COL2IM
@group(0) @binding(0) var<storage, read> dcols: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
//#endif
//#if SUM_BATCH
@group(0) @binding(0) var<storage, read> partials: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
//#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= LEN) { return; }
    let P = OH * OW;
    let R = C * KH * KW;
//#if IM2COL
    let p = i % P;
    let r = (i / P) % R;
    let n = i / (P * R);
    let kw = r % KW;
    let kh = (r / KW) % KH;
    let c = r / (KW * KH);
    // Signed arithmetic: padding makes the top-left taps negative.
    let ih = i32((p / OW) * STRIDE + kh) - i32(PAD);
    let iw = i32((p % OW) * STRIDE + kw) - i32(PAD);
    var value = 0.0;
    if (ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W)) {
        value = x[(((N0 + n) * C + c) * H + u32(ih)) * W + u32(iw)];
    }
    cols[i] = value;
//#endif
//#if COL2IM
    let iw = i % W;
    let ih = (i / W) % H;
    let c = (i / (W * H)) % C;
    let n = i / (W * H * C);
    var total = 0.0;
    for (var kh = 0u; kh < KH; kh = kh + 1u) {
        // Output row oh reads input row oh·STRIDE + kh − PAD = ih.
        let row = i32(ih + PAD) - i32(kh);
        if (row < 0 || u32(row) % STRIDE != 0u) { continue; }
        let oh = u32(row) / STRIDE;
        if (oh >= OH) { continue; }
        for (var kw = 0u; kw < KW; kw = kw + 1u) {
            let col = i32(iw + PAD) - i32(kw);
            if (col < 0 || u32(col) % STRIDE != 0u) { continue; }
            let ow = u32(col) / STRIDE;
            if (ow >= OW) { continue; }
            let r = (c * KH + kh) * KW + kw;
            total = total + dcols[(n * R + r) * P + oh * OW + ow];
        }
    }
    dx[N0 * C * H * W + i] = total;
//#endif
//#if SUM_BATCH
    var total = 0.0;
    for (var n = 0u; n < COUNT; n = n + 1u) {
        total = total + partials[n * LEN + i];
    }
//#if ACCUMULATE
    out[i] = out[i] + total;
//#else
    out[i] = total;
//#endif
//#endif
}
