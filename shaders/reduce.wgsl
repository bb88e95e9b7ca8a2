// Deterministic sum of a tensor in two levels, no atomics: PARTIAL has each workgroup sum a fixed
// CHUNK of the input (lane-strided, then a fixed tree), FINAL has one workgroup sum the partials
// the same way and scale the result (S = 1 for sum, 1/n for mean). Same input, same bits.

override LEN: u32;
override CHUNK: u32 = 4096u;
override S: f32 = 1.0;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

var<workgroup> lanes: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
//#if PARTIAL
    let start = wg.x * CHUNK;
    let end = min(start + CHUNK, LEN);
//#else
    let start = 0u;
    let end = LEN;
//#endif
    var total = 0.0;
    for (var i = start + lane; i < end; i = i + 256u) {
        total = total + x[i];
    }
    lanes[lane] = total;
    workgroupBarrier();
    for (var width = 128u; width > 0u; width = width / 2u) {
        if (lane < width) {
            lanes[lane] = lanes[lane] + lanes[lane + width];
        }
        workgroupBarrier();
    }
    if (lane == 0u) {
//#if PARTIAL
        out[wg.x] = lanes[0];
//#else
        out[0] = S * lanes[0];
//#endif
    }
}
