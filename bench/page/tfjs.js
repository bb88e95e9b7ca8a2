// TF.js's side of the side-by-side benchmark (bench/all.mjs): one backend per page. Every case is
// built and warmed up, then the cases take turns one step at a time (so a slow moment of the
// machine hits them alike); a step is timed from its start until its loss has been read back
// (which waits for the step, optimizer update included). The figure is the median step.
import { makeCase } from './tfjs-models.mjs';
import { median, webgpuAdapter } from './common.js';

const tf = window.tf;

async function adapterOf(backend) {
  if (backend === 'webgpu') return `${await webgpuAdapter()} (TF.js WebGPU)`.trim();
  if (backend === 'webgl') {
    const gl = tf.backend().gpgpu?.gl;
    const ext = gl?.getExtension('WEBGL_debug_renderer_info');
    const renderer = ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl?.getParameter(gl.RENDERER);
    return `${renderer ?? '?'} (WebGL ${tf.env().get('WEBGL_VERSION')})`;
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  return `wasm${simd ? ' SIMD' : ''}${threads ? `, ${tf.wasm.getThreadsCount()} threads` : ', 1 thread'}`;
}

async function timeStep(c) {
  const t0 = performance.now();
  const loss = c.step();
  const value = (await loss.data())[0];
  loss.dispose();
  if (!Number.isFinite(value)) throw new Error(`non-finite loss ${value}`);
  return performance.now() - t0;
}

/** Sets the backend; returns its adapter string or throws why it is unavailable. */
window.initTfjs = async (backend) => {
  if (backend === 'wasm') tf.wasm.setWasmPaths('/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
  let ok = false;
  try {
    ok = await tf.setBackend(backend);
  } catch (e) {
    throw new Error(`tf.setBackend('${backend}') failed: ${e?.message ?? e}`);
  }
  if (!ok || tf.getBackend() !== backend) throw new Error(`tf.setBackend('${backend}') failed (backend unavailable in this browser)`);
  await tf.ready();
  return adapterOf(backend);
};

/**
 * `optimizers` on `model`: {name, ms, min, max, steps} or {name, error}. Timed steps per case:
 * `seconds` worth at the warm-up pace, clamped to [minSteps, maxSteps].
 */
window.benchTfjs = async ({ model, batch, optimizers, warmup, seconds, minSteps, maxSteps }) => {
  const cases = [];
  const results = [];
  for (const name of optimizers) {
    let c;
    try {
      c = { name, ...makeCase(tf, { model, batch, optimizer: name }), times: [] };
      let last = 0;
      for (let i = 0; i < warmup; i++) last = await timeStep(c);
      c.steps = Math.max(minSteps, Math.min(maxSteps, Math.round((seconds * 1000) / last)));
      c.tensors = tf.memory().numTensors;
      cases.push(c);
    } catch (e) {
      c?.dispose?.();
      results.push({ name, error: String(e?.message ?? e).split('\n')[0] });
    }
  }
  const most = Math.max(0, ...cases.map((c) => c.steps));
  for (let i = 0; i < most; i++) {
    for (const c of cases) {
      if (c.error || c.times.length >= c.steps) continue;
      try {
        c.times.push(await timeStep(c));
      } catch (e) {
        c.error = String(e?.message ?? e).split('\n')[0];
      }
    }
  }
  const leak = cases.length ? tf.memory().numTensors - Math.max(...cases.map((c) => c.tensors)) : 0;
  for (const c of cases) {
    results.push(c.error ? { name: c.name, error: c.error } : { name: c.name, ms: median(c.times), min: Math.min(...c.times), max: Math.max(...c.times), steps: c.times.length });
    c.dispose();
  }
  return { results, tensorsLeaked: leak };
};
