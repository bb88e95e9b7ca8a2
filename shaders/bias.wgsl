// FORWARD: y[r, c] = x[r, c] + bias[c] (broadcast over rows).
// BACKWARD: dbias[c] = Σ_r dy[r, c], one invocation per column summing rows in order, so the
// result is deterministic (no atomics).

override ROWS: u32;
override COLS: u32;

//#if FORWARD
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
//#else
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dbias: array<f32>;
//#endif

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lane: u32) {
    let i = (wg.y * nwg.x + wg.x) * 256u + lane;
//#if FORWARD
    if (i >= ROWS * COLS) { return; }
    y[i] = x[i] + bias[i % COLS];
//#else
    if (i >= COLS) { return; }
    var total = 0.0;
    for (var r = 0u; r < ROWS; r = r + 1u) {
        total = total + dy[r * COLS + i];
    }
    dbias[i] = total;
//#endif
}
