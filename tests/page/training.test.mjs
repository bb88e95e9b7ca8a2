// The page in headless Chromium (WebGPU on SwiftShader): training, pause/resume, save and load.
// Needs `npm run build` (dist/). Small models keep each test to seconds on a CPU adapter.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';

import {
  assertNoErrors, currentStep, openPage, smallHash, startBrowser, waitForState, waitForStep,
} from './helpers.mjs';

let env;
before(async () => {
  env = await startBrowser();
});
after(async () => {
  await env?.close();
});

test('trains an MLP for 310 steps: the charts grow and test accuracy ends well above chance', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '5' }) });
  try {
    await waitForState(page, 'ready');
    const initial = await page.evaluate(() => window.samlab.history);
    assert.deepEqual(initial.accuracy.step, [0], 'before Start the charts hold only the step-0 test point');
    assert.ok(initial.accuracy.test[0] < 0.3, `untrained test accuracy ${initial.accuracy.test[0]} should be near chance`);

    await page.click('#start');
    await waitForStep(page, 40);
    const early = await page.evaluate(() => window.samlab.history.drawn);
    await waitForState(page, 'done', 180_000);
    const h = await page.evaluate(() => window.samlab.history);
    const info = await page.evaluate(() => window.samlab.info);

    assert.equal(info.step, 310);
    assert.equal(info.totalSteps, 310);
    for (const chart of ['accuracy', 'loss', 'sam']) {
      assert.ok(early[chart] > 2, `${chart} chart has points while training (${early[chart]})`);
      assert.ok(h.drawn[chart] > early[chart], `${chart} chart grew from ${early[chart]} to ${h.drawn[chart]} points`);
    }
    const trainPoints = h.accuracy.train.filter((v) => v !== null);
    const testPoints = h.accuracy.test.filter((v) => v !== null);
    assert.ok(trainPoints.length >= 20, `${trainPoints.length} train points`);
    assert.ok(testPoints.length >= 6, `${testPoints.length} test points (step 0, every half epoch, end)`);
    assert.ok(h.loss.train.filter((v) => v !== null).every(Number.isFinite));
    assert.ok(h.sam.sharpness.every(Number.isFinite), 'SAM reports L(w+ε) − L(w) at every point');
    assert.ok(h.sam.gradNorm.every((g) => g > 0), '‖g0‖ > 0');
    assert.ok(h.sam.cos.every((c) => c >= -1 && c <= 1), 'cos(g0, g1) in [−1, 1]');

    const lastEval = await page.evaluate(() => window.samlab.lastEval);
    assert.equal(lastEval.step, 310);
    assert.ok(lastEval.accuracy > 0.8, `final test accuracy ${lastEval.accuracy} should be well above chance (0.1)`);
    assert.ok(trainPoints.at(-1) > 0.8, `final train accuracy ${trainPoints.at(-1)}`);

    const status = await page.locator('#status').innerText();
    assert.match(status, /samples\/s/);
    assert.match(status, /step 310 \/ 310/);
    assert.match(status, /adapter: \S/);
    assert.ok(await page.locator('#start').isDisabled(), 'Start is disabled when the run is done');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('pause stops the step count, resume continues, Step trains one step, a second Start is harmless', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '4' }) });
  try {
    await waitForState(page, 'ready');
    // Two Starts in a row (a double click): the second must change nothing.
    await page.evaluate(() => {
      const start = document.getElementById('start');
      start.click();
      start.click();
    });
    assert.equal(await page.evaluate(() => window.samlab.state), 'running');
    assert.ok(await page.locator('#start').isDisabled(), 'Start is disabled while running');
    await waitForStep(page, 10);

    await page.click('#pause');
    await waitForState(page, 'paused');
    const paused = await currentStep(page);
    await page.waitForTimeout(1500);
    assert.equal(await currentStep(page), paused, 'no steps while paused');
    assert.equal(await page.locator('#pause').innerText(), 'Resume');

    await page.click('#pause'); // Resume
    await waitForStep(page, paused + 5);
    assert.equal(await page.evaluate(() => window.samlab.state), 'running');

    await page.click('#pause');
    await waitForState(page, 'paused');
    const before = await currentStep(page);
    await page.click('#step');
    await waitForStep(page, before + 1);
    await page.waitForFunction(() => window.samlab.pending.length === 0);
    assert.equal(await currentStep(page), before + 1, 'Step trains exactly one step');
    assert.equal(await page.evaluate(() => window.samlab.state), 'paused');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('weights saved, then loaded into a fresh trainer after Reset, give the same test accuracy', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '1', seed: '3' }) });
  try {
    await waitForState(page, 'ready');
    await page.click('#start');
    await waitForState(page, 'done', 120_000);
    const trained = await page.evaluate(() => window.samlab.lastEval);
    assert.equal(trained.step, 62);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    assert.match(download.suggestedFilename(), /^samlab-mnist-mlp-64-momentum-sam-step62\.safetensors$/);
    const file = await download.path();
    const bytes = await readFile(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    assert.deepEqual(header['0.weight'].shape, [64, 784]);
    assert.deepEqual(header['2.weight'].shape, [10, 64]);

    await page.click('#reset');
    await waitForState(page, 'ready');
    const fresh = await page.evaluate(() => window.samlab.evals);
    assert.equal(fresh.length, 1);
    assert.ok(fresh[0].accuracy < 0.3, `a fresh model is near chance (${fresh[0].accuracy})`);

    await page.setInputFiles('#load-file', file);
    await page.waitForFunction(() => window.samlab.evals.length === 2);
    const loaded = (await page.evaluate(() => window.samlab.evals))[1];
    assert.equal(loaded.accuracy, trained.accuracy, 'same test accuracy after loading the saved weights');
    assert.ok(Math.abs(loaded.loss - trained.loss) <= 1e-6 * Math.abs(trained.loss), `loss ${loaded.loss} vs ${trained.loss}`);

    // Weights of another shape: a plain message beside Load, and the page stays usable.
    await page.fill('#hidden', '32');
    // A new model replaces the old one: the evaluations start over with its step-0 point.
    await page.waitForFunction(() => window.samlab.state === 'ready' && window.samlab.evals.length === 1, null, { timeout: 60_000 });
    await page.setInputFiles('#load-file', file);
    await page.waitForFunction(() => document.getElementById('load-error').textContent !== '');
    const message = await page.locator('#load-error').innerText();
    assert.match(message, /do not fit the model/);
    assert.doesNotMatch(message, /\bat \S+:\d+/, 'no stack trace');
    assert.ok(await page.locator('#start').isEnabled(), 'Start still works after a bad file');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});
