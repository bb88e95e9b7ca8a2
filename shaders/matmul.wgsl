//#if ENABLE_SUBGROUPS
enable subgroups;
//#endif
// C[M,N] = op(A)[M,K] · op(B)[K,N], register-blocked: each invocation computes a TM×TN tile of C
// (TM = 4, 8, 16 or 32 rows: defines ROWS8, ROWS16, ROWS32; TN = 4, 8 or 16 columns: COLS8,
// COLS16), stepping K four at a time; src/ops/matmul.rs picks the tile.
//
// Why on CPU adapters (lavapipe, SwiftShader): they run invocations as SIMD lanes, and a
// storage-buffer load becomes a loop over the lanes (Mesa 22's llvmpipe branches per lane and per
// component; SwiftShader gathers per component), so one load costs many FMAs. A k-step loads
// TM + TN vec4s per invocation and does 4·TM·TN multiply-adds: a bigger tile means fewer loads per
// FMA. SUBGROUP (defines SG4 / SG8: the subgroup size, which must equal WG_X so that a subgroup is
// one row of the workgroup and shares m0): the invocations of a subgroup need the same rows of A,
// so each loads TM / SG of the TM vec4s and subgroupBroadcast hands them round (a register
// shuffle), leaving TM / SG + TN loads per invocation and k-step. No workgroup memory: barriers are
// expensive there and shared-memory loads cost the same per lane as storage loads.
// ENABLE_SUBGROUPS (with SUBGROUP in the browser) writes the `enable subgroups;` that WGSL requires
// and that Naga (native) does not parse yet.
//
// Loads are vec4 along whichever dimension is stored contiguously when it is a multiple of 4
// (defines A_VEC4, B_VEC4, C_VEC4), otherwise the same tile is assembled from bounds-checked
// scalar loads. Out-of-range rows and columns load as zero and are not stored.
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

//#if ROWS32
const TM: u32 = 32u;
//#else
//#if ROWS16
const TM: u32 = 16u;
//#else
//#if ROWS8
const TM: u32 = 8u;
//#else
const TM: u32 = 4u;
//#endif
//#endif
//#endif
//#if COLS16
const TN: u32 = 16u;
//#else
//#if COLS8
const TN: u32 = 8u;
//#else
const TN: u32 = 4u;
//#endif
//#endif

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

// How many of the four indices start..start+3 lie below `limit`.
fn valid4(start: u32, limit: u32) -> u32 {
    return select(0u, min(4u, limit - start), start < limit);
}

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

// Rows m0..m0+3 of op(A) over k0..k0+3: column i of the result is row m0+i.
fn a_block(m0: u32, k0: u32, kv: u32) -> mat4x4<f32> {
//#if TRANS_A
    let mv = valid4(m0, M);
    return transpose(mat4x4<f32>(a_col(k0, m0, mv), a_col(k0 + 1u, m0, mv), a_col(k0 + 2u, m0, mv), a_col(k0 + 3u, m0, mv)));
//#else
    return mat4x4<f32>(a_row(m0, k0, kv), a_row(m0 + 1u, k0, kv), a_row(m0 + 2u, k0, kv), a_row(m0 + 3u, k0, kv));
//#endif
}

// Rows k0..k0+3 of op(B) over columns n0..n0+3, as the columns of the result, so that
// b_block · r = Σ_k r[k]·B[k, n0..n0+3] for a row r of A over the same k.
fn b_block(n0: u32, k0: u32, kv: u32) -> mat4x4<f32> {
//#if TRANS_B
    return transpose(mat4x4<f32>(b_col(n0, k0, kv), b_col(n0 + 1u, k0, kv), b_col(n0 + 2u, k0, kv), b_col(n0 + 3u, k0, kv)));
//#else
    let nv = valid4(n0, N);
    return mat4x4<f32>(b_row(k0, n0, nv), b_row(k0 + 1u, n0, nv), b_row(k0 + 2u, n0, nv), b_row(k0 + 3u, n0, nv));
//#endif
}

fn store_row(m: u32, n0: u32, value: vec4<f32>) {
    if (m >= M || n0 >= N) { return; }
//#if C_VEC4
    let i = (c_off + m * N + n0) / 4u;
//#if ACCUMULATE
    c[i] = c[i] + value;
//#else
    c[i] = value;
//#endif
//#else
    let base = c_off + m * N + n0;
    let nv = min(4u, N - n0);
    for (var j = 0u; j < nv; j = j + 1u) {
//#if ACCUMULATE
        c[base + j] = c[base + j] + value[j];
//#else
        c[base + j] = value[j];
//#endif
    }
//#endif
}

// Rows m0..m0+3 (the columns of `block`) over columns n0..n0+3 of C.
fn store_block(m0: u32, n0: u32, block: mat4x4<f32>) {
    store_row(m0, n0, block[0]);
    store_row(m0 + 1u, n0, block[1]);
    store_row(m0 + 2u, n0, block[2]);
    store_row(m0 + 3u, n0, block[3]);
}

//#if SUBGROUP
//#if SG4
const SG: u32 = 4u;
//#else
const SG: u32 = 8u;
//#endif

// Piece p (0..TM-1) of the A tile over k0..k0+3: row m0+p of op(A), or when A is stored
// transposed, the four rows m0+4(p/4).. at k = k0 + p%4.
fn a_piece(m0: u32, p: u32, k0: u32, kv: u32) -> vec4<f32> {
//#if TRANS_A
    let m = m0 + 4u * (p / 4u);
    return a_col(k0 + p % 4u, m, valid4(m, M));
//#else
    return a_row(m0 + p, k0, kv);
//#endif
}

// Pieces 4i..4i+3 as a_block(m0 + 4i, …) would return them.
fn a_block_of(p0: vec4<f32>, p1: vec4<f32>, p2: vec4<f32>, p3: vec4<f32>) -> mat4x4<f32> {
//#if TRANS_A
    return transpose(mat4x4<f32>(p0, p1, p2, p3));
//#else
    return mat4x4<f32>(p0, p1, p2, p3);
//#endif
}
//#endif

//#if SUBGROUP
// One-dimensional (Naga allows subgroup_invocation_id only there), arranged as WG_X × WG_Y with
// WG_X = SG: subgroups are runs of SG consecutive invocations, so each is one row and shares m0.
@compute @workgroup_size(WG_X * WG_Y)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) li: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let gid = vec3<u32>(wid.x * WG_X + li % WG_X, wid.y * WG_Y + li / WG_X, wid.z);
//#else
@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
//#endif
    let n0 = gid.x * TN;
    let m0 = gid.y * TM;
//#if SUBGROUP
    // Every invocation of the subgroup takes part in the broadcasts, in range or not.
//#else
    if (m0 >= M || n0 >= N) { return; }
//#endif
    a_off = BASE_A + gid.z * STRIDE_A;
    b_off = BASE_B + gid.z * STRIDE_B;
    c_off = BASE_C + gid.z * STRIDE_C;

    // acc<i><j>: rows m0+4i .. +3 (its columns) over columns n0+4j .. +3 of C; each k-step adds
    // the 4×4×4 block product b<j>·a<i> (64 multiply-adds).
    var acc00 = mat4x4<f32>();
//#if COLS8 || COLS16
    var acc01 = mat4x4<f32>();
//#endif
//#if COLS16
    var acc02 = mat4x4<f32>();
    var acc03 = mat4x4<f32>();
//#endif
//#if ROWS8 || ROWS16 || ROWS32
    var acc10 = mat4x4<f32>();
//#if COLS8 || COLS16
    var acc11 = mat4x4<f32>();
//#endif
//#if COLS16
    var acc12 = mat4x4<f32>();
    var acc13 = mat4x4<f32>();
//#endif
//#endif
//#if ROWS16 || ROWS32
    var acc20 = mat4x4<f32>();
//#if COLS8 || COLS16
    var acc21 = mat4x4<f32>();
//#endif
//#if COLS16
    var acc22 = mat4x4<f32>();
    var acc23 = mat4x4<f32>();
//#endif
    var acc30 = mat4x4<f32>();
//#if COLS8 || COLS16
    var acc31 = mat4x4<f32>();
//#endif
//#if COLS16
    var acc32 = mat4x4<f32>();
    var acc33 = mat4x4<f32>();
//#endif
//#endif
//#if ROWS32
    var acc40 = mat4x4<f32>();
//#if COLS8 || COLS16
    var acc41 = mat4x4<f32>();
//#endif
//#if COLS16
    var acc42 = mat4x4<f32>();
    var acc43 = mat4x4<f32>();
//#endif
    var acc50 = mat4x4<f32>();
//#if COLS8 || COLS16
    var acc51 = mat4x4<f32>();
//#endif
//#if COLS16
    var acc52 = mat4x4<f32>();
    var acc53 = mat4x4<f32>();
//#endif
    var acc60 = mat4x4<f32>();
//#if COLS8 || COLS16
    var acc61 = mat4x4<f32>();
//#endif
//#if COLS16
    var acc62 = mat4x4<f32>();
    var acc63 = mat4x4<f32>();
//#endif
    var acc70 = mat4x4<f32>();
//#if COLS8 || COLS16
    var acc71 = mat4x4<f32>();
//#endif
//#if COLS16
    var acc72 = mat4x4<f32>();
    var acc73 = mat4x4<f32>();
//#endif
//#endif
//#if SUBGROUP
    var pieces: array<vec4<f32>, TM / SG>;
//#endif
    for (var k0 = 0u; k0 < K; k0 = k0 + 4u) {
        let kv = min(4u, K - k0);
//#if SUBGROUP
        for (var t = 0u; t < TM / SG; t = t + 1u) {
            pieces[t] = a_piece(m0, lane + SG * t, k0, kv);
        }
        let a0 = a_block_of(subgroupBroadcast(pieces[0u / SG], 0u % SG), subgroupBroadcast(pieces[1u / SG], 1u % SG),
            subgroupBroadcast(pieces[2u / SG], 2u % SG), subgroupBroadcast(pieces[3u / SG], 3u % SG));
//#if ROWS8 || ROWS16 || ROWS32
        let a1 = a_block_of(subgroupBroadcast(pieces[4u / SG], 4u % SG), subgroupBroadcast(pieces[5u / SG], 5u % SG),
            subgroupBroadcast(pieces[6u / SG], 6u % SG), subgroupBroadcast(pieces[7u / SG], 7u % SG));
//#endif
//#if ROWS16 || ROWS32
        let a2 = a_block_of(subgroupBroadcast(pieces[8u / SG], 8u % SG), subgroupBroadcast(pieces[9u / SG], 9u % SG),
            subgroupBroadcast(pieces[10u / SG], 10u % SG), subgroupBroadcast(pieces[11u / SG], 11u % SG));
        let a3 = a_block_of(subgroupBroadcast(pieces[12u / SG], 12u % SG), subgroupBroadcast(pieces[13u / SG], 13u % SG),
            subgroupBroadcast(pieces[14u / SG], 14u % SG), subgroupBroadcast(pieces[15u / SG], 15u % SG));
//#endif
//#if ROWS32
        let a4 = a_block_of(subgroupBroadcast(pieces[16u / SG], 16u % SG), subgroupBroadcast(pieces[17u / SG], 17u % SG),
            subgroupBroadcast(pieces[18u / SG], 18u % SG), subgroupBroadcast(pieces[19u / SG], 19u % SG));
        let a5 = a_block_of(subgroupBroadcast(pieces[20u / SG], 20u % SG), subgroupBroadcast(pieces[21u / SG], 21u % SG),
            subgroupBroadcast(pieces[22u / SG], 22u % SG), subgroupBroadcast(pieces[23u / SG], 23u % SG));
        let a6 = a_block_of(subgroupBroadcast(pieces[24u / SG], 24u % SG), subgroupBroadcast(pieces[25u / SG], 25u % SG),
            subgroupBroadcast(pieces[26u / SG], 26u % SG), subgroupBroadcast(pieces[27u / SG], 27u % SG));
        let a7 = a_block_of(subgroupBroadcast(pieces[28u / SG], 28u % SG), subgroupBroadcast(pieces[29u / SG], 29u % SG),
            subgroupBroadcast(pieces[30u / SG], 30u % SG), subgroupBroadcast(pieces[31u / SG], 31u % SG));
//#endif
//#else
        let a0 = a_block(m0, k0, kv);
//#if ROWS8 || ROWS16 || ROWS32
        let a1 = a_block(m0 + 4u, k0, kv);
//#endif
//#if ROWS16 || ROWS32
        let a2 = a_block(m0 + 8u, k0, kv);
        let a3 = a_block(m0 + 12u, k0, kv);
//#endif
//#if ROWS32
        let a4 = a_block(m0 + 16u, k0, kv);
        let a5 = a_block(m0 + 20u, k0, kv);
        let a6 = a_block(m0 + 24u, k0, kv);
        let a7 = a_block(m0 + 28u, k0, kv);
//#endif
//#endif
        let b0 = b_block(n0, k0, kv);
//#if COLS8 || COLS16
        let b1 = b_block(n0 + 4u, k0, kv);
//#endif
//#if COLS16
        let b2 = b_block(n0 + 8u, k0, kv);
        let b3 = b_block(n0 + 12u, k0, kv);
//#endif
        acc00 = acc00 + b0 * a0;
//#if COLS8 || COLS16
        acc01 = acc01 + b1 * a0;
//#endif
//#if COLS16
        acc02 = acc02 + b2 * a0;
        acc03 = acc03 + b3 * a0;
//#endif
//#if ROWS8 || ROWS16 || ROWS32
        acc10 = acc10 + b0 * a1;
//#if COLS8 || COLS16
        acc11 = acc11 + b1 * a1;
//#endif
//#if COLS16
        acc12 = acc12 + b2 * a1;
        acc13 = acc13 + b3 * a1;
//#endif
//#endif
//#if ROWS16 || ROWS32
        acc20 = acc20 + b0 * a2;
//#if COLS8 || COLS16
        acc21 = acc21 + b1 * a2;
//#endif
//#if COLS16
        acc22 = acc22 + b2 * a2;
        acc23 = acc23 + b3 * a2;
//#endif
        acc30 = acc30 + b0 * a3;
//#if COLS8 || COLS16
        acc31 = acc31 + b1 * a3;
//#endif
//#if COLS16
        acc32 = acc32 + b2 * a3;
        acc33 = acc33 + b3 * a3;
//#endif
//#endif
//#if ROWS32
        acc40 = acc40 + b0 * a4;
//#if COLS8 || COLS16
        acc41 = acc41 + b1 * a4;
//#endif
//#if COLS16
        acc42 = acc42 + b2 * a4;
        acc43 = acc43 + b3 * a4;
//#endif
        acc50 = acc50 + b0 * a5;
//#if COLS8 || COLS16
        acc51 = acc51 + b1 * a5;
//#endif
//#if COLS16
        acc52 = acc52 + b2 * a5;
        acc53 = acc53 + b3 * a5;
//#endif
        acc60 = acc60 + b0 * a6;
//#if COLS8 || COLS16
        acc61 = acc61 + b1 * a6;
//#endif
//#if COLS16
        acc62 = acc62 + b2 * a6;
        acc63 = acc63 + b3 * a6;
//#endif
        acc70 = acc70 + b0 * a7;
//#if COLS8 || COLS16
        acc71 = acc71 + b1 * a7;
//#endif
//#if COLS16
        acc72 = acc72 + b2 * a7;
        acc73 = acc73 + b3 * a7;
//#endif
//#endif
    }
    store_block(m0, n0, acc00);
//#if COLS8 || COLS16
    store_block(m0, n0 + 4u, acc01);
//#endif
//#if COLS16
    store_block(m0, n0 + 8u, acc02);
    store_block(m0, n0 + 12u, acc03);
//#endif
//#if ROWS8 || ROWS16 || ROWS32
    store_block(m0 + 4u, n0, acc10);
//#if COLS8 || COLS16
    store_block(m0 + 4u, n0 + 4u, acc11);
//#endif
//#if COLS16
    store_block(m0 + 4u, n0 + 8u, acc12);
    store_block(m0 + 4u, n0 + 12u, acc13);
//#endif
//#endif
//#if ROWS16 || ROWS32
    store_block(m0 + 8u, n0, acc20);
//#if COLS8 || COLS16
    store_block(m0 + 8u, n0 + 4u, acc21);
//#endif
//#if COLS16
    store_block(m0 + 8u, n0 + 8u, acc22);
    store_block(m0 + 8u, n0 + 12u, acc23);
//#endif
    store_block(m0 + 12u, n0, acc30);
//#if COLS8 || COLS16
    store_block(m0 + 12u, n0 + 4u, acc31);
//#endif
//#if COLS16
    store_block(m0 + 12u, n0 + 8u, acc32);
    store_block(m0 + 12u, n0 + 12u, acc33);
//#endif
//#endif
//#if ROWS32
    store_block(m0 + 16u, n0, acc40);
//#if COLS8 || COLS16
    store_block(m0 + 16u, n0 + 4u, acc41);
//#endif
//#if COLS16
    store_block(m0 + 16u, n0 + 8u, acc42);
    store_block(m0 + 16u, n0 + 12u, acc43);
//#endif
    store_block(m0 + 20u, n0, acc50);
//#if COLS8 || COLS16
    store_block(m0 + 20u, n0 + 4u, acc51);
//#endif
//#if COLS16
    store_block(m0 + 20u, n0 + 8u, acc52);
    store_block(m0 + 20u, n0 + 12u, acc53);
//#endif
    store_block(m0 + 24u, n0, acc60);
//#if COLS8 || COLS16
    store_block(m0 + 24u, n0 + 4u, acc61);
//#endif
//#if COLS16
    store_block(m0 + 24u, n0 + 8u, acc62);
    store_block(m0 + 24u, n0 + 12u, acc63);
//#endif
    store_block(m0 + 28u, n0, acc70);
//#if COLS8 || COLS16
    store_block(m0 + 28u, n0 + 4u, acc71);
//#endif
//#if COLS16
    store_block(m0 + 28u, n0 + 8u, acc72);
    store_block(m0 + 28u, n0 + 12u, acc73);
//#endif
//#endif
}
