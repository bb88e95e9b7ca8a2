// Kernel benchmark in the browser (bench/all.mjs): on the page's WebGPU adapter, an FMA-chain peak
// (bench/fma.wgsl) next to samlab's matmul kernel (shaders/matmul.wgsl, preprocessed and
// specialised exactly as src/ops/matmul.rs `batched_matmul_into` does for one product). Same
// method as bench/kernels.rs natively: a round puts `reps` dispatches in one compute pass, submits
// and awaits onSubmittedWorkDone; the figure is the median over rounds. Each matmul's result is
// checked against a CPU product at a few entries.
import { median, preprocess, webgpuAdapter } from './common.js';

// src/ops/matmul.rs `MatmulTiling::choose` and `workgroups`: the register tile (rows × columns of C
// per invocation), whether a subgroup shares its A loads (where the adapter has one fixed
// subgroup size of 4 or 8) and the workgroup arrangement. `tile` ({tm, tn, subgroups}) overrides
// the choice for a sweep.
// samlab's wasm never sees subgroups (wgpu 30's WebGPU backend does not map the `subgroups`
// feature), so its choice is the one without; a sweep's `s` tiles use the adapter's own.
function matmulConfig(m, n, fixedSubgroupSize, tile) {
  const sg = tile?.subgroups ? fixedSubgroupSize : undefined;
  if (tile?.subgroups && !sg) throw new Error('this adapter has no fixed subgroup size of 4 or 8');
  let tm, tn;
  if (tile) ({ tm, tn } = tile);
  else [tm, tn] = [m, n].map((len) => (len >= 16 ? 16 : len >= 8 ? 8 : 4));
  const tilesM = Math.ceil(m / tm);
  const [wgX, wgY] = sg ? [sg, Math.min(64 / sg, tilesM)] : [8, 8];
  return { tm, tn, sg, wgX, wgY, groups: [Math.ceil(Math.ceil(n / tn) / wgX), Math.ceil(tilesM / wgY)] };
}

// Median wall-clock seconds per dispatch, and GPU-process CPU seconds per dispatch when the driver
// exposes `gpuProcessCpuSeconds` (bench/all.mjs reads /proc for Chromium's GPU process, where a CPU
// adapter such as SwiftShader runs the shaders): with the machine's other load taken out.
async function timeRounds(device, pipeline, bindGroup, groups, reps, rounds) {
  const run = async (n) => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < n; i++) pass.dispatchWorkgroups(...groups);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run(1); // compiles, warms
  const cpu = window.gpuProcessCpuSeconds;
  const cpu0 = cpu ? await cpu() : undefined;
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await run(reps);
    times.push((performance.now() - t0) / 1000 / reps);
  }
  const cpuSeconds = cpu0 !== undefined ? ((await cpu()) - cpu0) / rounds / reps : undefined;
  return { seconds: median(times), cpuSeconds };
}

const rates = (flop, { seconds, cpuSeconds }) => ({ gflops: flop / seconds / 1e9, cpuGflops: cpuSeconds ? flop / cpuSeconds / 1e9 : undefined });

async function checked(device, fn) {
  device.pushErrorScope('validation');
  const result = await fn();
  const error = await device.popErrorScope();
  if (error) throw new Error(error.message);
  return result;
}

function storage(device, data, extra = 0) {
  const buffer = device.createBuffer({ size: Math.max(16, data.byteLength), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extra });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}

async function readBack(device, buffer, bytes) {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

async function fmaPeak(device, source, { fma, chains }, flopPerRound, rounds) {
  const code = preprocess(source, [...(fma ? ['FMA'] : []), ...(chains > 1 ? [`CHAINS${chains}`] : [])]);
  const iters = 1024;
  const groups = [512, 4, 1];
  const invocations = 64 * groups[0] * groups[1];
  return checked(device, async () => {
    const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main', constants: { ITERS: iters } } });
    const out = storage(device, new Float32Array(invocations * 4));
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] });
    const flop = invocations * iters * 8 * chains;
    const t = await timeRounds(device, pipeline, bindGroup, groups, Math.max(1, Math.ceil(flopPerRound / flop)), rounds);
    out.destroy();
    return rates(flop, t);
  });
}

async function matmul(device, fixedSubgroupSize, source, { m, n, k, layout, tile }, flopPerRound, rounds) {
  const transA = layout === 'TN';
  const transB = layout === 'NT';
  const cfg = matmulConfig(m, n, fixedSubgroupSize, tile);
  const defines = [];
  if (cfg.tm > 4) defines.push(`ROWS${cfg.tm}`);
  if (cfg.tn > 4) defines.push(`COLS${cfg.tn}`);
  if (cfg.sg) defines.push('SUBGROUP', 'ENABLE_SUBGROUPS');
  if (cfg.sg === 4) defines.push('SG4');
  if (transA) defines.push('TRANS_A');
  if (transB) defines.push('TRANS_B');
  if ((transA ? m : k) % 4 === 0) defines.push('A_VEC4');
  if ((transB ? k : n) % 4 === 0) defines.push('B_VEC4');
  if (n % 4 === 0) defines.push('C_VEC4');
  const fill = (len, seed) => Float32Array.from({ length: len }, (_, i) => ((i * 7919 + seed) % 1000) / 1000 - 0.5);
  const a = fill(m * k, 1); // [M,K], or [K,M] when TRANS_A
  const b = fill(k * n, 2); // [K,N], or [N,K] when TRANS_B
  return checked(device, async () => {
    const module = device.createShaderModule({ code: preprocess(source, defines) });
    const constants = { M: m, N: n, K: k, WG_X: cfg.wgX, WG_Y: cfg.wgY, STRIDE_A: 0, STRIDE_B: 0, STRIDE_C: 0, BASE_A: 0, BASE_B: 0, BASE_C: 0 };
    const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main', constants } });
    const [ba, bb, bc] = [storage(device, a), storage(device, b), storage(device, new Float32Array(m * n))];
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [ba, bb, bc].map((buffer, binding) => ({ binding, resource: { buffer } })) });
    const groups = [...cfg.groups, 1];
    const flop = 2 * m * n * k;
    const t = await timeRounds(device, pipeline, bindGroup, groups, Math.max(1, Math.ceil(flopPerRound / flop)), rounds);
    // Spot check against the CPU.
    const c = await readBack(device, bc, m * n * 4);
    let worst = 0;
    for (let s = 0; s < 16; s++) {
      const i = (s * 7919) % m, j = (s * 104729) % n;
      let ref = 0;
      for (let p = 0; p < k; p++) ref += (transA ? a[p * m + i] : a[i * k + p]) * (transB ? b[j * k + p] : b[p * n + j]);
      worst = Math.max(worst, Math.abs(c[i * n + j] - ref) / (1 + Math.abs(ref)));
    }
    for (const buf of [ba, bb, bc]) buf.destroy();
    if (!(worst < 1e-3)) throw new Error(`matmul ${m}x${n}x${k} ${layout}: result differs from the CPU (relative error ${worst})`);
    return rates(flop, t);
  });
}

window.benchKernels = async ({ rounds, flopPerRound, shapes, tiles }) => {
  const adapterObj = await navigator.gpu?.requestAdapter();
  if (!adapterObj) throw new Error('no WebGPU adapter');
  // As src/gpu/mod.rs natively: subgroups where the adapter has one fixed size of 4 or 8.
  const { subgroupMinSize: sgMin, subgroupMaxSize: sgMax } = adapterObj.info;
  const fixedSubgroupSize = adapterObj.features.has('subgroups') && sgMin === sgMax && (sgMin === 4 || sgMin === 8) ? sgMin : undefined;
  const device = await adapterObj.requestDevice({ requiredFeatures: fixedSubgroupSize ? ['subgroups'] : [] });
  const adapter = await webgpuAdapter();
  const [fmaSource, matmulSource] = await Promise.all(['/bench/fma.wgsl', '/shaders/matmul.wgsl'].map(async (u) => (await fetch(u)).text()));
  const fma = [];
  for (const form of [true, false].flatMap((fma) => [1, 4, 8].map((chains) => ({ fma, chains })))) {
    const name = `${form.fma ? 'fma()' : 'mul+add'}, ${form.chains} chain${form.chains > 1 ? 's' : ''}`;
    try {
      fma.push({ form: name, ...(await fmaPeak(device, fmaSource, form, flopPerRound, rounds)) });
    } catch (e) {
      fma.push({ form: name, error: String(e?.message ?? e) });
    }
  }
  // `tiles` (optional, e.g. [{tm: 8, tn: 8, subgroups: false}, …]): measure every shape with each
  // configuration instead of the one src/ops/matmul.rs would choose.
  const matmuls = [];
  for (const s of (tiles ?? [undefined]).flatMap((tile) => shapes.map((s) => ({ ...s, tile })))) {
    try {
      matmuls.push({ ...s, ...(await matmul(device, fixedSubgroupSize, matmulSource, s, flopPerRound, rounds)) });
    } catch (e) {
      matmuls.push({ ...s, error: String(e?.message ?? e) });
    }
  }
  device.destroy();
  return { adapter, fixedSubgroupSize, fma, matmuls };
};
