#!/usr/bin/env node
// Browser benchmark: the built wasm on the browser's WebGPU (SwiftShader in headless Chromium here).
//
//   npm run bench:browser [-- --rounds 7 --steps 5 --warmup 5 --start-reps 3]
//
// 1. ms/step of an MLP 784-256-256-10, batch 128, on the embedded MNIST: momentum SGD and every
//    SAM variant at its defaults (LookSAM k = 5: keep --steps a multiple of 5). All three trainers are built first; each round times `steps` steps + `await metrics()`
//    of every case, in rotating order (so a slow moment of the machine hits all cases alike); the
//    figure is the median over rounds. One JSON line per case, then the SAM/SGD ratio.
// 2. Time from clicking Start on the real page (data loaded, model built) to the first finished
//    step (the first metrics message), median of `start-reps` page loads.
//
// `-- --model tfjs-convnet` times the tfjs-examples MNIST convnet at batch 64 (momentum SGD and
// SAM only, part 2 skipped): the configuration docs/anchors.md measured for TF.js.
//
// Needs `npm run build` (dist/) and /usr/bin/chromium (npm run setup).

import { parseArgs } from 'node:util';

import { openPage, smallHash, startBrowser, waitForState } from '../tests/page/helpers.mjs';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '5' },
    'start-reps': { type: 'string', default: '3' },
    model: { type: 'string', default: 'mlp' },
  },
});
const opts = {
  rounds: Number(args.rounds),
  steps: Number(args.steps),
  warmup: Number(args.warmup),
  startReps: Number(args['start-reps']),
  model: args.model,
  batch: args.model === 'mlp' ? 128 : 64,
};

const BENCH_PAGE = `<!doctype html><meta charset="utf-8"><title>samlab bench</title>
<script type="module">
import init, { Dataset, Trainer } from './pkg/samlab.js';

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const files = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

window.bench = async ({ rounds, steps, warmup, model, batch }) => {
  await init();
  // The wasm takes plain IDX bytes: the browser unpacks the gzip files, as the page's worker does.
  const gunzip = async (f) => new Uint8Array(await new Response((await fetch('./data/mnist/' + f)).body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  const bytes = await Promise.all(files.map(gunzip));
  const data = Dataset.fromIdx('mnist', ...bytes);
  const info = (await navigator.gpu.requestAdapter())?.info ?? {};
  const common = { model, hidden: [256, 256], batchSize: batch, epochs: 1000, seed: 0, optimizer: 'sgd', momentum: 0.9, lr: 0.05 };
  const cases = model !== 'mlp' ? [
    { name: 'sgd', config: { ...common, sam: 'none' } },
    { name: 'sam', config: { ...common, sam: 'sam', rho: 0.05 } },
  ] : [
    { name: 'sgd', config: { ...common, sam: 'none' } },
    { name: 'sam', config: { ...common, sam: 'sam', rho: 0.05 } },
    { name: 'asam', config: { ...common, sam: 'asam', rho: 0.5 } },
    ...['gsam', 'fsam', 'looksam', 's2sam', 'crsam', 'sam-linf', 'msam', 'nstep', 'ssam', 'ssam-d', 'esam', 'rsam', 'mup2'].map((sam) => ({ name: sam, config: { ...common, sam } })),
  ];
  for (const c of cases) {
    c.trainer = await Trainer.create(c.config, data);
    await c.trainer.evaluate(); // waits for the pipelines the browser compiles in the background
    c.trainer.step(warmup);
    await c.trainer.metrics();
    c.times = [];
  }
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + r) % cases.length];
      const t0 = performance.now();
      const took = c.trainer.step(steps);
      const m = await c.trainer.metrics();
      if (took !== steps || m.nonfiniteSteps) throw new Error(c.name + ': took ' + took + ' steps, ' + m.nonfiniteSteps + ' non-finite');
      c.times.push((performance.now() - t0) / steps);
    }
  }
  const adapter = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') + ' ' + cases[0].trainer.adapter.trim();
  const results = cases.map((c) => ({ name: c.name, ms: median(c.times), min: Math.min(...c.times), max: Math.max(...c.times), passes: c.trainer.passesPerStep }));
  for (const c of cases) c.trainer.free();
  data.free();
  return { adapter: adapter.trim(), results };
};
</script>`;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, digits = 2) => Number(x.toFixed(digits));

const env = await startBrowser();
try {
  // 1. ms/step -------------------------------------------------------------------------------
  const { page, context, errors } = await openPage(env, {
    path: '__bench.html',
    beforeGoto: (p) => p.route('**/__bench.html', (route) => route.fulfill({ contentType: 'text/html', body: BENCH_PAGE })),
  });
  await page.waitForFunction(() => typeof window.bench === 'function');
  const started = Date.now();
  const { adapter, results } = await page.evaluate((o) => window.bench(o), opts);
  const byName = Object.fromEntries(results.map((r) => [r.name, r]));
  for (const r of results) {
    console.log(JSON.stringify({
      system: 'samlab', model: opts.model, optimizer: r.name, batch: opts.batch,
      ms_per_step: round(r.ms), samples_per_s: Math.round(opts.batch / (r.ms / 1000)), adapter,
    }));
  }
  console.log(JSON.stringify({
    sam_over_sgd: round(byName.sam.ms / byName.sgd.ms), asam_over_sgd: byName.asam ? round(byName.asam.ms / byName.sgd.ms) : undefined,
    over_sgd: Object.fromEntries(results.filter((r) => r.name !== 'sgd').map((r) => [r.name, round(r.ms / byName.sgd.ms)])),
    passes_per_step: Object.fromEntries(results.map((r) => [r.name, round(r.passes, 3)])),
    rounds: opts.rounds, steps_per_round: opts.steps, spread_ms: Object.fromEntries(results.map((r) => [r.name, [round(r.min), round(r.max)]])),
    seconds: round((Date.now() - started) / 1000, 1),
  }));
  if (errors.length) console.error(`browser errors: ${errors.join('; ')}`);
  await context.close();

  // 2. Start → first finished step on the real page ------------------------------------------
  const times = {};
  for (const sam of opts.model === 'mlp' ? ['none', 'sam'] : []) {
    times[sam] = [];
    for (let i = 0; i < opts.startReps; i++) {
      const p = await openPage(env, { hash: smallHash({ hidden: '256,256', sam, epochs: '2' }) });
      await waitForState(p.page, 'ready', 120_000);
      await p.page.click('#start');
      await p.page.waitForFunction(() => window.samlab.firstStepMs !== null, null, { timeout: 60_000 });
      times[sam].push(await p.page.evaluate(() => window.samlab.firstStepMs));
      if (p.errors.length) console.error(`page errors: ${p.errors.join('; ')}`);
      await p.context.close();
    }
  }
  for (const [sam, ms] of Object.entries(times)) {
    console.log(JSON.stringify({
      system: 'samlab', measure: 'start_to_first_step_ms', model: 'mlp', hidden: [256, 256], batch: 128,
      optimizer: sam === 'none' ? 'sgd' : sam, median_ms: Math.round(median(ms)), runs_ms: ms.map((t) => Math.round(t)), adapter,
    }));
  }
} finally {
  await env.close();
}
