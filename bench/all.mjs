#!/usr/bin/env node
// Side-by-side benchmark against TF.js: `npm run bench [-- options]`.
//
// One headless Chromium (/usr/bin/chromium through playwright-core, the flags of
// tests/page/helpers.mjs: --enable-unsafe-webgpu …), pages served from the repository root by
// scripts/serve.mjs on a free loopback port:
//
//   1. Kernels (bench/page/kernels.js): on the page's WebGPU adapter, an FMA-chain peak
//      (bench/fma.wgsl) and samlab's matmul kernel (shaders/matmul.wgsl, specialised as
//      src/ops/matmul.rs does) on 1024³ and the MLP's shapes, in GFLOP/s. Natively:
//      `cargo run --release --example kernels` (bench/kernels.rs).
//   2. samlab (bench/page/samlab.js, the method of bench/browser.mjs): the built dist/pkg wasm,
//      embedded MNIST, MLP 784-256-256-10 at batch 128 and the tfjs-examples convnet
//      (`tfjs-convnet`) at batch 64, momentum SGD (lr 0.05, μ 0.9), SAM (ρ 0.05) and every SAM
//      variant at its defaults; `rounds` interleaved rounds of `steps` steps, medians.
//   3. TF.js 4.22 (bench/page/tfjs.js, bench/page/tfjs-models.mjs) with its webgpu, webgl and wasm
//      backends, one fresh page per backend and model: the same models and batch sizes, momentum
//      SGD and SAM (two tf.variableGrads with perturb/restore, then optimizer.applyGradients), on
//      one fixed random batch of the right shape (timing does not depend on the values); steps
//      timed one by one, the cases taking turns, each step ending with its loss read back.
//
// Prints one JSON line per training case ({system, model, optimizer, batch, ms_per_step,
// samples_per_s, adapter}, or `error` instead of the two timings), one JSON line per kernel
// ({kernel, …}), then the tables of ratios with the issue's targets. Needs `npm run build` (run
// here when dist/pkg is missing), `npm ci` (TF.js from node_modules) and /usr/bin/chromium.
//
// Options: --systems samlab,tfjs-webgpu,tfjs-webgl,tfjs-wasm  --models mlp,convnet
//   --modes sgd,sam,…  (samlab; default: all)  --rounds 7 --steps 5 --warmup 5  (samlab)
//   --tfjs-warmup 2 --tfjs-seconds 8 --tfjs-min-steps 5 --tfjs-max-steps 20  (TF.js: timed steps
//   per case = tfjs-seconds at the warm-up pace, clamped)  --no-kernels  --case-timeout 900 (s)
//   --systems none  (kernels only)  --matmul-tiles 8x8,16x8s  (every kernel shape with each register
//   tile, rows x columns, `s`: subgroups share A's loads, instead of what src/ops/matmul.rs chooses)
//   --quick  (a smoke run: few steps everywhere)

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';

import { CHROMIUM, CHROMIUM_ARGS, ROOT } from '../tests/page/helpers.mjs';

const ALL_MODES = ['sgd', 'sam', 'asam', 'gsam', 'fsam', 'looksam', 's2sam', 'crsam', 'sam-linf', 'msam', 'nstep', 'ssam', 'ssam-d', 'esam', 'rsam', 'mup2'];
const SYSTEMS = ['samlab', 'tfjs-webgpu', 'tfjs-webgl', 'tfjs-wasm'];
const MODELS = { mlp: { samlab: 'mlp', batch: 128 }, convnet: { samlab: 'tfjs-convnet', batch: 64 } };
const TFJS_OPTIMIZERS = ['sgd', 'sam'];

const { values: args } = parseArgs({
  options: {
    systems: { type: 'string', default: SYSTEMS.join(',') },
    models: { type: 'string', default: Object.keys(MODELS).join(',') },
    modes: { type: 'string', default: ALL_MODES.join(',') },
    rounds: { type: 'string', default: '7' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '5' },
    'tfjs-warmup': { type: 'string', default: '2' },
    'tfjs-seconds': { type: 'string', default: '8' },
    'tfjs-min-steps': { type: 'string', default: '5' },
    'tfjs-max-steps': { type: 'string', default: '20' },
    'no-kernels': { type: 'boolean', default: false },
    'matmul-tiles': { type: 'string' },
    'case-timeout': { type: 'string', default: '900' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = args.quick;
const opts = {
  systems: args.systems === 'none' ? [] : args.systems.split(','),
  models: args.models.split(','),
  modes: args.modes.split(','),
  rounds: quick ? 2 : Number(args.rounds),
  steps: Number(args.steps), // LookSAM refreshes every 5 steps: keep a multiple of 5
  warmup: quick ? 1 : Number(args.warmup),
  tfjs: {
    warmup: quick ? 1 : Number(args['tfjs-warmup']),
    seconds: quick ? 0 : Number(args['tfjs-seconds']),
    minSteps: quick ? 2 : Number(args['tfjs-min-steps']),
    maxSteps: quick ? 2 : Number(args['tfjs-max-steps']),
  },
  kernels: !args['no-kernels'],
  matmulTiles: args['matmul-tiles']?.split(',').map((t) => {
    const [tm, tn] = t.replace(/s$/, '').split('x').map(Number);
    return { tm, tn, subgroups: t.endsWith('s') };
  }),
  caseTimeoutMs: Number(args['case-timeout']) * 1000,
};
for (const s of opts.systems) if (!SYSTEMS.includes(s)) throw new Error(`unknown system ${s} (${SYSTEMS.join(', ')})`);
for (const m of opts.models) if (!MODELS[m]) throw new Error(`unknown model ${m} (${Object.keys(MODELS).join(', ')})`);

const round = (x, digits = 2) => Number(x.toFixed(digits));
const tileName = (t) => `${t.tm}x${t.tn}${t.subgroups ? 's' : ''}`;
const say = (line) => process.stderr.write(`bench: ${line}\n`);

// Prerequisites -----------------------------------------------------------------------------------
if (opts.systems.includes('samlab') && !existsSync(path.join(ROOT, 'dist/pkg/samlab_bg.wasm'))) {
  say('dist/ is missing: running npm run build');
  const built = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
  if (built.status !== 0) throw new Error('npm run build failed');
}
for (const f of ['node_modules/@tensorflow/tfjs/dist/tf.min.js', 'node_modules/@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js', 'node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js']) {
  if (opts.systems.some((s) => s.startsWith('tfjs')) && !existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing: run npm ci`);
}
if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run npm run setup, or set CHROMIUM`);

const { startServer } = await import(pathToFileURL(path.join(ROOT, 'scripts/serve.mjs')).href);
const { chromium } = await import('playwright-core');
const server = await startServer(ROOT, { port: 0, host: '127.0.0.1' });
const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }).catch(async (e) => {
  await server.close();
  throw e;
});
say(`Chromium ${browser.version()}, serving ${ROOT} at ${server.url}`);

/** CPU seconds (user + system) Chromium's GPU process has used, from /proc (Linux; undefined
 * elsewhere). A CPU WebGPU adapter (SwiftShader) runs the shaders there, so FLOP per CPU-second
 * of it is a kernel's rate with the shared machine's other load taken out. */
function gpuProcessCpuSeconds() {
  // Fields after the command name: [1] is the parent pid, [11] and [12] utime and stime (ticks).
  const stat = (pid) => {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  };
  const ours = (pid) => {
    for (let p = pid, depth = 0; p > 1 && depth < 8; p = Number(stat(p)[1]), depth++) if (p === process.pid) return true;
    return false;
  };
  try {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=gpu-process') || !ours(Number(pid))) continue;
        const fields = stat(pid);
        return (Number(fields[11]) + Number(fields[12])) / 100;
      } catch {
        // the process ended while we looked
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** Opens bench/page/<name>.html in a fresh context; resolves to {page, errors, close()}. */
async function openPage(name, waitFor) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.exposeFunction('gpuProcessCpuSeconds', gpuProcessCpuSeconds);
  const errors = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('crash', () => errors.push('page crashed'));
  await page.goto(`${server.url}bench/page/${name}.html`);
  await page.waitForFunction((f) => typeof window[f] === 'function', waitFor, { timeout: 60_000 });
  return { page, errors, close: () => context.close() };
}

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no result after ${opts.caseTimeoutMs / 1000} s`)), opts.caseTimeoutMs);
    }),
  ]).finally(() => clearTimeout(timer));
}

const lines = []; // the training-case records, as printed
const spread = []; // [system, model, optimizer, min, max] of the timed rounds or steps
function emit(record) {
  lines.push(record);
  console.log(JSON.stringify(record));
}
function emitCase(system, model, optimizer, adapter, r) {
  const { batch } = MODELS[model];
  if (r.min !== undefined) spread.push([system, model, optimizer, r.min, r.max]);
  if (r.error !== undefined) emit({ system, model, optimizer, batch, error: r.error, adapter });
  else emit({ system, model, optimizer, batch, ms_per_step: round(r.ms), samples_per_s: Math.round((batch * 1000) / r.ms), adapter });
}

const started = Date.now();
let kernels = null;
try {
  // 1. Kernels -------------------------------------------------------------------------------------
  if (opts.kernels) {
    say('kernels: FMA-chain peak and samlab matmul on WebGPU');
    const p = await openPage('kernels', 'benchKernels');
    try {
      kernels = await withTimeout(p.page.evaluate((o) => window.benchKernels(o), {
        rounds: quick ? 2 : 5,
        flopPerRound: quick ? 2e8 : 1e9,
        shapes: [
          { name: '1024x1024x1024', m: 1024, n: 1024, k: 1024, layout: 'NN' },
          { name: 'mlp fc1 forward x·W1ᵀ', m: 128, n: 256, k: 784, layout: 'NT' },
          { name: 'mlp fc1 weight grad dyᵀ·x', m: 256, n: 784, k: 128, layout: 'TN' },
          { name: 'mlp fc2 forward x·W2ᵀ', m: 128, n: 256, k: 256, layout: 'NT' },
          { name: 'mlp fc2 input grad dy·W2', m: 128, n: 256, k: 256, layout: 'NN' },
        ],
        tiles: opts.matmulTiles,
      }), 'kernels');
      kernels.peak = Math.max(0, ...kernels.fma.filter((f) => f.gflops).map((f) => f.gflops));
      kernels.cpuPeak = Math.max(0, ...kernels.fma.filter((f) => f.cpuGflops).map((f) => f.cpuGflops)) || undefined;
      for (const f of kernels.fma) console.log(JSON.stringify({ kernel: 'fma-chain', form: f.form, ...(f.error ? { error: f.error } : { gflops: round(f.gflops, 1), gflops_per_cpu_s: f.cpuGflops && round(f.cpuGflops, 1) }), adapter: kernels.adapter }));
      for (const m of kernels.matmuls) {
        console.log(JSON.stringify({
          kernel: 'matmul', shape: m.name, mnk: [m.m, m.n, m.k], layout: m.layout, ...(m.tile ? { tile: tileName(m.tile) } : {}),
          ...(m.error ? { error: m.error } : { gflops: round(m.gflops, 1), fraction_of_peak: round(m.gflops / kernels.peak, 3), gflops_per_cpu_s: m.cpuGflops && round(m.cpuGflops, 1), fraction_of_peak_cpu: m.cpuGflops && kernels.cpuPeak && round(m.cpuGflops / kernels.cpuPeak, 3) }),
          adapter: kernels.adapter,
        }));
      }
    } catch (e) {
      console.log(JSON.stringify({ kernel: 'all', error: String(e?.message ?? e) }));
    }
    if (p.errors.length) say(`kernels page errors: ${p.errors.join('; ')}`);
    await p.close();
  }

  // 2. samlab --------------------------------------------------------------------------------------
  if (opts.systems.includes('samlab')) {
    for (const model of opts.models) {
      say(`samlab ${model}: ${opts.modes.length} modes, ${opts.rounds} rounds of ${opts.steps} steps`);
      const p = await openPage('samlab', 'benchSamlab');
      try {
        const { adapter, results } = await withTimeout(p.page.evaluate((o) => window.benchSamlab(o), {
          model: MODELS[model].samlab, batch: MODELS[model].batch, modes: opts.modes,
          rounds: opts.rounds, steps: opts.steps, warmup: opts.warmup,
        }), `samlab ${model}`);
        const byName = Object.fromEntries(results.map((r) => [r.name, r]));
        for (const name of opts.modes) emitCase('samlab', model, name, adapter, byName[name]);
      } catch (e) {
        for (const name of opts.modes) emitCase('samlab', model, name, 'unknown', { error: String(e?.message ?? e) });
      }
      if (p.errors.length) say(`samlab page errors: ${p.errors.join('; ')}`);
      await p.close();
    }
  }

  // 3. TF.js ---------------------------------------------------------------------------------------
  for (const system of opts.systems.filter((s) => s.startsWith('tfjs-'))) {
    const backend = system.slice(5);
    for (const model of opts.models) {
      say(`${system} ${model}`);
      const p = await openPage('tfjs', 'benchTfjs');
      let adapter = 'unavailable';
      try {
        adapter = await withTimeout(p.page.evaluate((b) => window.initTfjs(b), backend), `${system} init`);
        const { results, tensorsLeaked } = await withTimeout(p.page.evaluate((o) => window.benchTfjs(o), {
          model, batch: MODELS[model].batch, optimizers: TFJS_OPTIMIZERS, ...opts.tfjs,
        }), `${system} ${model}`);
        if (tensorsLeaked) say(`${system} ${model}: ${tensorsLeaked} tensors leaked during the timed steps`);
        const byName = Object.fromEntries(results.map((r) => [r.name, r]));
        for (const name of TFJS_OPTIMIZERS) emitCase(system, model, name, adapter, byName[name]);
      } catch (e) {
        for (const name of TFJS_OPTIMIZERS) emitCase(system, model, name, adapter, { error: String(e?.message ?? e).split('\n')[0] });
      }
      if (p.errors.length) say(`${system} page errors: ${p.errors.slice(0, 5).join('; ')}`);
      await p.close();
    }
  }
} finally {
  await browser.close().catch(() => {});
  await server.close();
}

// Tables -------------------------------------------------------------------------------------------
const ms = (system, model, optimizer) => lines.find((l) => l.system === system && l.model === model && l.optimizer === optimizer)?.ms_per_step;
const fmt = (x, d = 1) => (x === undefined ? '—' : x.toFixed(d));
const pad = (s, n) => String(s).padEnd(n);
const out = [];
out.push('', `Side by side, headless Chromium ${browser.version()} (${Math.round((Date.now() - started) / 1000)} s in all): ms/step (median); ×N = TF.js ms / samlab ms`);
const tfjsSystems = opts.systems.filter((s) => s.startsWith('tfjs-'));
out.push(`${pad('model', 9)}${pad('optimizer', 11)}${pad('samlab', 10)}${tfjsSystems.map((s) => pad(s, 22)).join('')}`);
for (const model of opts.models) {
  for (const optimizer of TFJS_OPTIMIZERS) {
    const base = ms('samlab', model, optimizer);
    const cells = tfjsSystems.map((s) => {
      const t = ms(s, model, optimizer);
      return pad(t === undefined ? 'error' : `${fmt(t)} (×${base ? fmt(t / base) : '—'})`, 22);
    });
    out.push(`${pad(model, 9)}${pad(optimizer, 11)}${pad(fmt(base), 10)}${cells.join('')}`);
  }
}
const tfjsSamOverSgd = tfjsSystems.map((s) => `${s} ${opts.models.map((m) => `${m} ${ms(s, m, 'sam') && ms(s, m, 'sgd') ? fmt(ms(s, m, 'sam') / ms(s, m, 'sgd'), 2) : '—'}`).join(', ')}`);
out.push(`TF.js SAM/SGD: ${tfjsSamOverSgd.join('; ')}`);
if (opts.systems.includes('samlab')) {
  out.push('', 'samlab step time relative to its momentum SGD:');
  out.push(`${pad('mode', 10)}${opts.models.map((m) => pad(m, 10)).join('')}`);
  for (const mode of opts.modes.filter((m) => m !== 'sgd')) {
    out.push(`${pad(mode, 10)}${opts.models.map((m) => pad(ms('samlab', m, mode) && ms('samlab', m, 'sgd') ? fmt(ms('samlab', m, mode) / ms('samlab', m, 'sgd'), 2) : '—', 10)).join('')}`);
  }
}
const targets = [];
const speedup = (s, m) => (ms(s, m, 'sam') && ms('samlab', m, 'sam') ? ms(s, m, 'sam') / ms('samlab', m, 'sam') : undefined);
const target = (what, value, goal, ok) => targets.push(`${pad(what, 44)}${pad(goal, 8)}${pad(value === undefined ? '—' : fmt(value, 2), 9)}${value === undefined ? 'not measured' : ok(value) ? 'met' : 'NOT met'}`);
target('MLP SAM: TF.js-webgpu ms / samlab ms', speedup('tfjs-webgpu', 'mlp'), '≥ 20', (v) => v >= 20);
target('MLP SAM: TF.js-wasm ms / samlab ms', speedup('tfjs-wasm', 'mlp'), '≥ 1.5', (v) => v >= 1.5);
target('convnet SAM: TF.js-webgpu ms / samlab ms', speedup('tfjs-webgpu', 'convnet'), '≥ 20', (v) => v >= 20);
for (const m of opts.models) {
  const rel = (mode) => (ms('samlab', m, mode) && ms('samlab', m, 'sgd') ? ms('samlab', m, mode) / ms('samlab', m, 'sgd') : undefined);
  target(`${m} samlab SAM/SGD`, rel('sam'), '≤ 2.05', (v) => v <= 2.05);
  target(`${m} samlab MSAM/SGD`, rel('msam'), '≤ 1.1', (v) => v <= 1.1);
  target(`${m} samlab S2-SAM/SGD`, rel('s2sam'), '≤ 1.1', (v) => v <= 1.1);
  target(`${m} samlab LookSAM/SGD (k = 5)`, rel('looksam'), '≤ 1.3', (v) => v <= 1.3);
}
if (kernels) {
  const big = kernels.matmuls.find((m) => m.name.startsWith('1024'));
  // Per GPU-process CPU-second where measured (robust to the shared machine's load), else wall clock.
  const fraction = (m) => (m?.cpuGflops && kernels.cpuPeak ? m.cpuGflops / kernels.cpuPeak : m?.gflops ? m.gflops / kernels.peak : undefined);
  target(`matmul 1024³ / FMA-chain peak (WebGPU${kernels.cpuPeak ? ', per CPU-s' : ''})`, fraction(big), '≥ 0.40', (v) => v >= 0.4);
  out.push('', `Kernels on ${kernels.adapter}${kernels.fixedSubgroupSize ? ` (subgroups of ${kernels.fixedSubgroupSize})` : ''}: FMA-chain peak ${fmt(kernels.peak)} GFLOP/s${kernels.cpuPeak ? `, ${fmt(kernels.cpuPeak)} per GPU-process CPU-second` : ''} (best of ${kernels.fma.map((f) => `${f.form} ${f.gflops ? fmt(f.gflops) : 'error'}`).join(', ')})`);
  for (const m of kernels.matmuls) {
    const cpu = m.cpuGflops && kernels.cpuPeak ? `; per CPU-second ${fmt(m.cpuGflops)} = ${fmt((100 * m.cpuGflops) / kernels.cpuPeak)}% of peak` : '';
    out.push(`  matmul ${pad(m.name, 28)} ${m.layout}${m.tile ? ` ${tileName(m.tile)}` : ''}  ${m.gflops ? `${fmt(m.gflops)} GFLOP/s = ${fmt((100 * m.gflops) / kernels.peak)}% of peak${cpu}` : `error: ${m.error}`}`);
  }
}
out.push('', 'Spread (fastest–slowest samlab round of `steps` steps, TF.js single step), ms/step:');
for (const system of [...new Set(spread.map((s) => s[0]))]) {
  for (const model of opts.models) {
    const cells = spread.filter((s) => s[0] === system && s[1] === model).map((s) => `${s[2]} ${fmt(s[3], 0)}–${fmt(s[4], 0)}`);
    if (cells.length) out.push(`  ${system} ${model}: ${cells.join(', ')}`);
  }
}
out.push('', `${pad('target', 44)}${pad('goal', 8)}${pad('measured', 9)}verdict`, ...targets);
console.log(out.join('\n'));
