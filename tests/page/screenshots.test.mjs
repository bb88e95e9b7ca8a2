// Screenshots of the main views for the README (docs/screenshots/*.png), taken by this test run
// from the real page after real training, so they always show what the page does now. Each shot
// is checked to be a PNG of the expected size showing the element it is about.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { ROOT, assertNoErrors, openPage, smallHash, startBrowser, waitForState } from './helpers.mjs';

const SHOTS = path.join(ROOT, 'docs/screenshots');

let env;
before(async () => {
  env = await startBrowser();
  await mkdir(SHOTS, { recursive: true });
});
after(async () => {
  await env?.close();
});

/** Saves a PNG of `locator` (or the page) and checks its signature and size. */
async function shot(target, name, { width, height } = {}) {
  const file = path.join(SHOTS, `${name}.png`);
  const png = await target.screenshot({ path: file });
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `${name}: a PNG`);
  const w = png.readUInt32BE(16);
  const h = png.readUInt32BE(20);
  if (width) assert.equal(w, width, `${name}: width`);
  if (height) assert.equal(h, height, `${name}: height`);
  assert.ok(w > 200 && h > 100, `${name}: ${w}×${h}`);
  return file;
}

test('screenshots: the page after training, compared runs, the sharpness panel, the inspection panel, SAM in two dimensions, the embedded view', async () => {
  const hash = `${smallHash({ hidden: '64', epochs: '2' })}&vs=sam:none&evalEvery=31&track=62`;
  const { page, errors } = await openPage(env, { hash });
  try {
    await waitForState(page, ['ready'], 120_000);
    await page.waitForFunction(() => window.samlab.compare?.runs[1]?.state === 'ready', null, { timeout: 120_000 });
    await page.click('#start');
    await waitForState(page, ['done'], 300_000);
    await page.waitForFunction(() => window.samlab.compare.runs[1].test.length >= 5, null, { timeout: 120_000 });
    await shot(page, 'page', { width: 1280, height: 720 });
    await shot(page.locator('#compare'), 'compare');
    await page.click('#measure');
    await page.waitForFunction(() => window.samlab.sharpness?.lastMeasure, null, { timeout: 120_000 });
    await page.selectOption('#landscapeKind', 'plane');
    await page.fill('#landscapePoints', '11');
    await page.click('#landscape');
    await page.waitForFunction(() => window.samlab.sharpness?.plane, null, { timeout: 300_000 });
    await shot(page.locator('#probe'), 'sharpness');
    // Looking at the model: the panel opened on the trained weights.
    await page.focus('#inspect-title');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => window.samlab.inspection?.step === 124 && document.querySelectorAll('#inspect-gallery .sample').length > 0, null, { timeout: 120_000 });
    await shot(page.locator('#inspect'), 'inspect');
    // SAM in two dimensions: 12 steps of SGD, SAM and ASAM on the sharp and flat valleys.
    await page.locator('#toy2d').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => { const v = window.samlab.toy2d; return v && v.runs.sam && !v.busy && v.contours > 0; }, null, { timeout: 120_000 });
    for (let k = 1; k <= 12; k++) {
      await page.click('#toy2d-step');
      await page.waitForFunction((n) => { const v = window.samlab.toy2d; return !v.busy && Object.values(v.drawn).every((d) => d.path.length === n + 1); }, k, { timeout: 60_000 });
    }
    await shot(page.locator('#toy2d'), 'toy2d');
    assertNoErrors(errors);
  } finally {
    await page.close();
  }
  const embed = await openPage(env, { hash: `${smallHash({ hidden: '64' })}&embed=1&lr_hide=true`, viewport: { width: 800, height: 600 } });
  try {
    await waitForState(embed.page, ['ready'], 120_000);
    await embed.page.click('#start');
    await embed.page.waitForFunction(() => (window.samlab.history?.accuracy.step.length ?? 0) > 10, null, { timeout: 120_000 });
    await shot(embed.page, 'embed', { width: 800, height: 600 });
    assertNoErrors(embed.errors);
  } finally {
    await embed.page.close();
  }
});
