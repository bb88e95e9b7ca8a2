// Elementwise binary ops on same-shape tensors: ADD (out = a + b), MUL (out = a * b),
// ADD_INPLACE (acc += x, used to accumulate a second gradient contribution).

override LEN: u32;

//#if ADD_INPLACE
@group(0) @binding(0) var<storage, read_write> acc: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
//#else
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
//#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= LEN) { return; }
//#if ADD_INPLACE
    acc[i] = acc[i] + x[i];
//#endif
//#if ADD
    out[i] = a[i] + b[i];
//#endif
//#if MUL
    out[i] = a[i] * b[i];
//#endif
}
