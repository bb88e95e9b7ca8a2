// Gathers one batch from a dataset that lives on the GPU as packed bytes: row b of the batch is
// sample order[start + b]; pixels (CHW) are normalised per channel as (byte/255 − MEANc)/STDc.
// Rows past the end of the split (a last partial evaluation batch) get zeros and label 0xFFFFFFFF,
// which the loss ignores.
//
// AUGMENT (training only): each row is a random crop of the image zero-padded by PAD pixels, and
// with FLIP flipped horizontally with probability ½ (torchvision's RandomCrop(padding=PAD) +
// RandomHorizontalFlip; padding is a black pixel, normalised like any other). The offsets come
// from a hash of (SEED, cursor.salt = the step number, the row's position), so runs are seeded
// and reproducible and every step draws new crops.

override ROWS: u32;      // batch size
override FEATURES: u32;  // bytes per sample (784 for MNIST)
override PLANE: u32;     // bytes per channel (H·W)
override MEAN0: f32;
override MEAN1: f32 = 0.0;
override MEAN2: f32 = 0.0;
override INV_STD0: f32;
override INV_STD1: f32 = 1.0;
override INV_STD2: f32 = 1.0;
override HEIGHT: u32 = 1u;
override WIDTH: u32 = 1u;
override PAD: u32 = 4u;
override SEED: u32 = 0u;

struct Cursor {
    start: u32,  // position in `order` of the batch's first sample
    end: u32,    // one past the last valid position
    salt: u32,   // the step number, for augmentation
    pad1: u32,
}

@group(0) @binding(0) var<storage, read> pixels: array<u32>;  // 4 bytes per word, little-endian
@group(0) @binding(1) var<storage, read> dataset_labels: array<u32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<uniform> cursor: Cursor;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;

//#include random

fn byte_at(index: u32) -> u32 {
    return (pixels[index / 4u] >> (8u * (index % 4u))) & 0xFFu;
}

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
    let channel = min(feature / PLANE, 2u);
    var byte = 0u;
//#if AUGMENT
    let r = pcg(pcg(SEED ^ pcg(cursor.salt)) + position);
    let span = 2u * PAD + 1u;
    let dy = i32(r % span) - i32(PAD);
    let dx = i32((r / span) % span) - i32(PAD);
//#if FLIP
    let flip = ((r / (span * span)) & 1u) == 1u;
//#else
    let flip = false;
//#endif
    let within = feature % PLANE;
    var col = within % WIDTH;
    if (flip) { col = WIDTH - 1u - col; }
    let src_row = i32(within / WIDTH) + dy;
    let src_col = i32(col) + dx;
    if (src_row >= 0 && src_row < i32(HEIGHT) && src_col >= 0 && src_col < i32(WIDTH)) {
        byte = byte_at(sample * FEATURES + (feature - within) + u32(src_row) * WIDTH + u32(src_col));
    }
//#else
    byte = byte_at(sample * FEATURES + feature);
//#endif
    let means = array<f32, 3>(MEAN0, MEAN1, MEAN2);
    let inv_stds = array<f32, 3>(INV_STD0, INV_STD1, INV_STD2);
    x[i] = (f32(byte) / 255.0 - means[channel]) * inv_stds[channel];
    if (feature == 0u) { labels[row] = dataset_labels[sample]; }
}
