// The sharpness panel in headless Chromium (WebGPU on SwiftShader): λ_max and tr(H) tracked while
// training, "Measure now", the loss landscape (1-D curve, 2-D plane with contour lines), and a
// failed measurement. Needs `npm run build` (dist/). MLP 784-64-10 + SAM, as the other page tests.

import assert from 'node:assert/strict';
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

const sharpness = (page) => page.evaluate(() => window.samlab.sharpness);

test('tracking every 100 steps measures λ_max and tr(H) at steps 0, 100 and 200 while training; Reset clears them', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '4' }) }); // 248 steps
  try {
    await waitForState(page, 'ready');
    assert.equal(await page.inputValue('#trackEvery'), '200', 'the default interval');
    assert.equal(await page.isChecked('#track'), false, 'tracking is off by default');
    await page.check('#track');
    await page.fill('#trackEvery', '100');
    await page.click('#start');

    await waitForStep(page, 110, 120_000);
    await page.waitForFunction(() => window.samlab.sharpness.series.step.length >= 2, null, { timeout: 60_000 });
    const early = await sharpness(page);
    await waitForState(page, 'done', 180_000);
    const done = await sharpness(page);
    const s = done.series;

    assert.deepEqual(s.step, [0, 100, 200], 'one measurement at each multiple of 100, at exactly that step');
    assert.ok(done.drawn > early.drawn && done.drawn === 3, `the chart grew from ${early.drawn} to ${done.drawn} points`);
    for (const [i, lambda] of s.lambda.entries()) {
      assert.ok(Number.isFinite(lambda) && lambda > 0, `λ_max ${lambda} at step ${s.step[i]} is finite and > 0`);
      assert.ok(Number.isFinite(s.trace[i]), `tr(H) ${s.trace[i]} at step ${s.step[i]} is finite`);
      assert.ok(Number.isFinite(s.traceError[i]) && s.traceError[i] >= 0, `its standard error ${s.traceError[i]}`);
    }
    assert.equal(done.errors.sharpness, '');
    assert.match(await page.locator('#track-note').innerText(), /The last took [\d.]+ s \(step 200\)/);
    // The legend reads the latest point: λ_max and tr(H) ± its error.
    assert.match(await page.locator('#chart-hessian .u-legend').innerText(), /tr\(H\)\s*[\d.e+-]+ ± [\d.e+-]+/);
    const info = await page.evaluate(() => window.samlab.info);
    assert.equal(info.step, 248, 'training ran to the end');

    await page.click('#reset');
    await waitForState(page, 'ready');
    const reset = await sharpness(page);
    assert.deepEqual(reset.series.step, [], 'Reset clears the tracked series');
    assert.equal(reset.tracking.on, true, 'the setting stays');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('Measure now says λ_max, tr(H) ± error and worst-case sharpness; the 1-D curve at α = 0 equals the measured loss; the plane has contour lines', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '2' }) });
  try {
    await waitForState(page, 'ready');
    await page.click('#start');
    await waitForStep(page, 30);
    await page.click('#pause');
    await waitForState(page, 'paused');
    const step = await currentStep(page);

    await page.click('#measure');
    await page.waitForFunction(() => window.samlab.sharpness.lastMeasure, null, { timeout: 60_000 });
    const m = (await sharpness(page)).lastMeasure;
    assert.equal(m.step, step);
    assert.equal(m.rows, 256);
    assert.equal(m.request.rho, 0.05, "the run's ρ");
    assert.ok(Number.isFinite(m.loss) && m.loss > 0);
    assert.ok(m.eigenvalues[0].value > 0, `λ_max ${m.eigenvalues[0].value}`);
    assert.ok(Number.isFinite(m.trace.value) && m.trace.samples === 8, 'tr(H) from 8 samples');
    assert.ok(Number.isFinite(m.worstCase), `worst case ${m.worstCase}`);
    const text = await page.locator('#measure-result').innerText();
    assert.match(text, new RegExp(`Step ${step}, on 256 test images: loss [\\d.]+`));
    assert.match(text, /λ_max ≈ [\d.]+: the largest curvature/);
    assert.match(text, /tr\(H\) ≈ -?[\d.]+ ± [\d.]+: the total curvature/);
    assert.match(text, /Worst-case sharpness for ρ = 0\.05: the loss rises by at most about -?[\d.e-]+/);

    // The plane: its default is 21 × 21 (441 forward passes); 11 × 11 keeps the test short.
    await page.selectOption('#landscapeKind', 'plane');
    assert.equal(await page.inputValue('#landscapePoints'), '21');
    assert.match(await page.locator('#landscape-note').innerText(), /21 × 21 = 441 points, one forward pass of 256 test images each/);
    await page.fill('#landscapePoints', '11');
    await page.click('#landscape');
    const busy = await page.evaluate(() => ({
      status: document.getElementById('landscape-status').textContent,
      measure: document.getElementById('measure').disabled,
      landscape: document.getElementById('landscape').disabled,
    }));
    assert.match(busy.status, /Computing 121 points/);
    assert.ok(busy.measure && busy.landscape, 'the panel waits for the landscape');
    await page.waitForFunction(() => window.samlab.sharpness.planeContours > 0, null, { timeout: 120_000 });
    const plane = (await sharpness(page)).plane;
    assert.equal(plane.loss.length, 11);
    assert.ok(plane.loss.every((row) => row.length === 11 && row.every((v) => Number.isFinite(v) && v > 0)));
    assert.ok(Math.abs(plane.loss[5][5] - m.loss) <= 1e-5 * m.loss, `plane centre ${plane.loss[5][5]} = measured loss ${m.loss}`);
    assert.ok(await page.locator('#landscape-plane svg path.contour').count() > 3, 'contour lines');
    assert.ok(await page.locator('#landscape-plane svg path.band').count() > 3, 'filled bands (the heatmap)');
    assert.match(await page.locator('#landscape-status').innerText(), /11 × 11 points at step \d+ on 256 test images: 121 forward passes in/);

    // The 1-D curve with 21 points: α from −1 to 1, the loss at α = 0 is the measured loss.
    await page.selectOption('#landscapeKind', 'line');
    await page.fill('#landscapePoints', '21');
    await page.click('#landscape');
    await page.waitForFunction(() => window.samlab.sharpness.line, null, { timeout: 60_000 });
    const line = (await sharpness(page)).line;
    assert.equal(line.kind, 'line');
    assert.equal(line.axis.length, 21);
    assert.equal(line.loss[0].length, 21, '`points` values');
    assert.equal(line.axis[10], 0);
    assert.ok(Math.abs(line.loss[0][10] - m.loss) <= 1e-5 * m.loss, `loss at α = 0 ${line.loss[0][10]} = measured loss ${m.loss}`);
    assert.ok(line.loss[0][0] > line.loss[0][10] && line.loss[0][20] > line.loss[0][10], 'the weights sit in a valley');
    assert.ok(await page.locator('#landscape-line canvas').isVisible(), 'the curve is drawn');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('a failed measurement shows a plain message in the panel, and the page keeps working', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '1' }) });
  try {
    await waitForState(page, 'ready');
    await page.evaluate(() => window.samlab.requestSharpness({ rows: 256, bogus: 1 }));
    await page.waitForFunction(() => window.samlab.sharpness.errors.sharpness, null, { timeout: 30_000 });
    const message = await page.locator('#sharpness-error').innerText();
    assert.match(message, /^The sharpness measurement failed: .*unknown key "bogus"/);
    assert.doesNotMatch(message, /\n|\bat \S+:\d+|wasm-function/, 'one line, no stack');
    assert.ok(await page.locator('#banner').isHidden(), 'no banner');
    assert.equal(await page.evaluate(() => window.samlab.state), 'ready');
    await page.waitForFunction(() => !document.getElementById('measure').disabled);

    // The rest still works: a step, then a measurement (which clears the message).
    await page.click('#step');
    await waitForStep(page, 1);
    await waitForState(page, 'paused');
    await page.click('#measure');
    await page.waitForFunction(() => window.samlab.sharpness.lastMeasure, null, { timeout: 60_000 });
    assert.equal(await page.locator('#sharpness-error').innerText(), '');
    assert.match(await page.locator('#measure-result').innerText(), /λ_max ≈ [\d.]+/);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});
