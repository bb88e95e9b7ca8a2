// The SAM variants on the page (headless Chromium, WebGPU on SwiftShader): choosing a mode shows
// exactly its hyperparameters, what it does, its paper and its passes per step; a LookSAM run
// reports 1.2 passes per step, leaves gaps where it has no L(w+ε) and learns; bad k, λ, m (not a
// divisor of the batch), SSAM's s and N_s (more than the batch) and MSAM without momentum SGD are
// caught beside their fields; SSAM-D, ESAM, R-SAM and μP² come from links with their own fields,
// labels and passes, check dr, β, λ and the base width beside the field, and train a few steps
// each; an m-sharpness run with SWA tests the average once it starts. Needs `npm run build` (dist/).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  assertNoErrors, openPage, smallHash, startBrowser, waitForState, waitForStep,
} from './helpers.mjs';

let env;
before(async () => {
  env = await startBrowser();
});
after(async () => {
  await env?.close();
});

/** The SAM hyperparameter fields, in page order. */
const SAM_PARAMS = ['rho', 'eta', 'sparsity', 'fisherSamples', 'dropRate', 'k', 'n', 'm', 'baseWidth', 'alpha', 'sigma', 'lambda', 'gamma', 'beta', 'rhoMin'];

/** The SAM hyperparameter fields the page shows, in page order. */
function visibleParams(page) {
  return page.evaluate((keys) => keys.filter((k) => !document.getElementById(k).closest('.field').hidden), SAM_PARAMS);
}

/** Values of the given fields. */
function values(page, keys) {
  return page.evaluate((keys) => Object.fromEntries(keys.map((k) => [k, document.getElementById(k).value])), keys);
}

test('LookSAM (k = 5) chosen on the page: 1.2 passes per step, gaps without L(w+ε), and it learns', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '1' }) });
  try {
    await waitForState(page, 'ready');
    await page.selectOption('#sam', 'looksam');
    // Its hyperparameters with the reference defaults, and its cost before the trainer exists.
    assert.deepEqual(await visibleParams(page), ['rho', 'k', 'alpha']);
    assert.deepEqual(await values(page, ['rho', 'k', 'alpha']), { rho: '0.3', k: '5', alpha: '0.2' });
    assert.match(await page.locator('#sam-passes-value').innerText(), /^1\.2 /);
    assert.match(await page.evaluate(() => location.hash), /&sam=looksam&rho=0\.3&k=5&alpha=0\.2&lr=/);
    assert.match(await page.locator('#sam-chart-note').innerText(), /only on its SAM steps/);

    // A new trainer is built in the background (after a 300 ms pause in typing); it reports its own number.
    await page.waitForFunction(() => window.samlab.state === 'loading', null, { timeout: 10_000, polling: 50 });
    await waitForState(page, 'ready');
    assert.equal(await page.evaluate(() => window.samlab.info.passesPerStep), 1.2);
    assert.equal(await page.evaluate(() => window.samlab.passesPerStep), 1.2);
    assert.match(await page.locator('#sam-passes-value').innerText(), /^1\.2 /);
    const untrained = (await page.evaluate(() => window.samlab.evals))[0].accuracy;

    // Step 0 is a SAM step (L(w+ε) read out), step 1 reuses its direction (none): a gap, not a 0.
    await page.click('#step');
    await waitForStep(page, 1);
    await page.waitForFunction(() => window.samlab.pending.length === 0);
    await page.click('#step');
    await waitForStep(page, 2);
    await page.waitForFunction(() => window.samlab.pending.length === 0);
    const twoSteps = await page.evaluate(() => window.samlab.history.sam);
    assert.deepEqual(twoSteps.step, [1, 2]);
    assert.ok(Number.isFinite(twoSteps.sharpness[0]), `SAM step: sharpness ${twoSteps.sharpness[0]}`);
    assert.ok(twoSteps.cos[0] >= -1 && twoSteps.cos[0] <= 1);
    assert.equal(twoSteps.sharpness[1], null, 'a reuse step has no L(w+ε): null, not 0');
    assert.equal(twoSteps.cos[1], null);
    assert.ok(twoSteps.gradNorm.every((g) => g > 0), '‖g0‖ on both kinds of step');
    const legend = await page.waitForFunction(() => {
      const text = document.querySelector('#chart-sam .u-legend').innerText;
      return /L\(w\+ε\)−L\(w\)\s*–/.test(text) && text;
    }, null, { timeout: 5_000 }).then((h) => h.jsonValue()).catch(async () => page.locator('#chart-sam .u-legend').innerText());
    assert.match(legend, /L\(w\+ε\)−L\(w\)\s*–/, 'the legend shows – for the missing value');

    await page.click('#pause'); // Resume
    await waitForState(page, 'done', 120_000);
    const h = await page.evaluate(() => window.samlab.history);
    const last = await page.evaluate(() => window.samlab.lastEval);
    assert.equal(last.step, 62);
    assert.ok(last.accuracy > 0.7 && last.accuracy > untrained + 0.4, `test accuracy ${untrained} → ${last.accuracy}`);
    const train = h.accuracy.train.filter((v) => v !== null);
    assert.ok(train.at(-1) > train[0] + 0.3, `train accuracy ${train[0]} → ${train.at(-1)}`);
    assert.ok(h.sam.sharpness.every((v) => v === null || Number.isFinite(v)), 'sharpness is a number or a gap');
    assert.ok(h.sam.sharpness.some((v, i) => i > 1 && Number.isFinite(v)), 'later updates with a SAM step read it out');
    assert.ok(h.drawn.sam > 2);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('each mode shows exactly its hyperparameters; k = 0 or λ = 2 gets a message beside the field and disables Start', async () => {
  // A link that chose LookSAM with k = 7: its values come back whenever LookSAM is chosen again.
  const { page, context, errors } = await openPage(env, { hash: `${smallHash({ sam: 'looksam', rho: '0.3' })}&k=7&alpha=0.2` });
  try {
    await waitForState(page, 'ready');
    const start = page.locator('#start');
    assert.deepEqual(await visibleParams(page), ['rho', 'k', 'alpha']);
    assert.equal(await page.inputValue('#k'), '7');
    assert.match(await page.locator('#sam-passes-value').innerText(), /^1\.14 /);
    assert.equal(await page.locator('label[for="alpha"]').innerText(), 'α (reuse weight)');

    for (const bad of ['0', '2.5', '']) {
      await page.fill('#k', bad);
      assert.match(await page.locator('#k-error').innerText(), /k must be a whole number of at least 1/, `k "${bad}"`);
      assert.equal(await page.getAttribute('#k', 'aria-invalid'), 'true');
      assert.ok(await start.isDisabled(), `Start disabled with k "${bad}"`);
      assert.ok(await page.locator('#step').isDisabled());
    }
    await page.fill('#k', '7');
    assert.equal(await page.locator('#k-error').innerText(), '');
    await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 60_000 });

    // F-SAM: its own fields and defaults, its explanation and paper; λ is checked.
    await page.selectOption('#sam', 'fsam');
    assert.deepEqual(await visibleParams(page), ['rho', 'sigma', 'lambda']);
    assert.deepEqual(await values(page, ['rho', 'sigma', 'lambda']), { rho: '0.1', sigma: '1', lambda: '0.95' });
    assert.match(await page.locator('#sam-about').innerText(), /EMA/);
    assert.equal(await page.getAttribute('#sam-paper', 'href'), 'https://arxiv.org/abs/2403.12350');
    assert.match(await page.locator('#sam-paper').innerText(), /Li et al\., CVPR 2024/);
    assert.match(await page.locator('#sam-passes-value').innerText(), /^2$/);
    const hash = await page.evaluate(() => location.hash);
    assert.match(hash, /&sam=fsam&rho=0\.1&sigma=1&lambda=0\.95&lr=/);
    assert.doesNotMatch(hash, /&k=|alpha/);
    for (const bad of ['2', '-0.5', 'x']) {
      await page.fill('#lambda', bad);
      assert.match(await page.locator('#lambda-error').innerText(), /λ is a decay rate: a number from 0 to 1/, `λ "${bad}"`);
      assert.equal(await page.getAttribute('#lambda', 'aria-invalid'), 'true');
      assert.ok(await start.isDisabled(), `Start disabled with λ "${bad}"`);
    }
    await page.fill('#lambda', '0.9');
    assert.equal(await page.locator('#lambda-error').innerText(), '');
    assert.match(await page.evaluate(() => location.hash), /lambda=0\.9/);

    // Every mode: exactly its fields, an explanation, a paper link (none for "none").
    const expected = {
      none: [], sam: ['rho'], asam: ['rho', 'eta'], 'asam-davda54': ['rho'], gsam: ['rho', 'alpha', 'rhoMin'],
      fsam: ['rho', 'sigma', 'lambda'],
      ssam: ['rho', 'sparsity', 'fisherSamples', 'k'], // before LookSAM, whose link k is checked after the loop
      'ssam-d': ['rho', 'sparsity', 'dropRate', 'k'], // before LookSAM too
      esam: ['rho', 'gamma', 'beta'], rsam: ['rho', 'sigma', 'lambda'], mup2: ['rho', 'baseWidth'],
      looksam: ['rho', 'k', 'alpha'], s2sam: ['rho'], crsam: ['rho', 'gamma', 'beta'],
      msam: ['rho'], nstep: ['rho', 'n', 'alpha'], msharp: ['rho', 'm'], sampa: ['rho', 'lambda'],
      'sam-linf': ['rho'], // last: the checks after the loop expect SAM-L∞ to be selected
    };
    const passes = {
      none: '1', sam: '2', asam: '2', 'asam-davda54': '2', gsam: '2', fsam: '2', looksam: '1.14', s2sam: '1', crsam: '3',
      msam: '1', nstep: '3', msharp: '2', 'sam-linf': '2', sampa: '2', ssam: '2', 'ssam-d': '2', esam: '1.5', rsam: '2', mup2: '2',
    };
    // Late-phase SAM, the ρ schedule and SWA: the first two only with a SAM mode, warm-up steps only with warm-up.
    const runFields = () => page.evaluate(() => ['rhoSchedule', 'rhoWarmup', 'samStart', 'swaStart'].filter((k) => !document.getElementById(k).closest('.field').hidden));
    for (const [mode, params] of Object.entries(expected)) {
      await page.selectOption('#sam', mode);
      assert.deepEqual(await visibleParams(page), params, mode);
      for (const key of SAM_PARAMS.filter((k) => !params.includes(k))) {
        assert.ok(await page.locator(`#${key}`).isDisabled(), `${mode}: hidden ${key} is disabled too`);
      }
      assert.notEqual(await page.locator('#sam-about').innerText(), '', mode);
      assert.equal(await page.locator('#sam-paper').isVisible(), mode !== 'none', `${mode}: paper link`);
      assert.equal((await page.locator('#sam-passes-value').innerText()).split(' ')[0], passes[mode], `${mode}: passes`);
      assert.deepEqual(await runFields(), mode === 'none' ? ['swaStart'] : ['rhoSchedule', 'samStart', 'swaStart'], `${mode}: run fields`);
    }
    assert.equal(await page.inputValue('#k'), '7', 'LookSAM came back with the link\'s k');
    assert.equal(await page.inputValue('#rho'), '0.005', 'SAM-L∞ brings its own ρ');
    assert.match(await page.locator('#sam-chart-note').innerText(), /^$/);
    await page.selectOption('#rhoSchedule', 'warmup');
    assert.deepEqual(await runFields(), ['rhoSchedule', 'rhoWarmup', 'samStart', 'swaStart']);
    assert.match(await page.evaluate(() => location.hash), /&rhoSchedule=warmup&rhoWarmup=100&lr=/);
    await page.fill('#rhoWarmup', '0');
    assert.match(await page.locator('#rhoWarmup-error').innerText(), /warm-up must be a whole number of steps/);
    assert.ok(await start.isDisabled());
    await page.selectOption('#rhoSchedule', { value: '' });
    assert.equal(await page.locator('#rhoWarmup-error').innerText(), '', 'hidden with its schedule: not checked');

    // m-sharpness: m must divide the batch size; MSAM needs SGD with momentum. Both beside the field.
    await page.selectOption('#sam', 'msharp');
    await page.fill('#m', '30');
    assert.match(await page.locator('#m-error').innerText(), /m must divide the batch size \(128\).*try 32\./);
    assert.equal(await page.getAttribute('#m', 'aria-invalid'), 'true');
    assert.ok(await start.isDisabled(), 'Start disabled with m 30');
    await page.fill('#m', '32');
    assert.equal(await page.locator('#m-error').innerText(), '');

    // SSAM: its fields with their defaults (k is its own, 100), its explanation, paper and passes;
    // s, N_s (and N_s against the batch size) are checked beside their fields.
    await page.selectOption('#sam', 'ssam');
    assert.deepEqual(await values(page, ['rho', 'sparsity', 'fisherSamples', 'k']), { rho: '0.05', sparsity: '0.5', fisherSamples: '16', k: '100' });
    assert.equal(await page.locator('label[for="fisherSamples"]').innerText(), 'N_s (samples)');
    assert.match(await page.locator('#sam-about').innerText(), /mask ⊙ ρ·g0\/‖g0‖.*Fisher information/);
    assert.equal(await page.getAttribute('#sam-paper', 'href'), 'https://arxiv.org/abs/2210.05177');
    assert.match(await page.locator('#sam-paper').innerText(), /Mi et al\., NeurIPS 2022/);
    assert.equal(await page.locator('#sam-passes-value').innerText(), '2 (+ 16 one-row passes on each k-th step)');
    assert.match(await page.evaluate(() => location.hash), /&sam=ssam&rho=0\.05&sparsity=0\.5&fisherSamples=16&k=100&lr=/);
    assert.equal(await page.locator('#sam-chart-note').innerText(), '', 'SSAM reads out L(w+ε) on every step');
    for (const bad of ['1', '-0.1']) {
      await page.fill('#sparsity', bad);
      assert.match(await page.locator('#sparsity-error').innerText(), /^s is the share of parameters left unperturbed: at least 0 and below 1/, `s "${bad}"`);
      assert.equal(await page.getAttribute('#sparsity', 'aria-invalid'), 'true');
      assert.ok(await start.isDisabled(), `Start disabled with s "${bad}"`);
    }
    await page.fill('#sparsity', '0.8');
    assert.equal(await page.locator('#sparsity-error').innerText(), '');
    for (const bad of ['0', '2.5']) {
      await page.fill('#fisherSamples', bad);
      assert.match(await page.locator('#fisherSamples-error').innerText(), /^N_s must be a whole number of at least 1/, `N_s "${bad}"`);
      assert.equal(await page.getAttribute('#fisherSamples', 'aria-invalid'), 'true');
      assert.ok(await start.isDisabled(), `Start disabled with N_s "${bad}"`);
    }
    assert.equal(await page.locator('#sam-passes-value').innerText(), '2', 'no Fisher pass count while N_s is invalid');
    await page.fill('#fisherSamples', '200');
    assert.equal(await page.locator('#fisherSamples-error').innerText(), "N_s must be at most the batch size (128): the Fisher samples are the batch's first rows. Try 16.");
    assert.equal(await page.getAttribute('#fisherSamples', 'aria-invalid'), 'true');
    assert.equal(await page.locator('#batchSize-error').innerText(), '', 'the message is beside N_s');
    assert.ok(await start.isDisabled(), 'Start disabled with N_s 200 > batch 128');
    await page.fill('#fisherSamples', '8');
    assert.equal(await page.locator('#fisherSamples-error').innerText(), '');
    await page.fill('#batchSize', '4');
    assert.match(await page.locator('#fisherSamples-error').innerText(), /at most the batch size \(4\).*Try 4\./, 'a new batch size re-checks N_s');
    assert.ok(await start.isDisabled(), 'Start disabled with N_s 8 > batch 4');
    await page.fill('#batchSize', '128');
    assert.equal(await page.locator('#fisherSamples-error').innerText(), '');
    await page.fill('#k', '0');
    assert.match(await page.locator('#k-error').innerText(), /a new Fisher mask every k steps \(try 100\)/);
    await page.fill('#k', '50');
    assert.equal(await page.locator('#k-error').innerText(), '');
    assert.match(await page.evaluate(() => location.hash), /&sam=ssam&rho=0\.05&sparsity=0\.8&fisherSamples=8&k=50&lr=/);
    assert.equal(await page.locator('#sam-passes-value').innerText(), '2 (+ 8 one-row passes on each k-th step)');
    // The trainer takes these settings: Start comes back once it is built for them.
    await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 60_000 });
    assert.equal(await page.evaluate(() => window.samlab.info.passesPerStep), 2, "the trainer's own number");

    await page.selectOption('#sam', 'msam');
    await page.selectOption('#optimizer', 'adam');
    assert.match(await page.locator('#optimizer-error').innerText(), /MSAM perturbs along the SGD momentum buffer: choose "SGD \+ momentum 0\.9"/);
    assert.ok(await start.isDisabled(), 'Start disabled: MSAM with Adam');
    await page.selectOption('#optimizer', 'momentum');
    assert.equal(await page.locator('#optimizer-error').innerText(), '');
    assert.match(await page.locator('#sam-chart-note').innerText(), /MSAM has no L\(w\+ε\) read-out/);
    await page.fill('#samStart', '1');
    assert.match(await page.locator('#samStart-error').innerText(), /Late-phase SAM starts at a fraction of the run/);
    assert.ok(await start.isDisabled());
    await page.fill('#samStart', '');
    assert.equal(await page.locator('#samStart-error').innerText(), '');
    await page.selectOption('#sam', 's2sam');
    assert.match(await page.locator('#sam-chart-note').innerText(), /no L\(w\+ε\) read-out/);
    await page.waitForFunction(() => window.samlab.state === 'ready' && window.samlab.info.passesPerStep === 1, null, { timeout: 60_000 });
    assert.ok(await start.isEnabled());
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('SSAM from a link (N_s 8, k 2): 2 passes per step, L(w+ε) read out on refresh and mask-reuse steps alike', async () => {
  const { page, context, errors } = await openPage(env, { hash: `${smallHash({ sam: 'ssam', rho: '0.05' })}&sparsity=0.5&fisherSamples=8&k=2` });
  try {
    await waitForState(page, 'ready');
    assert.deepEqual(await visibleParams(page), ['rho', 'sparsity', 'fisherSamples', 'k']);
    assert.deepEqual(await values(page, ['sparsity', 'fisherSamples', 'k']), { sparsity: '0.5', fisherSamples: '8', k: '2' });
    assert.equal(await page.evaluate(() => window.samlab.info.passesPerStep), 2, "the trainer's own number");
    assert.equal(await page.locator('#sam-passes-value').innerText(), '2 (+ 8 one-row passes on each k-th step)');
    // Steps 0 and 2 compute a new mask (8 one-row passes each), step 1 reuses it.
    for (let n = 1; n <= 3; n++) {
      await page.click('#step');
      await waitForStep(page, n);
      await page.waitForFunction(() => window.samlab.pending.length === 0);
    }
    const h = await page.evaluate(() => window.samlab.history.sam);
    assert.deepEqual(h.step, [1, 2, 3]);
    assert.ok(h.sharpness.every(Number.isFinite), `sharpness on every step: ${h.sharpness}`);
    assert.ok(h.gradNorm.every((g) => g > 0), `‖g0‖ ${h.gradNorm}`);
    assert.ok(h.cos.every((c) => c >= -1 && c <= 1), `cos ${h.cos}`);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('SSAM-D, ESAM, R-SAM and μP² from links: their fields, labels and passes, and a few steps each with L(w+ε) read out', async () => {
  const modes = [
    // SSAM-D with k 2: step 0 draws the random mask, step 2 drops and regrows part of it.
    {
      sam: 'ssam-d', params: { sparsity: '0.5', dropRate: '0.5', k: '2' }, passes: '2', trainer: 2, labels: { dropRate: 'dr (drop rate)' },
      bad: ['dropRate', '1.5', /^dr is the share of the mask replaced at each refresh .*a number from 0 to 1 \(try 0\.5\)\.$/],
    },
    // ESAM at the defaults: the second gradient on 64 of the 128 rows.
    {
      sam: 'esam', params: { gamma: '0.5', beta: '0.5' }, passes: '1.5 (+ a forward pass at w + ε on the whole batch to rank its rows)', trainer: 1.5,
      labels: { gamma: 'γ (batch share)', beta: 'β (keep probability)' },
      bad: ['beta', '0', /^β is the chance that each tensor is perturbed: above 0 and at most 1 \(try 0\.5; 1 is SAM\)\.$/],
    },
    {
      sam: 'rsam', params: { sigma: '0.001', lambda: '2' }, passes: '2', trainer: 2, labels: { sigma: 'σ (noise scale)', lambda: 'λ (gradient step)' },
      bad: ['lambda', '-1', /^λ is the step along ∇L\(w\+δ0\): a number of at least 0 \(try 2\)\.$/],
    },
    // μP² with the MLP's width 64 over a base width of 16: m = 4, not SAM.
    {
      sam: 'mup2', params: { baseWidth: '16' }, passes: '2', trainer: 2, labels: { baseWidth: 'base width' },
      bad: ['baseWidth', '0', /^The base width must be a whole number of at least 1: the width at which μP² is plain SAM \(try 64\)\.$/],
    },
  ];
  for (const mode of modes) {
    const hash = `${smallHash({ sam: mode.sam, rho: '0.05' })}&${new URLSearchParams(mode.params)}`;
    const { page, context, errors } = await openPage(env, { hash });
    try {
      await waitForState(page, 'ready');
      const keys = Object.keys(mode.params);
      assert.deepEqual(await visibleParams(page), ['rho', ...keys], mode.sam);
      assert.deepEqual(await values(page, keys), mode.params, mode.sam);
      for (const [key, label] of Object.entries(mode.labels)) {
        assert.equal(await page.locator(`label[for="${key}"]`).innerText(), label, `${mode.sam}: ${key} label`);
      }
      assert.notEqual(await page.locator('#sam-about').innerText(), '', mode.sam);
      assert.ok(await page.locator('#sam-paper').isVisible(), `${mode.sam}: paper link`);
      assert.equal(await page.locator('#sam-passes-value').innerText(), mode.passes, `${mode.sam}: passes`);
      assert.equal(await page.evaluate(() => window.samlab.info.passesPerStep), mode.trainer, `${mode.sam}: the trainer's own number`);
      // A bad value gets its message beside the field and disables Start; the link's value brings it back.
      const [key, bad, message] = mode.bad;
      await page.fill(`#${key}`, bad);
      assert.match(await page.locator(`#${key}-error`).innerText(), message, `${mode.sam}: ${key} "${bad}"`);
      assert.equal(await page.getAttribute(`#${key}`, 'aria-invalid'), 'true');
      assert.ok(await page.locator('#start').isDisabled(), `${mode.sam}: Start disabled with ${key} "${bad}"`);
      await page.fill(`#${key}`, mode.params[key]);
      assert.equal(await page.locator(`#${key}-error`).innerText(), '');
      await page.waitForFunction(() => !document.getElementById('start').disabled, null, { timeout: 60_000 });
      for (let n = 1; n <= 3; n++) {
        await page.click('#step');
        await waitForStep(page, n);
        await page.waitForFunction(() => window.samlab.pending.length === 0);
      }
      const h = await page.evaluate(() => window.samlab.history.sam);
      assert.deepEqual(h.step, [1, 2, 3], mode.sam);
      assert.ok(h.sharpness.every(Number.isFinite), `${mode.sam}: sharpness on every step: ${h.sharpness}`);
      assert.ok(h.gradNorm.every((g) => g > 0), `${mode.sam}: ‖g0‖ ${h.gradNorm}`);
      assert.ok(h.cos.every((c) => c >= -1 && c <= 1), `${mode.sam}: cos ${h.cos}`);
      assert.ok(Number.isFinite(await page.evaluate(() => window.samlab.latest.loss)), `${mode.sam}: a finite loss`);
      assert.equal(await page.evaluate(() => window.samlab.info.passesPerStep), mode.trainer, `${mode.sam}: passes after training`);
      assert.equal(await page.locator('#sam-passes-value').innerText(), mode.passes, `${mode.sam}: passes after training`);
      assertNoErrors(errors);
    } finally {
      await context.close();
    }
  }
});

test('m-sharpness (m 32) with SWA from half the run: 2 passes per step, the SWA test accuracy appears once averaging starts', async () => {
  const { page, context, errors } = await openPage(env, { hash: `${smallHash({ sam: 'msharp', rho: '0.05', batchSize: '128' })}&m=32&swaStart=0.5` });
  try {
    await waitForState(page, 'ready');
    assert.deepEqual(await visibleParams(page), ['rho', 'm']);
    assert.equal(await page.inputValue('#m'), '32');
    assert.equal(await page.inputValue('#swaStart'), '0.5');
    assert.match(await page.evaluate(() => location.hash), /&sam=msharp&rho=0\.05&m=32&lr=.*&swaStart=0\.5$/);
    assert.equal(await page.locator('#sam-passes-value').innerText(), '2');
    assert.equal(await page.evaluate(() => window.samlab.info.passesPerStep), 2, "the trainer's own number");
    assert.equal(await page.evaluate(() => window.samlab.passesPerStep), 2);
    assert.match(await page.locator('#chart-accuracy .u-legend').innerText(), /SWA test/, 'the SWA series is in the legend');
    // Step 0: the average does not exist yet.
    const first = (await page.evaluate(() => window.samlab.evals))[0];
    assert.equal(first.step, 0);
    assert.equal(first.swa, null, 'no SWA average before it starts');

    await page.click('#start');
    await waitForState(page, 'done', 120_000);
    const evals = await page.evaluate(() => window.samlab.evals);
    assert.deepEqual(evals.map((e) => e.step), [0, 31, 62]);
    // SWA averages from step 31 (half of 62) on: nothing after the first 31 steps, then the mean of 31 iterates.
    assert.equal(evals[1].swa, null, 'step 31: averaging has not started yet');
    const last = await page.evaluate(() => window.samlab.lastEval);
    assert.ok(last.swa && last.swa.samples === last.samples, `the SWA average is tested on the whole test split: ${JSON.stringify(last.swa)}`);
    assert.ok(last.swa.accuracy > 0.7, `SWA test accuracy ${last.swa.accuracy}`);
    assert.ok(Number.isFinite(last.swa.loss) && last.swa.loss > 0);
    assert.ok(last.accuracy > 0.7, `test accuracy ${last.accuracy}`);
    // The chart: a gap (null) before averaging starts, the point at the end.
    const h = await page.evaluate(() => window.samlab.history);
    const swaAt = (step) => h.accuracy.swa[h.accuracy.step.lastIndexOf(step)];
    assert.equal(swaAt(0), null);
    assert.equal(swaAt(31), null);
    assert.equal(swaAt(62), last.swa.accuracy);
    assert.equal(h.loss.swa[h.loss.step.lastIndexOf(62)], last.swa.loss);
    assert.equal(h.accuracy.swa.filter((v) => v !== null).length, 1);
    assert.ok(h.swaShown);
    assert.match(await page.locator('#status-test').innerText(), /SWA \d+\.\d\d%/);
    // m-sharpness reads out L(w+ε) on every step.
    assert.ok(h.sam.sharpness.every(Number.isFinite), 'sharpness on every update');
    assert.equal(await page.locator('#sam-passes-value').innerText(), '2');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});
