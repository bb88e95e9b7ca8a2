#!/usr/bin/env node
// What a refresh of the inspection panel costs (the worker's `inspect` command, round trip from
// the page): right after an evaluation, when the evaluation's forward pass already wrote the
// predictions (a read of 2 words per test image, the first layer's 64 units and 48 images), and
// after a step, when `predictTest()` must first run an evaluation pass over the test split.
//
//   node bench/inspect.mjs [--rounds 7]
//
// MLP 784-64-10 + SAM on the embedded MNIST (2,000 test images), in headless Chromium (SwiftShader
// here). Each round: `evaluate`, `inspect`, `step 1`, `inspect`; one JSON line with the medians.
// Needs `npm run build` (dist/) and /usr/bin/chromium (npm run setup).

import { parseArgs } from 'node:util';

import { openPage, startBrowser, waitForState } from '../tests/page/helpers.mjs';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '7' } } });
const rounds = Math.max(1, Number(args.rounds) || 7);

const env = await startBrowser();
try {
  // An invalid link keeps the page idle, so its own worker builds nothing meanwhile.
  const { page, context } = await openPage(env, { hash: 'lr=off' });
  await waitForState(page, 'idle');
  const result = await page.evaluate(async (rounds) => {
    const worker = new Worker('./worker.js', { type: 'module' });
    const messages = [];
    worker.onmessage = (event) => messages.push(event.data);
    let id = 0;
    const send = async (message) => {
      const mine = ++id;
      worker.postMessage({ ...message, id: mine });
      while (!messages.some((m) => m.type === 'done' && m.id === mine)) await new Promise((resolve) => setTimeout(resolve, 1));
    };
    const time = async (message) => {
      const t0 = performance.now();
      await send(message);
      return performance.now() - t0;
    };
    await send({ type: 'create', dataset: 'mnist', config: { hidden: [64], optimizer: 'sgd', momentum: 0.9, lr: 0.05, sam: 'sam', rho: 0.05, batchSize: 128, epochs: 1 } });
    const afterEvaluation = [];
    const afterStep = [];
    for (let r = 0; r < rounds; r++) {
      await send({ type: 'evaluate' });
      afterEvaluation.push(await time({ type: 'inspect' }));
      await send({ type: 'step', n: 1 });
      afterStep.push(await time({ type: 'inspect' }));
    }
    const testCount = messages.findLast((m) => m.type === 'inspection').testCount;
    worker.terminate();
    return { afterEvaluation, afterStep, testCount };
  }, rounds);
  const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(JSON.stringify({
    bench: 'inspect',
    testImages: result.testCount,
    rounds,
    msAfterEvaluation: Number(median(result.afterEvaluation).toFixed(1)),
    msAfterStep: Number(median(result.afterStep).toFixed(1)),
  }));
  await context.close();
} finally {
  await env.close();
}
