// FMA-chain peak (bench/kernels.rs natively, bench/page/kernels.js in the browser): every
// invocation runs ITERS iterations of a dependent chain of vec4 multiply-adds (x = x·m + a), with
// 1, 4 or 8 independent chains (defines CHAINS4, CHAINS8) so a CPU adapter's SIMD units have
// work in flight; many workgroups keep every core busy. Each vec4 multiply-add is 8 FLOP. The result is stored so the
// compiler cannot drop the chain. FMA uses the fma() builtin; without it the chain is written as
// the multiply and add that samlab's matmul kernel uses (mat4x4 · vec4 + acc).
//
// Preprocessed like shaders/*.wgsl: `//#if NAME` (or `A || B`) / `//#else` / `//#endif`.

override ITERS: u32 = 1024u;

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;

//#if FMA
fn chain(x: vec4<f32>, m: vec4<f32>, a: vec4<f32>) -> vec4<f32> { return fma(x, m, a); }
//#else
fn chain(x: vec4<f32>, m: vec4<f32>, a: vec4<f32>) -> vec4<f32> { return x * m + a; }
//#endif

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.y * groups.x * 64u + gid.x;
    // m slightly below 1 and a small: the chain converges to a/(1-m) and stays finite.
    let m = vec4<f32>(0.9999, 0.99991, 0.99992, 0.99993);
    let a = vec4<f32>(f32(i & 1023u) * 1e-7 + 1e-4);
    var x0 = vec4<f32>(f32(i & 255u) * 1e-3);
//#if CHAINS4 || CHAINS8
    var x1 = x0 + vec4<f32>(0.25);
    var x2 = x0 + vec4<f32>(0.5);
    var x3 = x0 + vec4<f32>(0.75);
//#endif
//#if CHAINS8
    var x4 = x0 + vec4<f32>(1.0);
    var x5 = x0 + vec4<f32>(1.25);
    var x6 = x0 + vec4<f32>(1.5);
    var x7 = x0 + vec4<f32>(1.75);
//#endif
    for (var n = 0u; n < ITERS; n = n + 1u) {
        x0 = chain(x0, m, a);
//#if CHAINS4 || CHAINS8
        x1 = chain(x1, m, a);
        x2 = chain(x2, m, a);
        x3 = chain(x3, m, a);
//#endif
//#if CHAINS8
        x4 = chain(x4, m, a);
        x5 = chain(x5, m, a);
        x6 = chain(x6, m, a);
        x7 = chain(x7, m, a);
//#endif
    }
//#if CHAINS8
    out[i] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
//#else
//#if CHAINS4
    out[i] = x0 + x1 + x2 + x3;
//#else
    out[i] = x0;
//#endif
//#endif
}
