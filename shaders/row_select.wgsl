// ESAM's sharpness-sensitive data selection (docs/sam-variants.md): the KK rows of a batch whose
// loss rose most from w to w + ε, copied into a smaller batch for the second gradient.
//
// SELECT (one workgroup): sharpness s_r = after[r] − before[r] (padding rows, label ≥ CLASSES, rank
// last); row r is chosen when fewer than KK rows rank above it (larger s, or equal s and a lower
// index: exactly KK rows, deterministic). index[0..KK) lists the chosen rows in ascending order.
// GATHER: x_sub[j] = x[index[j]] (FEATURES floats a row) and labels_sub[j] = labels[index[j]].

override ROWS: u32;
override KK: u32;
override CLASSES: u32;
override FEATURES: u32 = 1u;

//#if SELECT
@group(0) @binding(0) var<storage, read> before: array<f32>;
@group(0) @binding(1) var<storage, read> after: array<f32>;
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> chosen: array<u32>;
@group(0) @binding(4) var<storage, read_write> index: array<u32>;

fn sharpness(r: u32) -> f32 {
    if (labels[r] >= CLASSES) { return -3.0e38; }
    return after[r] - before[r];
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lane: u32) {
    for (var r = lane; r < ROWS; r = r + 256u) {
        let s = sharpness(r);
        var above = 0u;
        for (var q = 0u; q < ROWS; q = q + 1u) {
            let t = sharpness(q);
            if (t > s || (t == s && q < r)) { above = above + 1u; }
        }
        chosen[r] = select(0u, 1u, above < KK);
    }
    storageBarrier();
    workgroupBarrier();
    for (var r = lane; r < ROWS; r = r + 256u) {
        if (chosen[r] == 1u) {
            var position = 0u;
            for (var q = 0u; q < r; q = q + 1u) { position = position + chosen[q]; }
            index[position] = r;
        }
    }
}
//#endif
//#if GATHER
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<u32>;
@group(0) @binding(2) var<storage, read> index: array<u32>;
@group(0) @binding(3) var<storage, read_write> x_sub: array<f32>;
@group(0) @binding(4) var<storage, read_write> labels_sub: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= KK * FEATURES) { return; }
    let j = i / FEATURES;
    let row = index[j];
    x_sub[i] = x[row * FEATURES + (i % FEATURES)];
    if (i % FEATURES == 0u) { labels_sub[j] = labels[row]; }
}
//#endif
