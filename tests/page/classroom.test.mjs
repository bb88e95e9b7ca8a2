// The page in a classroom: a link that sets everything and hides some controls, Share and Copy
// embed code, embed=1 in an 800×600 iframe, and the exports (metrics as CSV and JSON, the charts
// as PNG). Needs `npm run build` (dist/).

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  DIST, assertNoErrors, openPage, smallHash, startBrowser, waitForState, waitForStep,
} from './helpers.mjs';

/** The export columns as docs/web.md lists them. */
const COLUMNS = [
  'kind', 'step', 'epoch', 'loss', 'accuracy', 'test_loss', 'test_accuracy', 'swa_test_loss', 'swa_test_accuracy',
  'sharpness', 'grad_norm', 'cos_g0_g1', 'lambda_max', 'trace_h', 'trace_h_std_error', 'worst_case_sharpness',
  'lr', 'rho', 'samples_per_second', 'ms_per_step',
];

let env;
before(async () => {
  env = await startBrowser();
});
after(async () => {
  await env?.close();
});

/** Grant the page's origin the clipboard, and read it. */
async function allowClipboard(context) {
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(env.url).origin });
}
const readClipboard = (page) => page.evaluate(() => navigator.clipboard.readText());

test('a link restores every setting and hides the controls it names; Share gives the same link, Copy embed code an iframe of it', async () => {
  const dataset = existsSync(path.join(DIST, 'data/fashion-mnist/train-images-idx3-ubyte.gz')) ? 'fashion-mnist' : 'mnist';
  // Every setting in use, none at its default, in the order the page writes them.
  const settings = {
    dataset, model: 'mlp', hidden: '32,16', dropout: '0.1', augment: 'on', optimizer: 'sgd', sam: 'asam', rho: '0.3',
    eta: '0.02', rhoSchedule: 'warmup', rhoWarmup: '40', samStart: '0.25', lr: '0.07', batchSize: '64', epochs: '3',
    seed: '7', labelNoise: '0.1', swaStart: '0.5',
  };
  const settingsHash = Object.entries(settings).map(([k, v]) => `${k}=${v}`).join('&');
  const hash = `${settingsHash}&track=50&lr_hide=true&sam_hide=true`;
  const { page, context, errors } = await openPage(env, { hash });
  try {
    await allowClipboard(context);
    await page.waitForFunction(() => window.samlab?.settings);
    const s = await page.evaluate(() => window.samlab.settings);
    for (const [key, value] of Object.entries(settings)) assert.equal(s[key], value, `${key} restored`);
    assert.equal(await page.isChecked('#track'), true, 'track=50 turns tracking on');
    assert.equal(await page.inputValue('#trackEvery'), '50');
    assert.ok(await page.locator('#banner').isHidden(), 'the view parameters are no problem for the link');
    // Hidden, with their values kept; the controls around them stay.
    for (const id of ['#lr', '#sam']) assert.ok(await page.locator(id).isHidden(), `${id} hidden`);
    assert.equal(await page.inputValue('#lr'), '0.07');
    assert.equal(await page.inputValue('#sam'), 'asam');
    for (const id of ['#rho', '#eta', '#seed', '#dataset', '#optimizer', '#start']) assert.ok(await page.locator(id).isVisible(), `${id} visible`);
    assert.deepEqual(await page.evaluate(() => window.samlab.view), { embed: false, hidden: ['sam', 'lr'] });
    assert.equal(await page.evaluate(() => location.hash), `#${hash}`, 'the page keeps the link as it came');

    // The hidden settings still apply: the trainer steps at lr 0.07.
    await waitForState(page, 'ready', 120_000);
    await page.click('#step');
    await page.waitForFunction(() => window.samlab.latest?.step === 1 && window.samlab.pending.length === 0, null, { timeout: 60_000 });
    assert.equal(await page.evaluate(() => window.samlab.latest.lr), 0.07);

    // Share copies the page's own link: the same hash.
    await page.click('#share');
    await page.waitForFunction(() => document.getElementById('share-status').textContent === 'Link copied');
    const link = await readClipboard(page);
    assert.equal(link, await page.evaluate(() => location.href));
    assert.equal(new URL(link).hash, `#${hash}`);

    // Copy embed code, reached with Tab from Share and pressed with Enter: an 800×600 iframe of
    // the same link with embed=1.
    await page.focus('#share');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'copy-embed');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('share-status').textContent === 'Embed code copied');
    const snippet = await readClipboard(page);
    assert.match(snippet, /^<iframe src="[^"]+" width="800" height="600" [^>]*><\/iframe>$/);
    const iframe = await page.evaluate((html) => {
      const f = new DOMParser().parseFromString(html, 'text/html').querySelector('iframe');
      return f && { src: f.getAttribute('src'), width: f.getAttribute('width'), height: f.getAttribute('height') };
    }, snippet);
    assert.equal(iframe.src, `${link.replace(/#.*$/, '')}#${settingsHash}&track=50&embed=1&lr_hide=true&sam_hide=true`);
    assert.equal(await page.evaluate(() => window.samlab.lastCopied.how), 'clipboard');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('embed=1 in an 800×600 iframe: no header or explanations, charts and controls on the first screen, and it trains', async () => {
  const framed = await openPage(env, {
    path: '__frame.html',
    beforeGoto: (page) => page.route('**/__frame.html', (route) => route.fulfill({
      contentType: 'text/html',
      body: `<!doctype html><body style="margin:0"><iframe src="index.html#${smallHash()}&embed=1" width="800" height="600" style="border:0" allow="clipboard-write"></iframe>`,
    })),
  });
  try {
    const frame = framed.page.frames().find((f) => f.url().includes('index.html'));
    assert.ok(frame, 'the iframe loaded');
    await waitForState(frame, 'ready');
    assert.equal(await frame.evaluate(() => window.samlab.view.embed), true);
    for (const selector of ['header.top', '.tagline', '#sam-about', '#sam-reference', '.probe-about', '#weights-buttons']) {
      assert.ok(await frame.locator(selector).isHidden(), `${selector} hidden in embed mode`);
    }
    for (const id of ['#start', '#pause', '#step', '#reset', '#lr', '#sam', '#rho', '#export-csv', '#share', '#copy-embed', '#open-full', '#status-state']) {
      assert.ok(await frame.locator(id).isVisible(), `${id} visible in embed mode`);
    }
    const full = await frame.getAttribute('#open-full', 'href');
    assert.doesNotMatch(full, /embed=1/, '"Full page" opens the page without embed=1');
    assert.match(full, /#dataset=mnist&.*&sam=sam&rho=0\.05&/);
    const m = await frame.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
      charts: [...document.querySelectorAll('.chart canvas')].map((c) => c.getBoundingClientRect().toJSON()),
      start: document.getElementById('start').getBoundingClientRect().toJSON(),
    }));
    assert.equal(m.clientWidth, 800);
    assert.ok(m.scrollWidth <= m.clientWidth, `no horizontal scrollbar (${m.scrollWidth})`);
    assert.equal(m.charts.length, 3);
    for (const c of m.charts) assert.ok(c.width >= 200 && c.height >= 100 && c.right <= 800, `chart ${c.width}×${c.height} fits`);
    for (const c of m.charts.slice(0, 2)) assert.ok(c.bottom <= 600, `accuracy and loss wholly on the first screen (bottom ${c.bottom})`);
    assert.ok(m.start.bottom <= 600, 'Start on the first screen');

    await frame.click('#start');
    await waitForStep(frame, 3);
    await frame.click('#pause');
    await waitForState(frame, 'paused');
    assertNoErrors(framed.errors);
  } finally {
    await framed.context.close();
  }
});

/** RFC 4180 lines without quoted fields (the export has none): header + rows of strings. */
function parseCsv(text) {
  assert.ok(text.endsWith('\r\n'), 'CRLF line ends');
  const [header, ...lines] = text.slice(0, -2).split('\r\n');
  return { header: header.split(','), rows: lines.map((line) => line.split(',')) };
}

async function downloadOf(page, button) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  return { name: download.suggestedFilename(), bytes: await readFile(await download.path()) };
}

test('exports: every recorded point as CSV and JSON (with the settings), the charts as a PNG', async () => {
  // 62 steps of MLP 784-64-10 + SAM; evaluations at 0, 31 and 62; λ_max and tr(H) every 30 steps.
  const { page, context, errors } = await openPage(env, { hash: `${smallHash()}&track=30` });
  try {
    await waitForState(page, 'ready');
    assert.ok(await page.locator('#export-csv').isEnabled(), 'the step-0 evaluation is already a point');
    await page.click('#start');
    await waitForState(page, 'done', 120_000);
    await page.waitForFunction(() => window.samlab.pending.length === 0 && window.samlab.sharpness.busy === null);
    const seen = await page.evaluate(() => ({
      train: window.samlab.history.sam.step, evals: window.samlab.evals.map((e) => e.step),
      tracked: window.samlab.sharpness.series.step, latest: window.samlab.latest,
    }));
    assert.ok(seen.train.at(-1) === 62 && seen.evals.length >= 2, `trained to 62 with evaluations at ${seen.evals}`);
    assert.ok(seen.tracked.length >= 2, `tracked at ${seen.tracked}`);

    // CSV: the documented columns, one row per train point, evaluation and measurement, in order.
    const csv = await downloadOf(page, '#export-csv');
    assert.equal(csv.name, 'samlab-mnist-mlp-sam-rho0.05-step62.csv');
    const { header, rows } = parseCsv(csv.bytes.toString('utf8'));
    assert.deepEqual(header, COLUMNS);
    assert.equal(rows.length, seen.train.length + seen.evals.length + seen.tracked.length, 'one row per recorded point');
    const column = (name) => header.indexOf(name);
    for (const r of rows) {
      assert.equal(r.length, COLUMNS.length);
      assert.ok(['train', 'test', 'curvature'].includes(r[0]), r[0]);
      for (const cell of r.slice(1)) if (cell !== '') assert.ok(Number.isFinite(Number(cell)), `"${cell}" is a finite number`);
    }
    const kind = (k) => rows.filter((r) => r[0] === k);
    assert.deepEqual(kind('train').map((r) => Number(r[column('step')])), seen.train);
    assert.deepEqual(kind('test').map((r) => Number(r[column('step')])), seen.evals);
    assert.deepEqual(kind('curvature').map((r) => Number(r[column('step')])), seen.tracked);
    for (const r of kind('train')) {
      for (const name of ['epoch', 'loss', 'accuracy', 'sharpness', 'grad_norm', 'cos_g0_g1', 'lr', 'rho', 'ms_per_step']) {
        assert.notEqual(r[column(name)], '', `train ${name}`);
      }
      assert.equal(r[column('test_loss')], '');
    }
    for (const r of kind('test')) for (const name of ['test_loss', 'test_accuracy', 'lr', 'rho']) assert.notEqual(r[column(name)], '', `test ${name}`);
    for (const r of kind('curvature')) for (const name of ['lambda_max', 'trace_h']) assert.notEqual(r[column(name)], '', `curvature ${name}`);
    const last = kind('train').at(-1);
    assert.equal(Number(last[column('loss')]), seen.latest.loss);
    assert.equal(Number(last[column('lr')]), 0.05);
    assert.equal(Number(last[column('rho')]), 0.05);

    // JSON: the settings, the trainer config, the link, and the same rows.
    const json = await downloadOf(page, '#export-json');
    assert.equal(json.name, 'samlab-mnist-mlp-sam-rho0.05-step62.json');
    const data = JSON.parse(json.bytes.toString('utf8'));
    assert.equal(data.samlab, 'metrics');
    assert.deepEqual(data.columns, COLUMNS);
    assert.equal(data.settings.dataset, 'mnist');
    assert.equal(data.settings.sam, 'sam');
    assert.equal(data.settings.rho, '0.05');
    assert.equal(data.settings.hidden, '64');
    assert.equal(data.settings.seed, '0');
    assert.equal(data.config.lr, 0.05);
    assert.deepEqual(data.config.hidden, [64]);
    assert.equal(data.run.step, 62);
    assert.match(data.link, /#dataset=mnist&.*&track=30$/);
    const fromCsv = rows.map((r) => Object.fromEntries(COLUMNS.map((name, i) => [name, i === 0 ? r[i] : r[i] === '' ? null : Number(r[i])])));
    assert.deepEqual(data.rows, fromCsv, 'the JSON rows are the CSV rows');

    // PNG: the charts drawn into one image.
    const png = await downloadOf(page, '#export-png');
    assert.equal(png.name, 'samlab-mnist-mlp-sam-rho0.05-step62.png');
    assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.ok(png.bytes.length > 20_000, `a real picture (${png.bytes.length} bytes)`);
    const width = png.bytes.readUInt32BE(16);
    const height = png.bytes.readUInt32BE(20);
    assert.ok(width >= 800 && height >= 500, `the charts side by side (${width}×${height})`);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});
