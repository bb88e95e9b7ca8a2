// Distribution shifts of a split's images in the style of MNIST-C (Mu & Gilmer 2019), computed on
// the GPU from the original packed bytes into the split's pixel buffer (src/data/shift.rs). Pixels
// are read as v = byte/255 per channel plane (CHW); each invocation writes one word, i.e. four
// output bytes, round(clamp(v', 0, 1)·255).
//
// kind 0, rotation: v'(y, x) = bilinear sample of the original at the point that rotates onto
//   (y, x) by the angle whose cosine and sine are `a` and `b` (given by the host: WGSL's cos and
//   sin may be off by 2^-11), about the image centre; outside the image the value is 0.
// kind 1, Gaussian noise: v' = v + a·z, z a standard normal drawn from (seed, byte index).
// kind 2, Gaussian blur: v' = Σ w·v / Σ w over a (2r+1)² window, w = exp(−(dx² + dy²)/(2a²)),
//   r = RADIUS (⌈3a⌉ from the host), pixels outside the image count as 0 (MNIST's background).
// kind 3, contrast: v' = (v − ½)·a + ½.

override BYTES: u32;   // samples × features
override PLANE: u32;   // height × width
override HEIGHT: u32;
override WIDTH: u32;
override RADIUS: u32 = 0u;

struct Params {
    kind: u32,
    seed: u32,
    a: f32,
    b: f32,
}

@group(0) @binding(0) var<storage, read> original: array<u32>;  // 4 bytes per word, little-endian
@group(0) @binding(1) var<storage, read> params: Params;
@group(0) @binding(2) var<storage, read_write> shifted: array<u32>;

//#include random

fn value_at(index: u32) -> f32 {
    return f32((original[index / 4u] >> (8u * (index % 4u))) & 0xFFu) / 255.0;
}

// The value at row y, column x of the plane starting at byte `base` (0 outside the image).
fn pixel(base: u32, y: i32, x: i32) -> f32 {
    if (y < 0 || x < 0 || y >= i32(HEIGHT) || x >= i32(WIDTH)) { return 0.0; }
    return value_at(base + u32(y) * WIDTH + u32(x));
}

fn shifted_value(index: u32) -> f32 {
    let within = index % PLANE;
    let base = index - within;
    let y = i32(within / WIDTH);
    let x = i32(within % WIDTH);
    switch params.kind {
        case 0u: {
            let cy = 0.5 * f32(HEIGHT - 1u);
            let cx = 0.5 * f32(WIDTH - 1u);
            let dy = f32(y) - cy;
            let dx = f32(x) - cx;
            // The inverse rotation of (dx, dy) (image coordinates, y down): where (y, x) comes from.
            let sx = params.a * dx - params.b * dy + cx;
            let sy = params.b * dx + params.a * dy + cy;
            let x0 = floor(sx);
            let y0 = floor(sy);
            let fx = sx - x0;
            let fy = sy - y0;
            let ix = i32(x0);
            let iy = i32(y0);
            let top = mix(pixel(base, iy, ix), pixel(base, iy, ix + 1), fx);
            let bottom = mix(pixel(base, iy + 1, ix), pixel(base, iy + 1, ix + 1), fx);
            return mix(top, bottom, fy);
        }
        case 1u: {
            return value_at(index) + params.a * normal(pcg(params.seed ^ pcg(index)));
        }
        case 2u: {
            let r = i32(RADIUS);
            var total = 0.0;
            var weights = 0.0;
            for (var dy = -r; dy <= r; dy = dy + 1) {
                for (var dx = -r; dx <= r; dx = dx + 1) {
                    let w = exp(-f32(dx * dx + dy * dy) / (2.0 * params.a * params.a));
                    total = total + w * pixel(base, y + dy, x + dx);
                    weights = weights + w;
                }
            }
            return total / weights;
        }
        default: {
            return (value_at(index) - 0.5) * params.a + 0.5;
        }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let word = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (word * 4u >= BYTES) { return; }
    var packed = 0u;
    for (var k = 0u; k < 4u; k = k + 1u) {
        let index = word * 4u + k;
        if (index < BYTES) {
            let v = clamp(shifted_value(index), 0.0, 1.0);
            packed = packed | (u32(round(v * 255.0)) << (8u * k));
        }
    }
    shifted[word] = packed;
}
