// The inspection panel ("Looking at the model") in headless Chromium (WebGPU on SwiftShader): opened
// with the keyboard, it follows a 248-step run (MLP 784-64-10 + SAM) evaluation by evaluation; the
// gallery's predictions and mistakes, the confusion matrix, the accuracy per class and the
// evaluation agree; "Mistakes only" and paging; the first layer's 64 tiles of 28×28. Needs
// `npm run build` (dist/).

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

const inspection = (page) => page.evaluate(() => window.samlab.inspection);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const diagonal = (m) => sum(m.map((row, c) => row[c]));
const RED = 'rgb(220, 38, 38)';

/** Waits for an inspection that passes `test` (a function of the snapshot, run in the page). */
async function waitForInspection(page, test, timeout = 60_000) {
  await page.waitForFunction(`(() => { const i = window.samlab.inspection; return i && !i.pending && (${test})(i); })()`, null, { timeout, polling: 100 });
  return inspection(page);
}

/** What the gallery shows, read from the DOM. */
function galleryDom(page) {
  return page.$$eval('#inspect-gallery .sample', (items) => items.map((item) => {
    const canvas = item.querySelector('canvas');
    return {
      index: Number(item.dataset.index),
      mistake: item.classList.contains('mistake'),
      border: getComputedStyle(item).borderTopColor,
      text: item.querySelector('figcaption').innerText,
      width: canvas.width,
      height: canvas.height,
    };
  }));
}

test('the panel follows training; predictions, mistakes, the confusion matrix, per-class accuracy and the evaluation agree; first-layer tiles', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '4' }) }); // 248 steps
  try {
    await waitForState(page, 'ready');
    assert.equal(await page.evaluate(() => document.getElementById('inspect').open), false, 'closed at first');
    // Keyboard: the summary opens the panel.
    await page.focus('#inspect-title');
    await page.keyboard.press('Enter');
    let i = await waitForInspection(page, '(i) => i.step === 0');
    assert.equal(i.open, true);
    assert.equal(i.following, true);

    await page.click('#start');
    // While training, every evaluation (every 31 steps) brings a new inspection.
    i = await waitForInspection(page, '(i) => i.step > 0 && i.step < 248', 120_000);
    assert.equal(i.step % 31, 0, `an inspection at an evaluation step (${i.step})`);
    await waitForState(page, 'done', 180_000);
    i = await waitForInspection(page, '(i) => i.step === 248');
    const lastEval = await page.evaluate(() => window.samlab.lastEval);
    assert.equal(lastEval.step, 248);

    // The matrix against the evaluation.
    const m = i.confusion;
    const total = sum(m.map(sum));
    assert.equal(m.length, 10);
    assert.equal(total, lastEval.samples, 'the matrix counts every test image');
    assert.equal(i.testCount, 2000);
    assert.ok(Math.abs(diagonal(m) / total - lastEval.accuracy) < 1e-12, `diagonal ${diagonal(m)}/${total} vs evaluation accuracy ${lastEval.accuracy}`);
    assert.ok(lastEval.accuracy > 0.8, `accuracy ${lastEval.accuracy}`);
    assert.deepEqual(i.names, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.match(await page.innerText('#inspect-status'), new RegExp(`Step 248: ${diagonal(m).toLocaleString('en-US')} of 2,000 test images right`));

    // Per-class accuracy is the diagonal over the row, in the snapshot and on the page.
    const classes = await page.$$eval('#inspect-classes li', (items) => items.map((li) => ({
      correct: Number(li.dataset.correct), total: Number(li.dataset.total), value: li.querySelector('.value').innerText,
    })));
    assert.equal(classes.length, 10);
    for (let c = 0; c < 10; c++) {
      assert.equal(classes[c].correct, m[c][c], `class ${c}: correct = the diagonal`);
      assert.equal(classes[c].total, sum(m[c]), `class ${c}: total = the row`);
      assert.equal(classes[c].value, `${(100 * m[c][c] / sum(m[c])).toFixed(1)}%`);
      assert.equal(i.classAccuracy[c].accuracy, m[c][c] / sum(m[c]));
    }
    // The table shows the matrix.
    const cells = await page.$$eval('#inspect-confusion td', (tds) => tds.map((td) => [Number(td.dataset.true), Number(td.dataset.predicted), Number(td.innerText.replace(/,/g, ''))]));
    assert.equal(cells.length, 100);
    for (const [t, p, count] of cells) assert.equal(count, m[t][p], `cell (${t}, ${p})`);

    // The gallery: the first 48 test images, each with its prediction; mistakes framed in red with
    // the true class; as many mistakes as the matrix has off its diagonal among them cannot be
    // checked per image, but each mistake's (true, predicted) pair must be a non-zero cell.
    assert.equal(i.from, 0);
    assert.equal(i.matching, 2000);
    assert.deepEqual(i.shown.map((s) => s.index), Array.from({ length: 48 }, (_, k) => k));
    let dom = await galleryDom(page);
    assert.equal(dom.length, 48);
    for (const [k, s] of i.shown.entries()) {
      const d = dom[k];
      assert.equal(d.index, s.index);
      assert.equal(s.mistake, s.predicted !== s.label);
      assert.equal(d.mistake, s.mistake, `image ${s.index}: marked as a mistake iff wrong`);
      assert.equal(d.border === RED, s.mistake, `image ${s.index}: red frame iff wrong (${d.border})`);
      const lines = d.text.split('\n');
      assert.equal(lines[0], String(s.predicted), `image ${s.index}: caption "${d.text}" names the prediction`);
      assert.equal(lines[1], `${(100 * s.confidence).toFixed(0)}%`, `image ${s.index}: and its probability`);
      assert.equal(d.text.includes(`true: ${s.label}`), s.mistake, `image ${s.index}: the true class only under a mistake`);
      assert.ok(s.confidence >= 0.1 && s.confidence <= 1, `confidence ${s.confidence}`);
      assert.deepEqual([d.width, d.height], [28, 28]);
      if (s.mistake) assert.ok(m[s.label][s.predicted] > 0);
    }
    assert.equal(await page.innerText('#inspect-range'), 'Images 1–48 of 2,000');

    // Mistakes only (keyboard: Space on the checkbox): as many as off the diagonal, all framed.
    await page.focus('#inspect-mistakes');
    await page.keyboard.press('Space');
    i = await waitForInspection(page, '(i) => i.mistakesOnly === true');
    const mistakes = total - diagonal(m);
    assert.equal(i.matching, mistakes, 'the mistakes are the matrix off its diagonal');
    assert.equal(i.shown.length, Math.min(48, mistakes));
    dom = await galleryDom(page);
    assert.ok(dom.every((d) => d.mistake && d.border === RED), 'every image shown is a framed mistake');
    const pairs = new Map();
    for (const s of i.shown) pairs.set(`${s.label},${s.predicted}`, (pairs.get(`${s.label},${s.predicted}`) ?? 0) + 1);
    for (const [key, n] of pairs) {
      const [t, p] = key.split(',').map(Number);
      assert.ok(t !== p && n <= m[t][p], `${n} shown mistakes ${t} → ${p}, the matrix has ${m[t][p]}`);
    }
    // Paging: the next page has later mistakes.
    const firstPage = i.shown.map((s) => s.index);
    assert.equal(await page.isDisabled('#inspect-previous'), true);
    await page.click('#inspect-next');
    i = await waitForInspection(page, '(i) => i.from === 48');
    assert.ok(i.shown.length > 0 && i.shown.every((s) => s.mistake && s.index > firstPage.at(-1)), 'the next page of mistakes');
    await page.click('#inspect-previous');
    i = await waitForInspection(page, '(i) => i.from === 0');
    assert.deepEqual(i.shown.map((s) => s.index), firstPage);

    // The first layer: 64 hidden units, each a 28×28 tile, drawn in more than one colour.
    assert.deepEqual(i.firstLayer.shape, [64, 784]);
    assert.equal(i.firstLayer.units, 64);
    assert.deepEqual(i.firstLayer.tile, { channels: 1, height: 28, width: 28, kind: 'unit' });
    assert.ok(i.firstLayer.scale > 0);
    const tiles = await page.$$eval('#inspect-weights .tiles canvas', (canvases) => canvases.map((c) => {
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const colours = new Set();
      for (let p = 0; p < data.length; p += 4) colours.add(`${data[p]},${data[p + 1]},${data[p + 2]}`);
      return { width: c.width, height: c.height, colours: colours.size };
    }));
    assert.equal(tiles.length, 64);
    assert.ok(tiles.every((t) => t.width === 28 && t.height === 28), 'every tile 28×28');
    assert.ok(tiles.every((t) => t.colours > 10), 'every tile shows its weights');
    assert.match(await page.innerText('#inspect-weights figcaption'), /First layer \(0\.weight, 64×784\)/);

    // Inspect again on demand: the same answer at the same step.
    await page.click('#inspect-refresh');
    i = await waitForInspection(page, '(i) => i.step === 248');
    assert.equal(i.error, '');
    assert.deepEqual(i.confusion, m);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('inspect_hide=true hides the panel', async () => {
  const { page, context, errors } = await openPage(env, { hash: `${smallHash()}&inspect_hide=true` });
  try {
    await waitForState(page, 'ready');
    assert.equal(await page.isVisible('#inspect'), false);
    assert.ok((await page.evaluate(() => window.samlab.view.hidden)).includes('inspect'));
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});
