// The page in headless Chromium (WebGPU on SwiftShader): the convolutional models, and CIFAR-10
// from the user's disk. The CIFAR-10 files are written here, in the official record layout (a
// label byte, then 3072 pixel bytes, R, G and B planes of 32×32), with few images, so each test
// takes seconds. Needs `npm run build` (dist/).

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import {
  assertNoErrors, openPage, smallHash, startBrowser, waitForState, waitForStep,
} from './helpers.mjs';

const RECORD = 1 + 3 * 32 * 32;

/**
 * A CIFAR-10 batch file of `perClass` records per class, classes interleaved. Each class has its
 * own colour plus noise (seeded), so a network can tell them apart.
 */
function cifarBatch(perClass, seed) {
  const bytes = Buffer.alloc(perClass * 10 * RECORD);
  let state = seed >>> 0;
  const random = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state >>> 24;
  };
  for (let i = 0; i < perClass * 10; i++) {
    const label = i % 10;
    const record = bytes.subarray(i * RECORD, (i + 1) * RECORD);
    record[0] = label;
    for (let c = 0; c < 3; c++) {
      const base = ((label * (c + 3) * 37) % 200) + 28;
      for (let p = 0; p < 1024; p++) record[1 + c * 1024 + p] = Math.min(255, base + (random() >> 2));
    }
  }
  return bytes;
}

/** A ustar archive of `entries` ([name, bytes]), as tar writes it. */
function tar(entries) {
  const blocks = [];
  for (const [name, bytes] of entries) {
    const header = Buffer.alloc(512);
    const field = (offset, length, text) => header.write(text, offset, length, 'ascii');
    field(0, 100, name);
    field(100, 8, '0000644\0');
    field(108, 8, '0000000\0');
    field(116, 8, '0000000\0');
    field(124, 12, `${bytes.length.toString(8).padStart(11, '0')}\0`);
    field(136, 12, '00000000000\0');
    field(148, 8, '        ');
    field(156, 1, '0');
    field(257, 8, 'ustar\u000000');
    const sum = header.reduce((a, b) => a + b, 0);
    field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(header, bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

let env;
let dir;
let good; // [data_batch_1.bin, test_batch.bin]: 50 and 10 images per class
let truncated; // [data_batch_1.bin cut short, test_batch.bin]
let archive; // cifar-10-binary.tar.gz holding the good batches, as the official one does
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'samlab-cifar-'));
  const write = async (sub, name, bytes) => {
    await mkdir(path.join(dir, sub), { recursive: true });
    const file = path.join(dir, sub, name);
    await writeFile(file, bytes);
    return file;
  };
  const train = cifarBatch(50, 1);
  const testBatch = cifarBatch(10, 2);
  good = [await write('good', 'data_batch_1.bin', train), await write('good', 'test_batch.bin', testBatch)];
  truncated = [await write('bad', 'data_batch_1.bin', train.subarray(0, train.length - 100)), await write('bad', 'test_batch.bin', testBatch)];
  archive = await write('archive', 'cifar-10-binary.tar.gz', gzipSync(tar([
    ['cifar-10-batches-bin/data_batch_1.bin', train],
    ['cifar-10-batches-bin/test_batch.bin', testBatch],
  ])));
  env = await startBrowser();
});
after(async () => {
  await env?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The number of points each chart holds. */
function drawn(page) {
  return page.evaluate(() => window.samlab.history.drawn);
}

test('LeNet-5 chosen on MNIST trains: the charts update and the hidden widths are off', async () => {
  const { page, context, errors } = await openPage(env, { hash: `${smallHash({ batchSize: '32' })}&evalEvery=1000` });
  try {
    await waitForState(page, 'ready');
    assert.ok(await page.locator('#hidden').isEnabled(), 'the MLP has hidden widths');
    assert.equal(await page.locator('#model-note').isVisible(), false, 'no hint for the MLP');

    await page.selectOption('#model', 'lenet');
    assert.ok(await page.locator('#hidden').isDisabled(), 'hidden widths are for the MLP only');
    assert.match(await page.locator('#model-note').innerText(), /conv 5×5×6 .* 120 → 84 → 10/);
    assert.match(await page.evaluate(() => location.hash), /^#dataset=mnist&model=lenet&dropout=0&augment=off&optimizer=/, 'no hidden widths in the link');
    // The new model replaces the MLP: a fresh step-0 evaluation.
    await page.waitForFunction(() => window.samlab.state === 'ready' && window.samlab.evals.length === 1 && window.samlab.info.trainCount === 8000, null, { timeout: 60_000 });

    await page.click('#start');
    await waitForStep(page, 6, 90_000);
    await page.click('#pause');
    await waitForState(page, 'paused');
    const h = await page.evaluate(() => window.samlab.history);
    assert.ok(h.drawn.accuracy >= 3 && h.drawn.loss >= 3 && h.drawn.sam >= 2, `the charts have points (${JSON.stringify(h.drawn)})`);
    const losses = h.loss.train.filter((v) => v !== null);
    assert.ok(losses.length >= 2 && losses.every(Number.isFinite), `finite train losses ${losses}`);
    assert.ok(h.sam.sharpness.every(Number.isFinite), 'SAM reads L(w+ε) − L(w) on LeNet too');

    // Save names the model (no widths) and the weights carry LeNet's PyTorch names.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
    assert.match(download.suggestedFilename(), /^samlab-mnist-lenet-momentum-sam-step\d+\.safetensors$/);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('CIFAR-10 without a file: the page says how to get it, and that a link cannot carry it; a dropped file is taken', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash() });
  try {
    await waitForState(page, 'ready');
    assert.ok(await page.locator('#cifar').isHidden(), 'no CIFAR-10 controls for MNIST');
    await page.selectOption('#dataset', 'cifar10');
    await waitForState(page, 'idle');
    const howto = page.locator('#cifar-howto');
    assert.ok(await howto.isVisible());
    const text = await howto.innerText();
    assert.match(text, /https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar-10-binary\.tar\.gz/);
    assert.match(text, /170 MB, no need to unpack it/);
    assert.match(text, /npm run fetch-data -- --dataset cifar10/);
    assert.ok(await page.locator('#cifar-link-note').isHidden(), 'chosen on the page, not from a link');
    assert.match(await page.locator('#status-state').innerText(), /Choose the CIFAR-10 file/);
    assert.ok(await page.locator('#start').isDisabled());
    assert.ok(await page.locator('#perClass').isVisible());
    assert.match(await page.evaluate(() => location.hash), /^#dataset=cifar10&perClass=500&model=mlp&/);
    // Back to MNIST: a model again.
    await page.selectOption('#dataset', 'mnist');
    await waitForState(page, 'ready');

    // A file dropped on the page is taken as CIFAR-10 (not opened by the browser); this one is
    // not an archive, which the message beside the control says.
    await page.evaluate(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['just some notes'], 'notes.txt', { type: 'text/plain' }));
      for (const type of ['dragover', 'drop']) {
        document.body.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
      }
    });
    await waitForState(page, 'failed');
    assert.equal(await page.inputValue('#dataset'), 'cifar10');
    assert.match(await page.locator('#cifarFile-error').innerText(), /^notes\.txt: archive is not a valid tar file .*is it cifar-10-binary\.tar\.gz\?/);
    assert.match(await page.locator('#cifar-file-name').innerText(), /^notes\.txt \(0\.0 MB\)$/);
    assert.equal(page.url().split('#')[0].endsWith('index.html'), true, 'still on the page');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }

  const shared = await openPage(env, { hash: 'dataset=cifar10&perClass=200&model=resnet8&augment=on' });
  try {
    await waitForState(shared.page, 'idle');
    assert.ok(await shared.page.locator('#cifar-link-note').isVisible());
    assert.match(await shared.page.locator('#cifar-link-note').innerText(), /a link cannot carry the file: choose it again/);
    assert.equal(await shared.page.inputValue('#perClass'), '200');
    assert.equal(await shared.page.inputValue('#model'), 'resnet8');
    assert.ok(await shared.page.locator('#start').isDisabled());
    assertNoErrors(shared.errors);
  } finally {
    await shared.context.close();
  }
});

test('CIFAR-10 .bin files chosen from disk train LeNet-5, then ResNet-8 with augmentation takes two steps', async () => {
  // No SAM here, so the steps take half the time: the LeNet test above has SAM.
  const hash = 'dataset=cifar10&perClass=50&model=lenet&optimizer=momentum&sam=none&lr=0.05&batchSize=50&epochs=1&seed=0';
  const { page, context, errors } = await openPage(env, { hash });
  try {
    await waitForState(page, 'idle');
    await page.setInputFiles('#cifar-file-input', good);
    await waitForState(page, 'ready', 90_000);
    assert.ok(await page.locator('#cifar-howto').isHidden(), 'the how-to goes once a file is chosen');
    assert.match(await page.locator('#cifar-file-name').innerText(), /2 files \(1\.8 MB\): data_batch_1\.bin, test_batch\.bin/);
    const info = await page.evaluate(() => window.samlab.info);
    assert.deepEqual([info.dataset, info.trainCount, info.testCount, info.totalSteps], ['cifar10', 500, 100, 10], 'a fifth as many test images per class');

    await page.click('#start');
    await waitForState(page, 'done', 120_000);
    const h = await page.evaluate(() => window.samlab.history);
    assert.equal(h.drawn.loss >= 4, true, `loss points ${h.drawn.loss}`);
    assert.ok(h.loss.train.filter((v) => v !== null).every(Number.isFinite));
    const evals = await page.evaluate(() => window.samlab.evals);
    assert.deepEqual(evals.map((e) => e.step), [0, 5, 10]);
    assert.ok(evals.every((e) => e.samples === 100 && Number.isFinite(e.loss)));

    // ResNet-8 (BatchNorm) with augmentation on a smaller subset of the same files (a ResNet-8
    // step of 50 images takes seconds on SwiftShader): 100 training and 20 test images.
    await page.click('#reset');
    await waitForState(page, 'ready', 90_000);
    await page.selectOption('#model', 'resnet8');
    await page.selectOption('#augment', 'on');
    await page.fill('#perClass', '10');
    await page.fill('#batchSize', '10');
    await page.waitForFunction(() => window.samlab.state === 'ready' && !document.getElementById('start').disabled, null, { timeout: 120_000 });
    assert.deepEqual(await page.evaluate(() => [window.samlab.info.trainCount, window.samlab.info.testCount]), [100, 20]);
    await page.click('#step');
    await waitForStep(page, 1, 60_000);
    await page.waitForFunction(() => window.samlab.pending.length === 0);
    await page.click('#step');
    await waitForStep(page, 2, 60_000);
    const latest = await page.evaluate(() => window.samlab.latest);
    assert.ok(Number.isFinite(latest.loss) && latest.loss > 0, `ResNet-8 loss ${latest.loss}`);
    assert.match(await page.evaluate(() => location.hash), /^#dataset=cifar10&perClass=10&model=resnet8&dropout=0&augment=on&/);
    // SWA is accepted with BatchNorm (the average's statistics are recomputed by the Trainer).
    await page.click('#reset');
    await page.fill('#swaStart', '0.5');
    assert.equal(await page.locator('#swaStart-error').innerText(), '');
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

test('a truncated CIFAR-10 file or too many images per class: the message sits beside the control, and the archive then works', async () => {
  const hash = 'dataset=cifar10&perClass=50&model=lenet&batchSize=50&epochs=1';
  const { page, context, errors } = await openPage(env, { hash });
  try {
    await waitForState(page, 'idle');
    await page.setInputFiles('#cifar-file-input', truncated);
    await waitForState(page, 'failed', 60_000);
    const message = await page.locator('#cifarFile-error').innerText();
    assert.match(message, /data_batch_1\.bin is truncated: 499 whole 3073-byte CIFAR-10 record\(s\) and 2973 byte\(s\) left over/);
    assert.doesNotMatch(message, /\bat \S+:\d+/, 'no stack trace');
    assert.equal(await page.locator('#cifarFile').getAttribute('aria-invalid'), 'true');
    assert.ok(await page.locator('#start').isDisabled());
    assert.ok(await page.locator('#banner').isHidden(), 'beside the control, not a banner');
    assert.equal(await page.inputValue('#model'), 'lenet', 'the settings stay');

    // More images per class than the archive holds: the message names the most there are.
    await page.fill('#perClass', '60');
    await page.setInputFiles('#cifar-file-input', archive);
    await page.waitForFunction(() => document.getElementById('perClass-error').textContent !== '', null, { timeout: 60_000 });
    assert.match(await page.locator('#perClass-error').innerText(), /cannot take 60 images of class 0.*ask for at most 50 per class/);
    assert.equal(await page.locator('#cifarFile-error').innerText(), '', 'the good file is not blamed');
    assert.match(await page.locator('#cifar-file-name').innerText(), /^cifar-10-binary\.tar\.gz \(\d\.\d MB\)$/);

    await page.fill('#perClass', '50');
    // (waitForState would stop at the 'failed' the page is in until the new model is built.)
    await page.waitForFunction(() => window.samlab.state === 'ready', null, { timeout: 90_000 });
    assert.equal(await page.locator('#perClass-error').innerText(), '');
    assert.deepEqual(await page.evaluate(() => [window.samlab.info.trainCount, window.samlab.info.testCount]), [500, 100]);
    await page.click('#step');
    await waitForStep(page, 1, 60_000);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});
