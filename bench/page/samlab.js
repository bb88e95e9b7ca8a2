// samlab's side of the side-by-side benchmark (bench/all.mjs), the same measurement as
// bench/browser.mjs: the built wasm (dist/pkg) in the page's own thread, embedded MNIST, every
// trainer built and warmed first, then `rounds` rounds in which each case runs `steps` steps and
// awaits its metrics (a read that waits for the queue), in rotating order; the median over rounds.
import init, { Dataset, Trainer } from '/dist/pkg/samlab.js';
import { median, webgpuAdapter } from './common.js';

const files = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

/** Each mode at its defaults, as bench/browser.mjs and bench/native_step.rs configure them. */
function config(common, name) {
  if (name === 'sgd') return { ...common, sam: 'none' };
  if (name === 'sam') return { ...common, sam: 'sam', rho: 0.05 };
  if (name === 'asam') return { ...common, sam: 'asam', rho: 0.5 };
  return { ...common, sam: name };
}

window.benchSamlab = async ({ model, batch, modes, rounds, steps, warmup }) => {
  await init();
  // The wasm takes plain IDX bytes: the browser unpacks the gzip files, as the page's worker does.
  const gunzip = async (f) => {
    const response = await fetch('/dist/data/mnist/' + f);
    return new Uint8Array(await new Response(response.body.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  };
  const bytes = await Promise.all(files.map(gunzip));
  const data = Dataset.fromIdx('mnist', ...bytes);
  const common = { model, hidden: [256, 256], batchSize: batch, epochs: 1000, seed: 0, optimizer: 'sgd', momentum: 0.9, lr: 0.05 };
  const cases = [];
  const failed = [];
  let adapter = await webgpuAdapter();
  for (const name of modes) {
    try {
      const trainer = await Trainer.create(config(common, name), data);
      if (!cases.length) adapter = `${adapter} ${trainer.adapter.trim()}`.trim();
      await trainer.evaluate(); // waits for the pipelines the browser compiles in the background
      trainer.step(warmup);
      await trainer.metrics();
      cases.push({ name, trainer, times: [] });
    } catch (e) {
      failed.push({ name, error: String(e?.message ?? e) });
    }
  }
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + r) % cases.length];
      if (c.error) continue;
      try {
        const t0 = performance.now();
        const took = c.trainer.step(steps);
        const m = await c.trainer.metrics();
        if (took !== steps || m.nonfiniteSteps) throw new Error(`took ${took} of ${steps} steps, ${m.nonfiniteSteps} non-finite`);
        c.times.push((performance.now() - t0) / steps);
      } catch (e) {
        c.error = String(e?.message ?? e);
      }
    }
  }
  const results = cases.map((c) => (c.error ? { name: c.name, error: c.error } : { name: c.name, ms: median(c.times), min: Math.min(...c.times), max: Math.max(...c.times) }));
  for (const c of cases) c.trainer.free();
  data.free();
  return { adapter, results: [...results, ...failed] };
};
