// The page's side of `samlab reproduce` (issue: reproductions) in headless Chromium (WebGPU on
// SwiftShader): a training subset and shifted test images from a link (the repetition and
// shifted-test presets), gradual self-training through rotated domains, and ASAM's
// scale-invariance test in the sharpness panel (Measure now with the first layer rescaled). Needs `npm run build` (dist/). MLP 784-64-10, as the other page tests.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertNoErrors, currentStep, openPage, smallHash, startBrowser, waitForState, waitForStep } from './helpers.mjs';

let env;
before(async () => {
  env = await startBrowser();
});
after(async () => {
  await env?.close();
});

/** The step-0 evaluation of a fresh page on `hash` (the same seed gives the same weights). */
async function firstEvaluation(hash) {
  const { page, context, errors } = await openPage(env, { hash });
  try {
    await waitForState(page, 'ready');
    await page.waitForFunction(() => window.samlab.lastEval, null, { timeout: 60_000 });
    const result = { eval: await page.evaluate(() => window.samlab.lastEval), data: await page.evaluate(() => window.samlab.data) };
    assertNoErrors(errors);
    return { ...result, page, context };
  } catch (err) {
    await context.close();
    throw err;
  }
}

test('a link trains on 20 images per class and tests on rotated digits; bad values get their field\'s message', async () => {
  const plain = await firstEvaluation(smallHash());
  await plain.context.close();
  const shifted = await firstEvaluation(smallHash({ trainPerClass: '20', testShift: 'rotate:90' }));
  const { page, context } = shifted;
  try {
    assert.equal(shifted.data.trainCount, 200, 'a stratified sample of 20 per class');
    assert.equal(shifted.data.testCount, 2000, 'the test split stays whole');
    assert.equal(plain.data.trainCount, 8000);
    // Same weights (same seed, same model), other test images: another loss at step 0.
    assert.equal(shifted.eval.samples, plain.eval.samples);
    assert.notEqual(shifted.eval.loss, plain.eval.loss, 'the rotated digits are what is tested');
    // 200 images at batch 128: 1 step per epoch (the trainer drops the last partial batch).
    const info = await page.evaluate(() => window.samlab.info);
    assert.equal(info.stepsPerEpoch, 1);
    assert.equal(await page.inputValue('#testShift'), 'rotate:90');
    assert.equal(await page.inputValue('#trainPerClass'), '20');
    assert.match(await page.evaluate(() => location.hash), /trainPerClass=20&testShift=rotate:90/);

    // Bad values are refused beside their fields and keep Start off.
    await page.fill('#testShift', 'spin:30');
    await page.fill('#trainPerClass', '0');
    await page.waitForFunction(() => document.getElementById('start').disabled);
    assert.match(await page.innerText('#testShift-error'), /rotate:DEGREES, noise:SIGMA, blur:SIGMA or contrast:C/);
    assert.match(await page.innerText('#trainPerClass-error'), /whole number from 1/);
    // More images per class than the data has: the worker's message, beside the field.
    await page.fill('#testShift', 'noise:0.4');
    await page.fill('#trainPerClass', '5000');
    await page.click('#reset');
    await page.waitForFunction(() => document.getElementById('trainPerClass-error').innerText !== '', null, { timeout: 60_000 });
    assert.match(await page.innerText('#trainPerClass-error'), /cannot take 5000 images of class \d for a stratified subset/);
  } finally {
    await context.close();
  }
});

test('gradual self-training: the source, then two rotated domains pseudo-labelled by the model, one continuous run tested at the last angle', async () => {
  // Source: 2,000 images = 15 steps of 128; each domain 1,500 = 11 steps; 1 epoch each.
  const { page, context, errors } = await openPage(env, { hash: smallHash({ domains: '30,60', epochs: '1' }) });
  try {
    await waitForState(page, 'ready');
    const info = await page.evaluate(() => window.samlab.info);
    assert.equal(info.totalSteps, 15 + 11 + 11);
    assert.equal(info.trainCount, 2000, 'the source domain');
    assert.match(await page.innerText('#status-domain'), /source domain \(0°\); tested at 60°/);
    await page.click('#start');
    await waitForState(page, 'done', 240_000);
    const evals = await page.evaluate(() => window.samlab.evals);
    const last = await page.evaluate(() => window.samlab.lastEval);
    assert.equal(last.step, 37);
    assert.equal(await currentStep(page), 37);
    // The status names the last domain and how many of its pseudo-labels were right.
    const status = await page.innerText('#status-domain');
    const m = status.match(/self-training on domain 2 of 2 \(60°\): ([\d.]+)% of its pseudo-labels right/);
    assert.ok(m, status);
    const right = Number(m[1]);
    assert.ok(right > 15 && right <= 100, `pseudo-labels at 60° right: ${right}%`);
    // An evaluation (on the 60° test digits) ends each domain: steps 15 and 26, and 37.
    const steps = evals.map((e) => e.step);
    for (const end of [15, 26, 37]) assert.ok(steps.includes(end), `an evaluation at step ${end}: ${steps}`);
    assert.ok(Number.isFinite(last.accuracy) && last.accuracy > 0.1, `accuracy at 60° ${last.accuracy}`);
    assertNoErrors(errors);

    // Five domains need 9,500 images; the embedded MNIST has 8,000: the worker says so beside the field.
    await page.click('#reset');
    await waitForState(page, 'ready');
    await page.fill('#domains', '10,20,30,40,50');
    await page.click('#reset');
    await page.waitForFunction(() => document.getElementById('domains-error').innerText !== '', null, { timeout: 60_000 });
    assert.match(await page.innerText('#domains-error'), /5 domains need 9,500 training images .* this data set has 8,000/);
  } finally {
    await context.close();
  }
});

test('ASAM invariance in the sharpness panel: layer 1 × 4 keeps the loss and ASAM\'s sharpness, moves SAM\'s', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ sam: 'none', epochs: '2' }) });
  try {
    await waitForState(page, 'ready');
    await page.click('#start');
    await waitForStep(page, 40);
    await page.click('#pause');
    await waitForState(page, 'paused');
    const step = await currentStep(page);
    /** Measure now with the factor field at `scale`; waits for a new answer. */
    const measure = async (scale) => {
      await page.fill('#measureScale', scale);
      const before = await page.evaluate(() => JSON.stringify(window.samlab.sharpness.lastMeasure));
      await page.click('#measure');
      await page.waitForFunction((old) => {
        const s = window.samlab.sharpness;
        return s.busy === null && s.lastMeasure && JSON.stringify(s.lastMeasure) !== old;
      }, before, { timeout: 90_000, polling: 100 });
      return { m: (await page.evaluate(() => window.samlab.sharpness)).lastMeasure, text: await page.innerText('#measure-result') };
    };
    const one = await measure('1');
    const four = await measure('4');
    assert.equal(four.m.step, step);
    assert.equal(four.m.request.scale, 4);
    assert.equal(four.m.request.eta, 0, "ASAM's adaptive sharpness with η = 0");
    assert.equal(one.m.request.scale, undefined, 'a factor of 1 is the plain measurement');
    assert.match(four.text, /Measured with layer 1 × 4 and layer 2 × 1\/4: the same function/);
    assert.match(four.text, /In ASAM's adaptive ball \(η = 0\): about/);
    // The same function: the same loss (up to float rounding).
    assert.ok(Math.abs(four.m.loss - one.m.loss) <= 1e-4 * one.m.loss, `loss ${four.m.loss} vs ${one.m.loss}`);
    // SAM's worst case moves; ASAM's adaptive one stays (the reference: docs/reproductions.md).
    const two = await measure('');
    assert.equal(two.m.request.scale, undefined);
    const adaptiveOne = (await measure('0.25')).m;
    assert.ok(Math.abs(adaptiveOne.adaptiveWorstCase - four.m.adaptiveWorstCase) <= 0.02 * Math.abs(four.m.adaptiveWorstCase) + 1e-5,
      `ASAM's sharpness at a = 0.25 ${adaptiveOne.adaptiveWorstCase} vs a = 4 ${four.m.adaptiveWorstCase}`);
    assert.ok(Math.abs(four.m.worstCase - one.m.worstCase) > 0.2 * Math.abs(one.m.worstCase),
      `SAM's sharpness at a = 4 ${four.m.worstCase} vs a = 1 ${one.m.worstCase}`);

    // A factor that is not a number > 0: a message, no request.
    await page.fill('#measureScale', '-2');
    await page.click('#measure');
    assert.match(await page.innerText('#sharpness-error'), /layer-1 factor must be a number greater than 0/);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('the ASAM-invariance preset sets up the run and the factor; the shifted-test, gradual and repetition presets fill the A/B view', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash() });
  try {
    await waitForState(page, 'ready');
    await page.selectOption('#comparePreset', 'asam-invariance');
    await waitForState(page, 'ready');
    assert.equal(await page.inputValue('#measureScale'), '4');
    assert.equal(await page.inputValue('#hidden'), '128');
    assert.match(await page.innerText('#compare-preset-note'), /Kwon et al\. 2021/);

    await page.selectOption('#comparePreset', 'ood');
    await page.waitForFunction(() => /testShift=rotate:30/.test(location.hash) && (location.hash.match(/vs=/g) ?? []).length === 3);
    assert.equal(await page.inputValue('#testShift'), 'rotate:30');
    assert.match(await page.evaluate(() => decodeURIComponent(location.hash)), /vs=testShift:noise:0\.4/);

    await page.selectOption('#comparePreset', 'gradual-da');
    await page.waitForFunction(() => /domains=15,30,45,60/.test(location.hash));
    assert.match(await page.evaluate(() => decodeURIComponent(location.hash)), /vs=domains:60,60,60,60/);
    assert.equal(await page.inputValue('#domains'), '15,30,45,60');
    assert.equal(await page.isHidden('#testShift'), true, 'the domains set the test images');

    await page.selectOption('#comparePreset', 'repetition');
    await page.waitForFunction(() => /trainPerClass=50/.test(location.hash));
    assert.equal(await page.inputValue('#dataset'), 'fashion-mnist');
    assert.equal(await page.inputValue('#epochs'), '40');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});
