// Paired runs (A/B) and the JS API for course pages: compared runs from a link start from the
// same weights as the page's own run, train beside it and share its charts; the worker client
// (client.js) scripts runs without the page. Needs `npm run build` (dist/).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertNoErrors, openPage, smallHash, startBrowser, waitForState } from './helpers.mjs';

let env;
before(async () => {
  env = await startBrowser();
});
after(async () => {
  await env?.close();
});

/** The tensors of a safetensors file: name → {dtype, shape, bytes}. */
function readSafetensors(bytes) {
  const view = Buffer.from(bytes);
  const headerLength = Number(view.readBigUInt64LE(0));
  const header = JSON.parse(view.subarray(8, 8 + headerLength).toString('utf8'));
  const data = view.subarray(8 + headerLength);
  const tensors = {};
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    tensors[name] = { dtype: t.dtype, shape: t.shape, bytes: data.subarray(t.data_offsets[0], t.data_offsets[1]) };
  }
  return tensors;
}

test('compared runs from a link start from the same weights as A, train beside it, and share the charts', async () => {
  // A: SAM; B: no SAM; C: ASAM with its own ρ. evalEvery=20 for several test points.
  const hash = `${smallHash({ hidden: '32', epochs: '1' })}&vs=sam:none&vs=sam:asam,rho:0.5&evalEvery=20`;
  const { page, errors } = await openPage(env, { hash });
  try {
    await waitForState(page, ['ready'], 120_000);
    await page.waitForFunction(() => window.samlab.compare?.runs.slice(1).every((r) => r.state === 'ready'), null, { timeout: 120_000 });
    const before = await page.evaluate(() => window.samlab.compare);
    assert.deepEqual(before.labels, ['A: SAM ρ=0.05', 'B: no SAM', 'C: ASAM ρ=0.5']);
    assert.deepEqual(before.runs.map((r) => r.overrides), [null, { sam: 'none' }, { sam: 'asam', rho: '0.5' }]);
    // The link keeps the compared runs.
    assert.match(await page.evaluate(() => window.samlab.link), /&vs=sam:none&vs=sam:asam,rho:0\.5/);

    // Same initial weights: A's (saved by the page) and B's and C's, read back from their workers.
    const weights = async (i) => Buffer.from(await page.evaluate(async (k) => Array.from(await window.samlab.compareWeights(k)), i));
    const downloadA = page.waitForEvent('download');
    await page.click('#save');
    const fileA = await (await downloadA).path();
    const a = readSafetensors(await (await import('node:fs/promises')).readFile(fileA));
    for (const i of [1, 2]) {
      const other = readSafetensors(await weights(i));
      assert.deepEqual(Object.keys(other), Object.keys(a), `run ${i}: same tensors`);
      for (const [name, t] of Object.entries(a)) assert.ok(t.bytes.equals(other[name].bytes), `run ${i}: ${name} identical at step 0`);
    }

    // Train 60 steps of each (Step × 1 would be slow: use Start, then Pause).
    await page.click('#start');
    await page.waitForFunction(() => window.samlab.compare.runs.every((r) => r.test.length >= 3 && r.train.length > 0 && r.test[r.test.length - 1].step >= 40), null, { timeout: 240_000 });
    await page.click('#pause');
    await waitForState(page, ['paused', 'done'], 60_000);
    const after = await page.evaluate(() => window.samlab.compare);
    for (const run of after.runs) {
      // Evaluations at the same steps for every run (evalEvery=20).
      assert.deepEqual(run.test.slice(0, 3).map((p) => p.step), [0, 20, 40], `${run.name}: evaluations at 0, 20, 40`);
      const last = run.test[run.test.length - 1];
      assert.ok(last.accuracy > 0.5, `${run.name}: test accuracy ${last.accuracy} well above chance`);
      assert.ok(Number.isFinite(last.gap), `${run.name}: a generalisation gap`);
      assert.ok(last.seconds > 0, `${run.name}: training time`);
    }
    // Gradient evaluations: SAM and ASAM take 2 per step, no SAM 1.
    const at40 = (run) => run.test.find((p) => p.step === 40);
    assert.equal(at40(after.runs[0]).gradEvals, 80);
    assert.equal(at40(after.runs[1]).gradEvals, 40);
    assert.equal(at40(after.runs[2]).gradEvals, 80);
    // The runs differ after training (B has no SAM).
    assert.notEqual(at40(after.runs[0]).loss, at40(after.runs[1]).loss);
    // Three runs × (train, test) on accuracy and loss, three gap series.
    assert.deepEqual(after.drawn, { accuracy: 6, loss: 6, gap: 3 });

    // The x-axis switches: the charts redraw with the same series.
    await page.selectOption('#compareAxis', 'gradEvals');
    assert.equal(await page.evaluate(() => window.samlab.compare.axis), 'gradEvals');
    assert.match(await page.locator('#compare-accuracy .u-legend').innerText(), /gradient evaluations/);
    assertNoErrors(errors);
  } finally {
    await page.close();
  }
});

test('a compared run cannot change what the runs share, and says why beside its row', async () => {
  const hash = `${smallHash({ hidden: '16' })}&vs=seed:3&vs=rho:-1`;
  const { page, errors } = await openPage(env, { hash });
  try {
    await waitForState(page, ['ready'], 120_000);
    await page.waitForFunction(() => window.samlab.compare?.runs.length === 3);
    const runs = (await page.evaluate(() => window.samlab.compare)).runs;
    assert.match(runs[1].error, /seed is shared by all compared runs/);
    assert.match(runs[2].error, /ρ must be a number of at least 0/);
    assert.equal(runs[1].state, 'idle');
    await page.waitForFunction(() => document.querySelectorAll('#compare-runs .field-error').length === 2);
    assert.ok(await page.locator('#banner').isHidden(), 'no banner: each row has its message');
    // Removing a row removes it from the link.
    await page.click('button[aria-label="Remove run B"]');
    await page.waitForFunction(() => window.samlab.compare.runs.length === 2);
    assert.doesNotMatch(await page.evaluate(() => window.samlab.link), /vs=seed/);
    assertNoErrors(errors);
  } finally {
    await page.close();
  }
});

test('Add a run compares against plain SGD from the page, and its row changes the run', async () => {
  const { page, errors } = await openPage(env, { hash: smallHash({ hidden: '16' }) });
  try {
    await waitForState(page, ['ready'], 120_000);
    assert.ok(await page.locator('#compare-charts').isHidden(), 'no compared run: no comparison charts');
    await page.click('#compare-add');
    await page.waitForFunction(() => window.samlab.compare?.runs[1]?.state === 'ready', null, { timeout: 120_000 });
    assert.deepEqual(await page.evaluate(() => window.samlab.compare.labels), ['A: SAM', 'B: no SAM']);
    assert.match(await page.evaluate(() => window.samlab.link), /&vs=sam:none/);
    // Its SAM mode select: LookSAM brings its own ρ (0.3) and k.
    await page.selectOption('select[aria-label="run B: SAM mode"]', 'looksam');
    await page.waitForFunction(() => window.samlab.compare.runs[1].state === 'ready', null, { timeout: 120_000 });
    assert.deepEqual(await page.evaluate(() => window.samlab.compare.labels), ['A: SAM ρ=0.05', 'B: LookSAM ρ=0.3']);
    assert.ok(await page.locator('#compare-charts').isVisible());
    assertNoErrors(errors);
  } finally {
    await page.close();
  }
});

test('the worker client scripts SGD and SAM without the page (the JS API for course pages)', async () => {
  const { page, errors } = await openPage(env, { path: 'examples/sgd-vs-sam.html' });
  try {
    await page.waitForFunction(() => window.lesson?.done || window.lesson?.error, null, { timeout: 240_000 });
    const lesson = await page.evaluate(() => window.lesson);
    assert.equal(lesson.error, null);
    assert.deepEqual(lesson.runs.map((r) => r.name), ['SGD', 'SAM']);
    for (const r of lesson.runs) {
      assert.equal(r.step, 100, `${r.name} trained 100 steps`);
      assert.ok(r.accuracy > 0.6, `${r.name}: test accuracy ${r.accuracy}`);
      assert.ok(r.metrics > 0, `${r.name}: metrics arrived`);
    }
    // SAM reads out L(w+ε) − L(w); plain SGD has none.
    assert.equal(lesson.runs[0].sharpness, null);
    assert.ok(Number.isFinite(lesson.runs[1].sharpness));
    // A refused config rejects with the Trainer's message.
    assert.match(lesson.refused, /rho/i);
    assert.match(await page.locator('#lesson-output').innerText(), /SAM/);
    assertNoErrors(errors, [/rho/i]);
  } finally {
    await page.close();
  }
});

test('an experiment preset fills the settings and the compared runs, even during a run', async () => {
  const { page, errors } = await openPage(env, { hash: smallHash({ hidden: '16' }) });
  try {
    await waitForState(page, ['ready'], 120_000);
    await page.click('#start');
    await waitForState(page, ['running'], 30_000);
    await page.selectOption('#comparePreset', 'late-phase');
    await page.waitForFunction(() => window.samlab.compare?.runs.length === 3 && window.samlab.compare.runs.slice(1).every((r) => r.state === 'ready'), null, { timeout: 180_000 });
    await waitForState(page, ['ready'], 120_000);
    const s = await page.evaluate(() => window.samlab.settings);
    assert.equal(s.sam, 'none');
    assert.equal(s.hidden, '128');
    assert.equal(s.epochs, '10');
    assert.deepEqual(await page.evaluate(() => window.samlab.compare.labels), ['A: no SAM', 'B: SAM from 0.5 of the run', 'C: SAM']);
    assert.match(await page.locator('#compare-preset-note').innerText(), /Zhou et al/);
    assert.match(await page.evaluate(() => window.samlab.link), /&vs=sam:sam,samStart:0\.5&vs=sam:sam/);
    assertNoErrors(errors);
  } finally {
    await page.close();
  }
});
