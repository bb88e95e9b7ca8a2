// y = max(x, 0); dx = dy where x > 0 (PyTorch's choice: the subgradient at 0 is 0).
// RECORD also writes the pattern mask = 1 where x > 0; FOLLOW uses a recorded mask instead of the
// sign of x (y = x·mask, dx = dy·mask): the sharpness probe's fixed linear region (src/autograd).

override LEN: u32;

//#if FORWARD
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
//#if RECORD
@group(0) @binding(2) var<storage, read_write> mask: array<f32>;
//#endif
//#if FOLLOW
@group(0) @binding(2) var<storage, read> mask: array<f32>;
//#endif
//#else
//#if FOLLOW
@group(0) @binding(0) var<storage, read> mask: array<f32>;
//#else
@group(0) @binding(0) var<storage, read> x: array<f32>;
//#endif
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
//#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
    if (i >= LEN) { return; }
//#if FORWARD
//#if FOLLOW
    y[i] = x[i] * mask[i];
//#else
    y[i] = max(x[i], 0.0);
//#if RECORD
    mask[i] = select(0.0, 1.0, x[i] > 0.0);
//#endif
//#endif
//#else
//#if FOLLOW
    dx[i] = dy[i] * mask[i];
//#else
    dx[i] = select(0.0, dy[i], x[i] > 0.0);
//#endif
//#endif
}
