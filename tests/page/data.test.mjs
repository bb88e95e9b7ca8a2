// The page in headless Chromium: the data. Your own IDX files (file input and drop, raw and .gz,
// roles from names or headers, bad sets), the progress bar and the SHA-256 of every file (checked
// against the build's manifest for MNIST), the offline copy (service worker + Cache Storage: a
// reload with the server stopped still trains), and damaged files refused. The IDX files are
// written here. Needs `npm run build` (dist/).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import {
  DIST, ROOT, assertNoErrors, dropFiles, filePayload, openPage, smallHash, startBrowser, waitForState, waitForStep,
} from './helpers.mjs';

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** IDX images (magic 2051) of `labels.length` images of rows×cols: label k is a bright
 *  horizontal band at a height of its own, over seeded noise, so a small MLP learns it at once. */
function idxImages(labels, rows = 28, cols = 28, seed = 1) {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x0803, 0);
  header.writeUInt32BE(labels.length, 4);
  header.writeUInt32BE(rows, 8);
  header.writeUInt32BE(cols, 12);
  const pixels = Buffer.alloc(labels.length * rows * cols);
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state >>> 26; // 0..63
  };
  const band = Math.max(1, Math.floor(rows / 10));
  labels.forEach((label, i) => {
    for (let r = 0; r < rows; r++) {
      const on = r >= label * band && r < (label + 1) * band;
      for (let c = 0; c < cols; c++) pixels[(i * rows + r) * cols + c] = on ? 255 - random() : random();
    }
  });
  return Buffer.concat([header, pixels]);
}

function idxLabels(labels) {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(0x0801, 0);
  header.writeUInt32BE(labels.length, 4);
  return Buffer.concat([header, Buffer.from(labels)]);
}

const classes = (n) => Array.from({ length: n }, (_, i) => i % 10);

/** The four files of a small data set: 200 training and 50 test images. */
function idxSet({ rows = 28, cols = 28, train = 200, test = 50, trainLabels = train } = {}) {
  return {
    trainImages: idxImages(classes(train), rows, cols, 1),
    trainLabels: idxLabels(classes(trainLabels)),
    testImages: idxImages(classes(test), rows, cols, 2),
    testLabels: idxLabels(classes(test)),
  };
}

const IDX_HASH = (overrides = {}) => smallHash({ dataset: 'idx', batchSize: '50', epochs: '10', ...overrides });

let env;
before(async () => {
  env = await startBrowser();
});
after(async () => {
  await env?.close();
});

test('your own IDX files from the file input (.gz and raw, named like MNIST): they train, and the SHA-256 shown is the files\'', async () => {
  const set = idxSet();
  const files = [
    ['t10k-labels-idx1-ubyte.gz', gzipSync(set.testLabels)],
    ['train-images-idx3-ubyte.gz', gzipSync(set.trainImages)],
    ['test-images-idx3-ubyte', set.testImages],
    ['train-labels-idx1-ubyte', set.trainLabels],
  ];
  const { page, context, errors } = await openPage(env, { hash: IDX_HASH() });
  try {
    await waitForState(page, 'idle');
    assert.ok(await page.locator('#idx-howto').isVisible(), 'how to choose the files');
    assert.ok(await page.locator('#idx-link-note').isVisible(), 'the link chose own files, which it cannot carry');
    assert.match(await page.locator('#status-state').innerText(), /Choose your IDX files/);
    assert.ok(await page.locator('#start').isDisabled());

    await page.setInputFiles('#idx-file-input', filePayload(files));
    await waitForState(page, 'ready');
    const info = await page.evaluate(() => window.samlab.info);
    assert.deepEqual([info.dataset, info.trainCount, info.testCount, info.totalSteps], ['idx', 200, 50, 40]);
    assert.deepEqual(await page.evaluate(() => window.samlab.idxFiles), files.map(([name]) => name));

    // Size and SHA-256 under the data set field, in the roles' order, equal to Node's.
    const data = await page.evaluate(() => window.samlab.data);
    const byName = Object.fromEntries(files);
    assert.deepEqual(data.files.map((f) => f.name), ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte', 'test-images-idx3-ubyte', 't10k-labels-idx1-ubyte.gz']);
    for (const f of data.files) {
      assert.equal(f.sha256, sha256(byName[f.name]), `${f.name}: SHA-256`);
      assert.equal(f.bytes, byName[f.name].length, `${f.name}: size`);
    }
    const total = files.reduce((sum, [, bytes]) => sum + bytes.length, 0);
    const summary = await page.locator('#data-summary').innerText();
    assert.match(summary, /^Your IDX files: 200 train \+ 50 test images \(28×28\) · \d+\.\d kB in 4 files · SHA-256 below · from your disk$/);
    await page.click('#data-files summary');
    const shown = await page.locator('#data-file-list code.sha256').allInnerTexts();
    assert.deepEqual(shown, data.files.map((f) => sha256(byName[f.name])), 'the hashes are on the page');
    // The progress bar went through reading the files to their total size.
    const progress = await page.evaluate(() => window.samlab.dataProgress);
    assert.deepEqual(progress.read, { value: total, max: total });
    assert.ok(await page.locator('#data-load').isHidden(), 'no progress bar once loaded');

    // The run trains, and learns the bands.
    await page.click('#start');
    await waitForState(page, 'done', 120_000);
    const lastEval = await page.evaluate(() => window.samlab.lastEval);
    assert.equal(lastEval.step, 40);
    assert.ok(lastEval.accuracy > 0.8, `test accuracy ${lastEval.accuracy} after 40 steps`);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('own IDX files dropped on the page, with names that say nothing: sorted by their headers; bad sets get a message beside the control and the page stays usable', async () => {
  const set = idxSet();
  const { page, context, errors } = await openPage(env, { hash: smallHash({ batchSize: '50' }) });
  try {
    await waitForState(page, 'ready');
    assert.ok(await page.locator('#idx').isHidden(), 'no own-file control for MNIST');
    // Images and labels from the magic number; training and test from the counts.
    const unnamed = [['b.idx', set.testLabels], ['c.idx', gzipSync(set.trainImages)], ['a.idx', set.trainLabels], ['d.idx.gz', gzipSync(set.testImages)]];
    await dropFiles(page, unnamed);
    await waitForState(page, 'ready');
    assert.equal(await page.inputValue('#dataset'), 'idx');
    assert.deepEqual(await page.evaluate(() => window.samlab.data.files.map((f) => f.name)), ['c.idx', 'a.idx', 'd.idx.gz', 'b.idx']);
    assert.equal(await page.evaluate(() => window.samlab.info.trainCount), 200);
    await page.click('#step');
    await waitForStep(page, 1);

    const good = [['train-images-idx3-ubyte', set.trainImages], ['train-labels-idx1-ubyte', set.trainLabels], ['t10k-images-idx3-ubyte', set.testImages], ['t10k-labels-idx1-ubyte', set.testLabels]];
    const bad = [
      { name: 'labels count ≠ images count', files: [good[0], ['train-labels-idx1-ubyte', idxLabels(classes(199))], good[2], good[3]], message: /^Your IDX files: training: 200 images but 199 labels; the files do not belong together/ },
      { name: 'a missing file', files: good.slice(0, 3), message: /^Need the four IDX files, got 3 \(.*\): missing test labels\./ },
      { name: 'a file that is not IDX', files: [...good.slice(0, 3), ['notes.txt', Buffer.from('my notes, not labels')]], message: /^notes\.txt is not an IDX file/ },
      { name: 'two test image files', files: [good[0], good[1], good[2], ['test-images-idx3-ubyte', set.testImages]], message: /^Need the four IDX files, got 4 .*3 images files .*one too many.*missing (training|test) labels/ },
      { name: 'images that cannot be told apart', files: [['x-images', set.testImages], ['y-images', idxImages(classes(50), 28, 28, 3)], good[1], good[3]], message: /x-images and y-images are both images files of 50 items, and their names do not say which is for training/ },
      { name: 'a label of 10', files: [good[0], good[1], good[2], ['t10k-labels-idx1-ubyte', idxLabels([...classes(49), 10])]], message: /^Your IDX files: test labels: label 10 at index 49 is out of range/ },
    ];
    await page.click('#reset');
    await waitForState(page, 'ready');
    const failures = [];
    for (const c of bad) {
      await page.setInputFiles('#idx-file-input', filePayload(c.files));
      try {
        await waitForState(page, 'failed');
        const text = await page.locator('#idxFile-error').innerText();
        if (!c.message.test(text)) failures.push(`${c.name}: ${JSON.stringify(text)}`);
        if (await page.locator('#start').isEnabled()) failures.push(`${c.name}: Start is enabled`);
      } catch (err) {
        failures.push(`${c.name}: ${err.message.split('\n')[0]}`);
      }
    }
    assert.deepEqual(failures, []);
    assert.ok(await page.locator('#banner').isHidden(), 'the messages sit beside the control');

    // Images too small for a model: the message sits beside the model.
    const tiny = idxSet({ rows: 8, cols: 8 });
    await page.selectOption('#model', 'lenet');
    await page.setInputFiles('#idx-file-input', filePayload([['train-images-idx3-ubyte', tiny.trainImages], ['train-labels-idx1-ubyte', tiny.trainLabels], ['t10k-images-idx3-ubyte', tiny.testImages], ['t10k-labels-idx1-ubyte', tiny.testLabels]]));
    await waitForState(page, 'failed');
    assert.match(await page.locator('#model-error').innerText(), /^The model "lenet" cannot take 8×8 images: images of \d+×\d+ are too small for .*; pick a model made for this data set\. The MLP takes images of any size\.$/);
    assert.equal(await page.locator('#idxFile-error').innerText(), '');
    // The MLP takes 8×8 images.
    await page.selectOption('#model', 'mlp');
    await page.waitForFunction(() => window.samlab.state === 'ready', null, { timeout: 60_000 }); // (after the debounce)
    assert.match(await page.locator('#data-summary').innerText(), /200 train \+ 50 test images \(8×8\)/);

    // The page stays usable: good files again, and a few steps.
    await page.setInputFiles('#idx-file-input', filePayload(good));
    await waitForState(page, 'ready');
    assert.equal(await page.locator('#idxFile-error').innerText(), '');
    await page.click('#start');
    await waitForStep(page, 3);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('MNIST: the progress bar reaches the download\'s total, the SHA-256 shown are the manifest\'s, and a new engine reads the data from the cache', async () => {
  const manifest = JSON.parse(await readFile(path.join(DIST, 'data/mnist/manifest.json'), 'utf8'));
  const { page, context, errors } = await openPage(env, { hash: smallHash() });
  try {
    await waitForState(page, 'ready');
    const total = Object.values(manifest.files).reduce((sum, f) => sum + f.bytes, 0);
    const progress = await page.evaluate(() => window.samlab.dataProgress);
    assert.deepEqual(progress.download, { value: total, max: total }, 'the bar ends at the bytes downloaded');
    assert.equal(progress.parse?.value, null, 'parsing is indeterminate');
    const data = await page.evaluate(() => window.samlab.data);
    assert.equal(data.source, 'network');
    for (const f of data.files) {
      assert.equal(f.sha256, manifest.files[f.name].sha256, `${f.name}: the manifest's SHA-256`);
      assert.equal(f.sha256, sha256(await readFile(path.join(DIST, 'data/mnist', f.name))), `${f.name}: the file's SHA-256`);
      assert.equal(f.verified, true);
    }
    assert.match(await page.locator('#data-summary').innerText(), /^MNIST: 8,000 train \+ 2,000 test images \(28×28\) · 1\.6 MB in 4 files · SHA-256 verified · downloaded$/);
    await page.click('#data-files summary');
    assert.deepEqual(await page.locator('#data-file-list code.sha256').allInnerTexts(), data.files.map((f) => manifest.files[f.name].sha256));

    // Reset: a new engine, whose data comes from Cache Storage (checked against the manifest again).
    await page.click('#reset');
    await waitForState(page, 'ready');
    assert.match(await page.locator('#data-summary').innerText(), /SHA-256 verified · from the cache$/);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

/** Serves `dir` with scripts/serve.mjs on `port` (0: any). */
async function serve(dir, port = 0) {
  const { startServer } = await import(pathToFileURL(path.join(ROOT, 'scripts/serve.mjs')).href);
  return startServer(dir, { port, host: '127.0.0.1' });
}

const OFFLINE_ERRORS = [/ERR_CONNECTION_REFUSED/, /Failed to fetch/, /Failed to load resource/];

test('offline: with the server stopped, a reload comes from the service worker, MNIST from the cache, and it trains; a damaged cached file is refused', async () => {
  let server = await serve(DIST);
  const port = new URL(server.url).port;
  const context = await env.browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  const errors = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`page console.error: ${msg.text()}`); });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('worker', (worker) => worker.on('console', (msg) => { if (msg.type() === 'error') errors.push(`worker console.error: ${msg.text()}`); }));
  try {
    await page.goto(`${server.url}index.html#${smallHash()}`);
    await waitForState(page, 'ready');
    assert.match(await page.locator('#data-summary').innerText(), /· downloaded$/);
    // The service worker has kept the page's files once it is active.
    await page.evaluate(() => navigator.serviceWorker.ready);

    await server.close();
    server = null;
    await page.reload();
    await waitForState(page, 'ready');
    assert.equal(await page.evaluate(() => window.samlab.offlineReady), true, 'the page came through the service worker');
    assert.match(await page.locator('#data-summary').innerText(), /^MNIST: 8,000 train \+ 2,000 test images .*SHA-256 verified · from the cache$/);
    await page.click('#start');
    await waitForStep(page, 3);
    await page.click('#pause');
    await waitForState(page, 'paused');

    // A damaged copy in the cache, still offline: refused with a message, nothing trains.
    await page.evaluate(async () => {
      const cache = await caches.open('samlab-data-v1');
      const url = new URL('data/mnist/t10k-labels-idx1-ubyte.gz', location.href).href;
      const bytes = new Uint8Array(await (await cache.match(url)).arrayBuffer());
      bytes[bytes.length - 5] ^= 0xff;
      await cache.put(url, new Response(bytes));
    });
    await page.click('#reset');
    await waitForState(page, 'failed');
    assert.match(await page.locator('#dataset-error').innerText(), /^MNIST: the copy of t10k-labels-idx1-ubyte\.gz in this browser's cache is damaged \(its SHA-256 does not match the manifest\), and the server cannot be reached/);
    assert.ok(await page.locator('#start').isDisabled());

    // Back online (the same address): Reset downloads the damaged file again.
    server = await serve(DIST, Number(port));
    await page.click('#reset');
    await waitForState(page, 'ready');
    assert.match(await page.locator('#data-summary').innerText(), /SHA-256 verified · downloaded and from the cache$/);
    assertNoErrors(errors, OFFLINE_ERRORS);
  } finally {
    await context.close();
    await server?.close();
  }
});

test('a served file that does not match the manifest is refused, with a message beside the data set', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'samlab-damaged-'));
  await cp(DIST, dir, { recursive: true, filter: (src) => !src.includes(`${path.sep}fashion-mnist`) });
  // Other labels, still a valid gzip IDX file: only the checksum can tell.
  const labels = idxLabels(Array.from({ length: 2000 }, (_, i) => (i * 7) % 10));
  await writeFile(path.join(dir, 'data/mnist/t10k-labels-idx1-ubyte.gz'), gzipSync(labels));
  const server = await serve(dir);
  const local = { ...env, url: server.url };
  const { page, context, errors } = await openPage(local, { hash: smallHash() });
  try {
    await waitForState(page, 'failed');
    assert.match(await page.locator('#dataset-error').innerText(), /^MNIST: data\/mnist\/t10k-labels-idx1-ubyte\.gz does not match its manifest \(.*\); it was not used\./);
    assert.ok(await page.locator('#start').isDisabled());
    assert.equal(await page.evaluate(() => window.samlab.data), null, 'no data set');
    const stored = await page.evaluate(async () => ((await caches.has('samlab-data-v1')) ? (await (await caches.open('samlab-data-v1')).keys()).length : 0));
    assert.equal(stored, 0, 'nothing was stored');
    assertNoErrors(errors);
  } finally {
    await context.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
