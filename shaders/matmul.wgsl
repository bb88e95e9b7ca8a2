// C[M,N] = op(A)[M,K] · op(B)[K,N], register-blocked: each invocation computes a 4×4 tile of C,
// stepping K four at a time. On CPU adapters (lavapipe, SwiftShader) barriers are expensive, so
// this kernel uses no workgroup memory; vec4 loads are used along whichever dimension is stored
// contiguously when that dimension is a multiple of 4 (defines A_VEC4, B_VEC4, C_VEC4), otherwise
// the same tile is assembled from bounds-checked scalar loads.
//
// TRANS_A: A is stored [K,M] (read as Aᵀ); TRANS_B: B is stored [N,K] (a PyTorch Linear weight).
// ACCUMULATE: C += result instead of C = result.
// Batched: workgroup z is the batch index; operand offsets are BASE + z·STRIDE elements (a stride
// of 0 shares an operand, e.g. one conv filter bank for every sample). Bases and strides are
// multiples of 4 wherever the operand's VEC4 is on.

override M: u32;
override N: u32;
override K: u32;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override STRIDE_A: u32 = 0u;
override STRIDE_B: u32 = 0u;
override STRIDE_C: u32 = 0u;
override BASE_A: u32 = 0u;
override BASE_B: u32 = 0u;
override BASE_C: u32 = 0u;

var<private> a_off: u32;
var<private> b_off: u32;
var<private> c_off: u32;

//#if A_VEC4
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
//#else
@group(0) @binding(0) var<storage, read> a: array<f32>;
//#endif
//#if B_VEC4
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
//#else
@group(0) @binding(1) var<storage, read> b: array<f32>;
//#endif
//#if C_VEC4
@group(0) @binding(2) var<storage, read_write> c: array<vec4<f32>>;
//#else
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
//#endif

// Four consecutive elements of A starting at `base`, of which the first `valid` are in range.
fn load_a(base: u32, valid: u32) -> vec4<f32> {
    let i = a_off + base;
//#if A_VEC4
    return a[i / 4u];
//#else
    var v = vec4<f32>(0.0);
    if (valid > 0u) { v.x = a[i]; }
    if (valid > 1u) { v.y = a[i + 1u]; }
    if (valid > 2u) { v.z = a[i + 2u]; }
    if (valid > 3u) { v.w = a[i + 3u]; }
    return v;
//#endif
}

fn load_b(base: u32, valid: u32) -> vec4<f32> {
    let i = b_off + base;
//#if B_VEC4
    return b[i / 4u];
//#else
    var v = vec4<f32>(0.0);
    if (valid > 0u) { v.x = b[i]; }
    if (valid > 1u) { v.y = b[i + 1u]; }
    if (valid > 2u) { v.z = b[i + 2u]; }
    if (valid > 3u) { v.w = b[i + 3u]; }
    return v;
//#endif
}

// Row `m` of op(A), elements k0..k0+3 (zero outside the matrix).
fn a_row(m: u32, k0: u32, kv: u32) -> vec4<f32> {
    if (m >= M) { return vec4<f32>(0.0); }
    return load_a(m * K + k0, kv);
}

// Column `k` of op(A) restricted to rows m0..m0+3, used when A is stored transposed.
fn a_col(k: u32, m0: u32, mv: u32) -> vec4<f32> {
    if (k >= K) { return vec4<f32>(0.0); }
    return load_a(k * M + m0, mv);
}

fn b_row(k: u32, n0: u32, nv: u32) -> vec4<f32> {
    if (k >= K) { return vec4<f32>(0.0); }
    return load_b(k * N + n0, nv);
}

fn b_col(n: u32, k0: u32, kv: u32) -> vec4<f32> {
    if (n >= N) { return vec4<f32>(0.0); }
    return load_b(n * K + k0, kv);
}

fn store_row(m: u32, n0: u32, nv: u32, value: vec4<f32>) {
    if (m >= M) { return; }
//#if C_VEC4
    let i = (c_off + m * N + n0) / 4u;
//#if ACCUMULATE
    c[i] = c[i] + value;
//#else
    c[i] = value;
//#endif
//#else
    let base = c_off + m * N + n0;
    for (var j = 0u; j < nv; j = j + 1u) {
//#if ACCUMULATE
        c[base + j] = c[base + j] + value[j];
//#else
        c[base + j] = value[j];
//#endif
    }
//#endif
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let n0 = gid.x * 4u;
    let m0 = gid.y * 4u;
    if (m0 >= M || n0 >= N) { return; }
    a_off = BASE_A + gid.z * STRIDE_A;
    b_off = BASE_B + gid.z * STRIDE_B;
    c_off = BASE_C + gid.z * STRIDE_C;
    let mv = min(4u, M - m0);
    let nv = min(4u, N - n0);

    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < K; k0 = k0 + 4u) {
        let kv = min(4u, K - k0);
        // Rows r_i of the A tile (over k) ...
//#if TRANS_A
        let at = transpose(mat4x4<f32>(a_col(k0, m0, mv), a_col(k0 + 1u, m0, mv), a_col(k0 + 2u, m0, mv), a_col(k0 + 3u, m0, mv)));
        let r0 = at[0];
        let r1 = at[1];
        let r2 = at[2];
        let r3 = at[3];
//#else
        let r0 = a_row(m0, k0, kv);
        let r1 = a_row(m0 + 1u, k0, kv);
        let r2 = a_row(m0 + 2u, k0, kv);
        let r3 = a_row(m0 + 3u, k0, kv);
//#endif
        // ... and the B tile as a matrix whose columns are its rows over n, so B·r_i = Σ_k r_i[k]·B[k,:].
//#if TRANS_B
        let bt = transpose(mat4x4<f32>(b_col(n0, k0, kv), b_col(n0 + 1u, k0, kv), b_col(n0 + 2u, k0, kv), b_col(n0 + 3u, k0, kv)));
//#else
        let bt = mat4x4<f32>(b_row(k0, n0, nv), b_row(k0 + 1u, n0, nv), b_row(k0 + 2u, n0, nv), b_row(k0 + 3u, n0, nv));
//#endif
        acc0 = acc0 + bt * r0;
        acc1 = acc1 + bt * r1;
        acc2 = acc2 + bt * r2;
        acc3 = acc3 + bt * r3;
    }
    store_row(m0, n0, nv, acc0);
    store_row(m0 + 1u, n0, nv, acc1);
    store_row(m0 + 2u, n0, nv, acc2);
    store_row(m0 + 3u, n0, nv, acc3);
}
