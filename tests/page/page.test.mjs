// The page in headless Chromium: Reset, no WebGPU, invalid input, layout at 800×600 and
// 1280×720, and a crashed engine. Needs `npm run build` (dist/).

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

test('Reset clears the charts and the state, and the next run starts from step 0', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '3' }) });
  try {
    await waitForState(page, 'ready');
    await page.click('#start');
    await waitForStep(page, 15);
    await page.click('#reset');
    await waitForState(page, 'ready');
    const s = await page.evaluate(() => ({
      history: window.samlab.history, info: window.samlab.info, latest: window.samlab.latest,
      evals: window.samlab.evals, speed: document.getElementById('status-speed').textContent,
    }));
    assert.deepEqual(s.history.accuracy.step, [0], 'only the fresh model\'s step-0 test point is left');
    assert.deepEqual(s.history.accuracy.train, [null]);
    assert.deepEqual(s.history.sam.step, []);
    assert.deepEqual(s.history.drawn, { accuracy: 1, loss: 1, sam: 0 });
    assert.equal(s.info.step, 0);
    assert.equal(s.latest, null);
    assert.equal(s.evals.length, 1);
    assert.equal(s.speed, '');
    assert.ok(await page.locator('#hidden').isEnabled(), 'settings are editable again after Reset');

    await page.click('#start');
    await waitForStep(page, 3);
    const first = await page.evaluate(() => window.samlab.history.sam.step[0]);
    assert.equal(first, 1, 'the new run starts at step 1');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('without WebGPU the page explains what is needed, keeps its controls visible and throws nothing', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash(), noWebGpu: true });
  try {
    await waitForState(page, 'nogpu', 20_000);
    const panel = page.locator('#nogpu');
    assert.ok(await panel.isVisible());
    const text = await panel.innerText();
    assert.match(text, /WebGPU is needed/);
    assert.match(text, /Chrome or Edge 113/);
    assert.match(text, /enable-unsafe-webgpu/);
    assert.match(text, /Firefox 141/);
    assert.match(text, /Safari 26/);
    for (const id of ['#lr', '#optimizer', '#start', '#reset', '#save']) {
      assert.ok(await page.locator(id).isVisible(), `${id} visible`);
      assert.ok(await page.locator(id).isDisabled(), `${id} disabled`);
    }
    assert.equal(await page.locator('.uplot').count(), 3, 'the (empty) charts are drawn');
    assert.match(await page.locator('#status-state').innerText(), /WebGPU is not available/);
    assert.ok(await page.locator('#banner').isHidden(), 'no error banner: the panel says it all');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }

  // navigator.gpu exists but requestAdapter() finds nothing (blocklisted or disabled GPU).
  const noAdapter = await openPage(env, {
    hash: smallHash(),
    beforeGoto: (p) => p.addInitScript(() => {
      if (self.GPU) GPU.prototype.requestAdapter = async () => null;
    }),
  });
  try {
    await waitForState(noAdapter.page, 'nogpu', 20_000);
    assert.match(await noAdapter.page.locator('#nogpu').innerText(), /found no GPU adapter/);
    assert.ok(await noAdapter.page.locator('#start').isDisabled());
    assertNoErrors(noAdapter.errors);
  } finally {
    await noAdapter.context.close();
  }
});

test('invalid lr or ρ shows a message beside the field and disables Start; live lr changes apply', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '3' }) });
  try {
    await waitForState(page, 'ready');
    const startDisabled = () => page.locator('#start').isDisabled();
    assert.equal(await startDisabled(), false);

    for (const bad of ['-1', 'abc', '', '0']) {
      await page.fill('#lr', bad);
      assert.match(await page.locator('#lr-error').innerText(), /learning rate must be a number above 0/, `lr "${bad}"`);
      assert.equal(await page.getAttribute('#lr', 'aria-invalid'), 'true');
      assert.ok(await startDisabled(), `Start disabled with lr "${bad}"`);
      assert.ok(await page.locator('#step').isDisabled());
    }
    await page.fill('#lr', '0.05');
    await page.fill('#rho', '-0.5');
    assert.match(await page.locator('#rho-error').innerText(), /ρ must be a number of at least 0/);
    assert.ok(await startDisabled());
    await page.fill('#rho', 'NaN');
    assert.ok(await startDisabled());
    await page.fill('#rho', '0.1');
    assert.equal(await page.locator('#rho-error').innerText(), '');
    assert.equal(await page.locator('#lr-error').innerText(), '');
    assert.match(await page.evaluate(() => location.hash), /rho=0\.1&lr=0\.05/, 'the URL hash follows the fields');
    await page.waitForFunction(() => !document.getElementById('start').disabled);

    // ρ comes with the SAM mode: ASAM brings its own default, "none" disables the field.
    await page.selectOption('#sam', 'none');
    assert.ok(await page.locator('#rho').isDisabled());
    await page.selectOption('#sam', 'asam');
    assert.equal(await page.inputValue('#rho'), '0.5');
    await page.selectOption('#sam', 'sam');
    await waitForState(page, 'ready');

    // While training only lr and ρ can change; a bad value is refused, a good one reaches the trainer.
    await page.click('#start');
    await waitForStep(page, 3);
    assert.ok(await page.locator('#hidden').isDisabled(), 'the model cannot change mid-run');
    await page.fill('#lr', 'abc');
    assert.match(await page.locator('#lr-error').innerText(), /above 0/);
    await page.fill('#lr', '0.02');
    await page.waitForFunction(() => window.samlab.latest?.lr === 0.02, null, { timeout: 30_000 });
    assert.equal(await page.locator('#lr-error').innerText(), '');
    await page.click('#pause');
    await waitForState(page, 'paused');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('a diverging run pauses itself with a message beside the learning rate', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ lr: '1e6', sam: 'none' }) });
  try {
    await waitForState(page, 'ready');
    await page.click('#start');
    await waitForState(page, 'paused', 30_000);
    const message = await page.locator('#lr-error').innerText();
    assert.match(message, /diverged at step \d+: the loss became NaN or infinite/);
    assert.match(message, /Lower the learning rate/);
    assert.ok(await page.locator('#banner').isHidden(), 'the message sits beside the field, not in a banner');
    await page.fill('#lr', '0.05');
    assert.equal(await page.locator('#lr-error').innerText(), '', 'editing the field clears the message');
    await page.click('#reset');
    await waitForState(page, 'ready');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('a data set that cannot be downloaded is reported beside the data set field', async () => {
  const { page, context, errors } = await openPage(env, {
    hash: smallHash(),
    beforeGoto: (p) => p.route('**/data/fashion-mnist/**', (route) => route.fulfill({ status: 404, body: 'not found' })),
  });
  try {
    await waitForState(page, 'ready');
    await page.selectOption('#dataset', 'fashion-mnist');
    await waitForState(page, 'failed');
    assert.match(await page.locator('#dataset-error').innerText(), /Fashion-MNIST is not part of this build.*HTTP 404/);
    assert.ok(await page.locator('#start').isDisabled());
    await page.selectOption('#dataset', 'mnist');
    await page.waitForFunction(() => window.samlab.state === 'ready', null, { timeout: 60_000 });
    assert.equal(await page.locator('#dataset-error').innerText(), '');
    assertNoErrors(errors, [/Failed to load resource: the server responded with a status of 404/]);
  } finally {
    await context.close();
  }
});

/** Horizontal overflow and chart boxes of a page or frame. */
function measure(target) {
  return target.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    innerHeight: window.innerHeight,
    charts: [...document.querySelectorAll('.chart canvas')].map((c) => {
      const r = c.getBoundingClientRect();
      return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height };
    }),
  }));
}

function assertFits(m, width, what) {
  assert.ok(m.scrollWidth <= m.clientWidth, `${what}: no horizontal scrollbar (scrollWidth ${m.scrollWidth} > ${m.clientWidth})`);
  assert.equal(m.charts.length, 3, `${what}: three charts`);
  for (const c of m.charts) {
    assert.ok(c.width >= 200 && c.height >= 100, `${what}: chart ${c.width}×${c.height} is big enough to read`);
    assert.ok(c.left >= 0 && c.right <= width, `${what}: chart inside the width (${c.left}..${c.right})`);
  }
}

test('the layout fits 1280×720 and an 800×600 iframe without horizontal scrolling', async () => {
  // 1280×720: everything, charts included, is on screen at once.
  const wide = await openPage(env, { hash: smallHash() });
  try {
    await waitForState(wide.page, 'ready');
    const m = await measure(wide.page);
    assertFits(m, 1280, '1280×720');
    for (const c of m.charts) assert.ok(c.bottom <= 720, `1280×720: chart bottom ${c.bottom} is on screen`);
    // Charts follow their container (setSize on resize): narrower window, narrower charts.
    await wide.page.setViewportSize({ width: 1000, height: 720 });
    await wide.page.waitForFunction((before) => {
      const canvases = [...document.querySelectorAll('.chart canvas')];
      return canvases.every((c) => Math.abs(c.getBoundingClientRect().width - c.closest('.plot').clientWidth) <= 1)
        && canvases[0].getBoundingClientRect().width < before;
    }, m.charts[0].width);
    assertFits(await measure(wide.page), 1000, '1000×720');
    assertNoErrors(wide.errors);
  } finally {
    await wide.context.close();
  }

  // The page inside an 800×600 iframe of another page on the same server.
  const framed = await openPage(env, {
    path: '__frame.html',
    beforeGoto: (page) => page.route('**/__frame.html', (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><body style="margin:0"><iframe src="index.html#${smallHash()}" width="800" height="600" style="border:0"></iframe>`,
    })),
  });
  try {
    const frame = framed.page.frames().find((f) => f.url().includes('index.html'));
    assert.ok(frame, 'the iframe loaded');
    await waitForState(frame, 'ready');
    const m = await measure(frame);
    assert.equal(m.clientWidth, 800);
    assertFits(m, 800, '800×600 iframe');
    assert.ok(m.charts[0].top < 600, 'the first chart starts on the first screen');
    await frame.click('#start');
    await waitForStep(frame, 3);
    await frame.click('#pause');
    await waitForState(frame, 'paused');
    assertFits(await measure(frame), 800, '800×600 iframe after training');
    assertNoErrors(framed.errors);
  } finally {
    await framed.context.close();
  }
});

test('a crashed engine shows a banner; Restart starts a fresh one and reloads the saved weights', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '2' }) });
  try {
    await waitForState(page, 'ready');
    await page.click('#start');
    await waitForStep(page, 25);
    await page.click('#pause');
    await waitForState(page, 'paused');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    await download.path();

    await page.evaluate(() => window.samlab.simulateCrash());
    await waitForState(page, 'crashed', 20_000);
    assert.ok(await page.locator('#banner').isVisible());
    assert.match(await page.locator('#banner-message').innerText(), /training engine stopped/);
    assert.match(await page.locator('#banner-hint').innerText(), /Press Restart/);
    assert.ok(await page.locator('#restart').isVisible());
    assert.ok(await page.locator('#start').isDisabled());

    await page.click('#restart');
    await waitForState(page, 'ready');
    assert.ok(await page.locator('#banner').isHidden());
    // A fresh model (step-0 evaluation near chance), then the saved weights loaded and evaluated.
    await page.waitForFunction(() => window.samlab.evals.length === 2);
    const [fresh, restored] = await page.evaluate(() => window.samlab.evals);
    assert.ok(fresh.accuracy < 0.3, `fresh model ${fresh.accuracy}`);
    assert.ok(restored.accuracy > 0.6, `restored weights ${restored.accuracy}`);
    assertNoErrors(errors, [/simulated engine crash/]);
  } finally {
    await context.close();
  }
});

test('after a crash with nothing saved, Restart goes on from the weights of the last evaluation', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '2' }) });
  try {
    await waitForState(page, 'ready');
    await page.click('#start');
    // Past the first evaluations: the page holds a copy of the weights from the last one.
    await page.waitForFunction(() => window.samlab.evals.length >= 3 && window.samlab.evals.at(-1).accuracy > 0.6, null, { timeout: 60_000 });
    await page.click('#pause');
    await waitForState(page, 'paused');
    const before = await page.evaluate(() => window.samlab.evals.at(-1).accuracy);

    await page.evaluate(() => window.samlab.simulateCrash());
    await waitForState(page, 'crashed', 20_000);
    assert.match(await page.locator('#banner-hint').innerText(), /Restart loads back the weights of step \d+/);
    await page.click('#restart');
    await waitForState(page, 'ready');
    // The fresh engine's own evaluation (the list restarts with the engine), then the restored one.
    await page.waitForFunction(() => window.samlab.evals.length === 2);
    const [fresh, { accuracy: restored }] = await page.evaluate(() => window.samlab.evals);
    assert.ok(fresh.accuracy < 0.3, `fresh model ${fresh.accuracy}`);
    assert.ok(Math.abs(restored - before) < 0.05, `restored ${restored} vs before the crash ${before}`);
    assertNoErrors(errors, [/simulated engine crash/]);
  } finally {
    await context.close();
  }
});

test('a lost GPU device is reported in plain words, and Restart goes on from the kept weights', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '2' }) });
  try {
    await waitForState(page, 'ready');
    await page.click('#start');
    await page.waitForFunction(() => window.samlab.evals.length >= 3 && window.samlab.evals.at(-1).accuracy > 0.6, null, { timeout: 60_000 });
    await page.click('#pause');
    await waitForState(page, 'paused');
    const before = await page.evaluate(() => window.samlab.evals.at(-1).accuracy);
    await page.evaluate(() => window.samlab.loseDevice());
    await page.click('#step'); // the next GPU work meets the lost device
    await waitForState(page, 'crashed', 30_000);
    assert.match(await page.locator('#banner-message').innerText(), /GPU device was lost/);
    assert.match(await page.locator('#banner-hint').innerText(), /Restart loads back the weights of step \d+/);
    await page.click('#restart');
    await waitForState(page, 'ready');
    await page.waitForFunction(() => window.samlab.evals.length === 2);
    const restored = await page.evaluate(() => window.samlab.evals[1].accuracy);
    assert.ok(Math.abs(restored - before) < 0.05, `restored ${restored} vs before the loss ${before}`);
    assertNoErrors(errors, [/device was lost|lost|destroyed/i]);
  } finally {
    await context.close();
  }
});

test('a worker that stops answering is caught by the watchdog and can be restarted', async () => {
  const { page, context, errors } = await openPage(env, { hash: `${smallHash({ epochs: '2' })}&watchdog=4` });
  try {
    await waitForState(page, 'ready');
    await page.click('#start');
    await waitForStep(page, 3);
    await page.evaluate(() => window.samlab.simulateHang());
    await waitForState(page, 'crashed', 20_000);
    assert.match(await page.locator('#banner-message').innerText(), /has been silent for 4 s/);
    await page.click('#restart');
    await waitForState(page, 'ready');
    await page.click('#start');
    await waitForStep(page, 2);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});
