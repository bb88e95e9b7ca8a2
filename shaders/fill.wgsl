// y = VALUE everywhere: seeds the backward pass with d(loss)/d(loss) = 1.

override LEN: u32;
override VALUE: f32;

@group(0) @binding(0) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= LEN) { return; }
    y[i] = VALUE;
}
