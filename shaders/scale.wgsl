// y = S · x. With BROADCAST, x is a single element (the gradient of a scalar) spread over y:
// the backward of sum (S = 1) and mean (S = 1/n).

override LEN: u32;
override S: f32 = 1.0;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= LEN) { return; }
//#if BROADCAST
    y[i] = S * x[0];
//#else
    y[i] = S * x[i];
//#endif
}
