// Gathers one batch from a dataset that lives on the GPU as packed bytes: row b of the batch is
// sample order[start + b]; pixels are normalised as (byte/255 − MEAN)/STD. Rows past the end of
// the split (a last partial evaluation batch) get zeros and label 0xFFFFFFFF, which the loss ignores.

override ROWS: u32;      // batch size
override FEATURES: u32;  // bytes per sample (784 for MNIST)
override MEAN: f32;
override INV_STD: f32;

struct Cursor {
    start: u32,  // position in `order` of the batch's first sample
    end: u32,    // one past the last valid position
    pad0: u32,
    pad1: u32,
}

@group(0) @binding(0) var<storage, read> pixels: array<u32>;  // 4 bytes per word, little-endian
@group(0) @binding(1) var<storage, read> dataset_labels: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<uniform> cursor: Cursor;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= ROWS * FEATURES) { return; }
    let row = i / FEATURES;
    let feature = i % FEATURES;
    let position = cursor.start + row;
    if (position >= cursor.end) {
        x[i] = 0.0;
        if (feature == 0u) { labels[row] = 0xFFFFFFFFu; }
        return;
    }
    let sample = order[position];
    let byte_index = sample * FEATURES + feature;
    let byte = (pixels[byte_index / 4u] >> (8u * (byte_index % 4u))) & 0xFFu;
    x[i] = (f32(byte) / 255.0 - MEAN) * INV_STD;
    if (feature == 0u) { labels[row] = dataset_labels[sample]; }
}
