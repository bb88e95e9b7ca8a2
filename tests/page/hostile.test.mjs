// Hostile input in the browser, as tables (the native side is tests/hostile.rs; both are described
// in docs/reliability.md, "Hostile input"):
//
// 1. configs and commands sent to the worker (and through it to the wasm API) that are wrong in one
//    way each: an unknown key, NaN/Infinity/negative/huge numbers, a string for a number, a config
//    that is not an object, data sets that do not exist, bad live changes and bad weights;
// 2. URL hashes (share links) with hostile values: the page must come up with a message beside the
//    field (or a banner naming what it ignored) and sane defaults, never a blank page;
// 3. files dropped or chosen while a training runs: a clear message, and the run goes on (the step
//    counter keeps increasing) on the data set it had; a bad weights file does not replace what
//    Restart would bring back.
//
// Each case names the words its message must contain. Needs `npm run build` (dist/).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import {
  assertNoErrors, dropFiles, filePayload, openPage, smallHash, startBrowser, waitForState, waitForStep,
} from './helpers.mjs';

let env;
before(async () => {
  env = await startBrowser();
});
after(async () => {
  await env?.close();
});

/** A small valid config (MLP 784-32-10 + SAM, batch 128); cases change one thing in it. */
const SMALL = { hidden: [32], optimizer: 'sgd', momentum: 0.9, lr: 0.05, sam: 'sam', rho: 0.05, batchSize: 128, epochs: 1 };
const create = (config, dataset = 'mnist') => ({ type: 'create', dataset, config });

/** An IDX images header with the wrong magic, gzip-compressed (what a corrupt MNIST file looks like). */
const BAD_IDX_GZ = gzipSync(Buffer.from([0x00, 0x00, 0x08, 0x01, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28]));

/** `gz` with its CRC-32 trailer damaged (the deflate data intact). */
function badCrc(gz) {
  const out = Buffer.from(gz);
  out[out.length - 8] ^= 0xff;
  return out;
}

/** A ustar archive of `entries` ([name, text]). */
function tar(entries) {
  const blocks = [];
  for (const [name, text] of entries) {
    const bytes = Buffer.from(text);
    const header = Buffer.alloc(512);
    const field = (offset, length, value) => header.write(value, offset, length, 'ascii');
    field(0, 100, name);
    field(100, 8, '0000644\0');
    field(108, 8, '0000000\0');
    field(116, 8, '0000000\0');
    field(124, 12, `${bytes.length.toString(8).padStart(11, '0')}\0`);
    field(136, 12, '00000000000\0');
    field(148, 8, '        ');
    field(156, 1, '0');
    field(257, 8, 'ustar\u000000');
    field(148, 8, `${header.reduce((a, b) => a + b, 0).toString(8).padStart(6, '0')}\0 `);
    blocks.push(header, bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

/** safetensors bytes of one F32 tensor `name` of `shape` (zeros). */
function safetensors(name, shape) {
  const size = shape.reduce((a, b) => a * b, 1) * 4;
  const header = Buffer.from(JSON.stringify({ [name]: { dtype: 'F32', shape, data_offsets: [0, size] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, Buffer.alloc(size)]);
}

// ---------------------------------------------------------------------------------------------
// 1. the worker and the wasm API

/**
 * Sent in order to one fresh worker. `expect`: the error message (regexp) and the page field it
 * is shown beside (undefined: a banner), or `ready: true` for input that must be accepted.
 * `load`: the bytes of a `load` message ('text', the weights saved after the valid trainer was
 * built but 'truncated', or 'other': a tensor of another model). Byte arrays travel as plain
 * arrays and become Uint8Arrays in the page.
 */
const API_CASES = [
  { name: 'config: an unknown key', message: create({ ...SMALL, learningRate: 0.1 }), expect: { message: /invalid config: unknown key "learningRate"; the keys are model, hidden/, field: undefined } },
  { name: 'config: lr NaN', message: create({ ...SMALL, lr: NaN }), expect: { message: /lr must be a finite number, got NaN/, field: 'lr' } },
  { name: 'config: lr Infinity', message: create({ ...SMALL, lr: Infinity }), expect: { message: /lr must be a finite number, got inf/, field: 'lr' } },
  { name: 'config: lr 1e39 (past f32)', message: create({ ...SMALL, lr: 1e39 }), expect: { message: /lr = 1e39 is too large: the GPU computes in 32-bit floats/, field: 'lr' } },
  { name: 'config: lr as a string', message: create({ ...SMALL, lr: '0.1' }), expect: { message: /lr must be a number, got the string "0\.1"/, field: 'lr' } },
  { name: 'config: rho -1', message: create({ ...SMALL, rho: -1 }), expect: { message: /rho must be a finite number ≥ 0, got -1/, field: 'rho' } },
  { name: 'config: momentum 1', message: create({ ...SMALL, momentum: 1 }), expect: { message: /momentum must be in \[0, 1\), got 1/, field: 'optimizer' } },
  { name: 'config: batchSize 1e6 (past the data)', message: create({ ...SMALL, batchSize: 1e6 }), expect: { message: /batchSize 1000000 is larger than the training split \(8000 samples\)/, field: 'batchSize' } },
  { name: 'config: batchSize 1e12 (past a 32-bit usize)', message: create({ ...SMALL, batchSize: 1e12 }), expect: { message: /batchSize must be at most 4294967295, got 1000000000000/, field: 'batchSize' } },
  { name: 'config: batchSize 2^32 + 128 (not wrapped to 128)', message: create({ ...SMALL, batchSize: 2 ** 32 + 128 }), expect: { message: /batchSize must be at most 4294967295, got 4294967424/, field: 'batchSize' } },
  { name: 'config: batchSize 12.5', message: create({ ...SMALL, batchSize: 12.5 }), expect: { message: /batchSize must be a whole number ≥ 1, got 12\.5/, field: 'batchSize' } },
  { name: 'config: hidden [2^32, 2^32]', message: create({ ...SMALL, hidden: [2 ** 32, 2 ** 32] }), expect: { message: /hidden must be at most 4294967295, got 4294967296/, field: 'hidden' } },
  { name: 'config: hidden [1e9] (3 TB of weights)', message: create({ ...SMALL, hidden: [1e9] }), expect: { message: /layer 0 \(784 → 1000000000\) would bring the model to \d+ parameters.*narrower hidden widths/, field: 'hidden' } },
  { name: 'config: hidden "64"', message: create({ ...SMALL, hidden: '64' }), expect: { message: /hidden must be an array of numbers, got the string "64"/, field: 'hidden' } },
  { name: 'config: sam "foo"', message: create({ ...SMALL, sam: 'foo' }), expect: { message: /unknown SAM mode "foo"/, field: 'sam' } },
  { name: 'config: labelNoise 1', message: create({ ...SMALL, labelNoise: 1 }), expect: { message: /labelNoise must be in \[0, 1\), got 1/, field: 'labelNoise' } },
  { name: 'config: a string, not an object', message: create('lr=0.1'), expect: { message: /invalid config: expected a plain object/, field: undefined } },
  { name: 'config: an array', message: create([1, 2, 3]), expect: { message: /invalid config: expected a plain object/, field: undefined } },
  { name: 'dataset: "imagenet"', message: create(SMALL, 'imagenet'), expect: { message: /There is no data set called "imagenet"/, field: 'dataset' } },
  { name: 'dataset: "constructor"', message: create(SMALL, 'constructor'), expect: { message: /There is no data set called "constructor"/, field: 'dataset' } },
  { name: 'dataset: cifar10 without files', message: create(SMALL, { kind: 'cifar10', files: 'none' }), expect: { message: /No CIFAR-10 file was given/, field: 'cifarFile' } },
  { name: 'dataset: a CIFAR-10 file without bytes', message: create(SMALL, { kind: 'cifar10', files: [{ name: 'data_batch_1.bin' }] }), expect: { message: /data_batch_1\.bin came without its bytes/, field: 'cifarFile' } },
  { name: 'dataset: an IDX file as the CIFAR-10 archive', message: create(SMALL, { kind: 'cifar10', files: [{ name: 'cifar-10-binary.tar.gz', bytes: [...BAD_IDX_GZ] }] }), expect: { message: /cifar-10-binary\.tar\.gz: archive is not a valid tar file/, field: 'cifarFile' } },
  // The browser decompresses (DecompressionStream; the wasm has no inflater) and words a broken stream as the native reader does.
  { name: 'dataset: a truncated .tar.gz', message: create(SMALL, { kind: 'cifar10', files: [{ name: 'cifar-10-binary.tar.gz', bytes: [...gzipSync(tar([['cifar-10-batches-bin/test_batch.bin', 'x'.repeat(3073)]])).subarray(0, 40)] }] }), expect: { message: /^cifar-10-binary\.tar\.gz: archive file is not valid gzip \(corrupt gzip or cut short: .+\); delete it and re-download or re-create it$/, field: 'cifarFile' } },
  { name: 'dataset: a .tar.gz with a wrong CRC', message: create(SMALL, { kind: 'cifar10', files: [{ name: 'cifar-10-binary.tar.gz', bytes: [...badCrc(gzipSync(tar([['notes.txt', 'not CIFAR-10']])))] }] }), expect: { message: /^cifar-10-binary\.tar\.gz: archive file is not valid gzip/, field: 'cifarFile' } },
  { name: 'config: null (the defaults)', message: { type: 'create', dataset: 'mnist', config: null }, expect: { ready: true } },
  // On a live trainer (SMALL), built next.
  { name: 'live: build a valid trainer', message: create(SMALL), expect: { ready: true } },
  { name: 'set: lr NaN', message: { type: 'set', lr: NaN }, expect: { message: /lr must be a finite number > 0, got NaN/, field: 'lr' } },
  { name: 'set: lr 1e39', message: { type: 'set', lr: 1e39 }, expect: { message: /lr = 1e39 is too large/, field: 'lr' } },
  { name: 'set: rho -1', message: { type: 'set', rho: -1 }, expect: { message: /rho must be a finite number ≥ 0, got -1/, field: 'rho' } },
  { name: 'load: a text file', message: { type: 'load' }, load: 'text', expect: { message: /do not fit the model: not a readable safetensors file: its first 8 bytes give a header length of \d+ bytes/, field: 'load' } },
  { name: 'load: saved weights cut short', message: { type: 'load' }, load: 'truncated', expect: { message: /do not fit the model: .*only \d+ follow; the file is truncated/, field: 'load' } },
  { name: 'load: weights of another model', message: { type: 'load' }, load: 'other', expect: { message: /checkpoint tensor "0\.weight" has shape \[2, 2\] but the model expects \[32, 784\]/, field: 'load' } },
  { name: 'track: every -1 steps', message: { type: 'track', every: -1 }, expect: { message: /Measure every -1 steps\? That must be a whole number/, field: 'trackEvery' } },
  { name: 'sharpness: an unknown request key', message: { type: 'sharpness', request: { bogus: 1 } }, expect: { message: /unknown key "bogus"/, field: 'sharpness' } },
  { name: 'inspect: from -1', message: { type: 'inspect', from: -1 }, expect: { message: /Inspect: from must be a whole number from 0 to/, field: 'inspect' } },
  { name: 'inspect: count 1000', message: { type: 'inspect', count: 1000 }, expect: { message: /Inspect: count must be a whole number from 1 to 200, not 1000/, field: 'inspect' } },
  { name: 'inspect: mistakesOnly "yes"', message: { type: 'inspect', mistakesOnly: 'yes' }, expect: { message: /Inspect: mistakesOnly must be true or false/, field: 'inspect' } },
  { name: 'command: unknown type', message: { type: 'explode' }, expect: { message: /Unknown command "explode"/, field: undefined } },
];

test('hostile configs and commands through the worker: a message naming the problem, beside the right field; the trainer survives', async () => {
  // An invalid link keeps the page idle, so its own worker builds nothing while this test runs.
  const { page, context, errors } = await openPage(env, { hash: 'lr=off' });
  try {
    await waitForState(page, 'idle');
    const otherModel = safetensors('0.weight', [2, 2]);
    const results = await page.evaluate(async ({ cases, otherModel }) => {
      const worker = new Worker('./worker.js', { type: 'module' });
      const messages = [];
      worker.onmessage = (event) => messages.push(event.data);
      let id = 0;
      const send = async (message, transfer = []) => {
        const mine = ++id;
        const from = messages.length;
        worker.postMessage({ ...message, id: mine }, transfer);
        const t0 = performance.now();
        while (!messages.some((m) => m.type === 'done' && m.id === mine)) {
          if (performance.now() - t0 > 60_000) return { timeout: true, messages: messages.slice(from).map((m) => m.type) };
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        const answer = messages.slice(from);
        return {
          errors: answer.filter((m) => m.type === 'error').map(({ message, field, fatal }) => ({ message, field, fatal })),
          states: answer.filter((m) => m.type === 'state').map((m) => m.state),
          ok: answer.find((m) => m.type === 'done' && m.id === mine).ok,
        };
      };
      const out = [];
      let saved = null;
      for (const c of cases) {
        const message = structuredClone(c.message);
        for (const file of message.dataset?.files ?? []) if (Array.isArray(file.bytes)) file.bytes = new Uint8Array(file.bytes);
        if (c.load === 'text') message.bytes = new TextEncoder().encode('these are my notes, not weights');
        if (c.load === 'truncated') message.bytes = saved.slice(0, saved.length - 100);
        if (c.load === 'other') message.bytes = new Uint8Array(otherModel);
        out.push(await send(message));
        if (c.name === 'live: build a valid trainer') {
          await send({ type: 'save' });
          saved = messages.findLast((m) => m.type === 'saved').bytes;
        }
      }
      // The trainer survived all of it: two more steps with a finite loss.
      const step = await send({ type: 'step', n: 2 });
      const metrics = messages.findLast((m) => m.type === 'metrics');
      worker.terminate();
      return { out, step, metrics };
    }, { cases: API_CASES.map(({ name, message, load }) => ({ name, message, load })), otherModel: [...otherModel] });

    const failures = [];
    API_CASES.forEach((c, i) => {
      const r = results.out[i];
      const problem = (() => {
        if (r.timeout) return `no answer (${r.messages.join(', ')})`;
        if (r.errors.some((e) => e.fatal)) return `a fatal error: ${JSON.stringify(r.errors)}`;
        if (c.expect.ready) return r.errors.length || !r.states.includes('ready') ? `not accepted: ${JSON.stringify(r)}` : null;
        if (r.errors.length !== 1) return `expected one error, got ${JSON.stringify(r.errors)}`;
        const [e] = r.errors;
        if (!c.expect.message.test(e.message)) return `message ${JSON.stringify(e.message)} does not match ${c.expect.message}`;
        if (e.message.includes('\n') || /\bat \S+:\d+/.test(e.message)) return `not one plain line: ${JSON.stringify(e.message)}`;
        if (e.field !== c.expect.field) return `field ${e.field} instead of ${c.expect.field} (${e.message})`;
        return null;
      })();
      if (problem) failures.push(`${c.name}: ${problem}`);
    });
    assert.deepEqual(failures, [], `${failures.length} of ${API_CASES.length} cases failed`);
    assert.equal(results.step.ok, true, 'the trainer still steps');
    assert.equal(results.metrics.step, 2);
    assert.ok(Number.isFinite(results.metrics.loss), `finite loss ${results.metrics.loss}`);
    assertNoErrors(errors);
  } finally {
    await context.close();
  }
});

// ---------------------------------------------------------------------------------------------
// 2. URL parameters

/**
 * Opened as the page's hash. `state`: where the page must settle; `field`: the message beside that
 * field (regexp); `banner`: the banner's message; `values`: what the inputs must hold (sane defaults
 * for what was ignored).
 */
const URL_CASES = [
  { name: 'lr=NaN', hash: smallHash({ lr: 'NaN' }), state: 'idle', field: ['lr', /learning rate must be a number above 0/] },
  { name: 'lr=Infinity', hash: smallHash({ lr: 'Infinity' }), state: 'idle', field: ['lr', /learning rate must be a number above 0/] },
  { name: 'lr=-1', hash: smallHash({ lr: '-1' }), state: 'idle', field: ['lr', /learning rate must be a number above 0/] },
  { name: 'lr=1e39 (past f32)', hash: smallHash({ lr: '1e39' }), state: 'failed', field: ['lr', /lr = 1e39 is too large: the GPU computes in 32-bit floats/] },
  { name: 'rho=-0.5', hash: smallHash({ rho: '-0.5' }), state: 'idle', field: ['rho', /ρ must be a number of at least 0/] },
  { name: 'batchSize=1e12', hash: smallHash({ batchSize: '1e12' }), state: 'idle', field: ['batchSize', /batch size must be a whole number from 1 to 4096/] },
  { name: 'epochs=-3', hash: smallHash({ epochs: '-3' }), state: 'idle', field: ['epochs', /Epochs must be a whole number from 1 to 1000/] },
  { name: 'hidden=0,99999999', hash: smallHash({ hidden: '0,99999999' }), state: 'idle', field: ['hidden', /Give 1 to 4 widths from 1 to 4096/] },
  { name: 'labelNoise=1', hash: smallHash({ labelNoise: '1' }), state: 'idle', field: ['labelNoise', /at least 0 and below 1/] },
  { name: 'sam=foo', hash: smallHash({ sam: 'foo' }), state: 'ready', banner: /This link has settings the page cannot use: sam=foo \(not one of the choices\)/, values: { sam: 'sam', rho: '0.05' } },
  { name: 'unknown keys', hash: `${smallHash()}&bogus=1&__proto__=x`, state: 'ready', banner: /bogus \(no such setting\), __proto__ \(no such setting\)/, values: { lr: '0.05', hidden: '64' } },
  { name: 'model=<img onerror>', hash: `${smallHash()}&model=${encodeURIComponent('<img src=x onerror="window.pwned=1">')}`, state: 'ready', banner: /model=<img src=x onerror="window\.pwned=1"> \(not one of the choices\)/, values: { model: 'mlp' } },
  { name: 'dataset=cifar10&perClass=1e9', hash: 'dataset=cifar10&perClass=1e9', state: 'idle', field: ['perClass', /Images per class must be a whole number from 1 to 5,000/] },
  { name: 'watchdog=0.001', hash: `${smallHash()}&watchdog=0.001`, state: 'ready', values: { lr: '0.05' } },
  { name: '100 KB of garbage', hash: `%%%${'\u00ff&x='.repeat(25_000)}`, state: 'ready', banner: /cannot use: %%%ÿ \(no such setting\), x \(no such setting\)\.$/, values: { dataset: 'mnist', model: 'mlp', sam: 'sam' } },
];

test('hostile URL parameters: a message beside the field or a banner, sane defaults, never a blank page', async () => {
  const failures = [];
  for (const c of URL_CASES) {
    const { page, context, errors } = await openPage(env, { hash: c.hash });
    try {
      const state = await page.waitForFunction(
        (wanted) => (['idle', 'ready', 'failed', 'crashed'].includes(window.samlab?.state) && (wanted !== 'ready' || window.samlab.state !== 'idle') ? window.samlab.state : false),
        c.state, { timeout: 60_000, polling: 100 },
      ).then((h) => h.jsonValue());
      const seen = await page.evaluate((field) => ({
        field: field ? document.getElementById(`${field}-error`).textContent : '',
        banner: document.getElementById('banner').hidden ? '' : document.getElementById('banner-message').textContent,
        settings: window.samlab.settings,
        visible: document.getElementById('settings').getBoundingClientRect().height > 100 && document.getElementById('start') !== null,
        status: document.getElementById('status-state').textContent,
        pwned: window.pwned,
      }), c.field?.[0]);
      const problems = [];
      if (state !== c.state) problems.push(`state ${state}, expected ${c.state}`);
      if (!seen.visible || !seen.status) problems.push('the page is blank');
      if (c.field && !c.field[1].test(seen.field)) problems.push(`#${c.field[0]}-error is ${JSON.stringify(seen.field)}`);
      if (c.banner && !c.banner.test(seen.banner)) problems.push(`banner is ${JSON.stringify(seen.banner)}`);
      if (!c.banner && seen.banner) problems.push(`unexpected banner ${JSON.stringify(seen.banner)}`);
      for (const [key, value] of Object.entries(c.values ?? {})) {
        if (seen.settings[key] !== value) problems.push(`${key} is ${JSON.stringify(seen.settings[key])}, expected ${JSON.stringify(value)}`);
      }
      if (seen.pwned !== undefined) problems.push('a script from the link ran');
      const unexpected = errors.filter((e) => !/Failed to load resource/.test(e));
      if (unexpected.length) problems.push(`browser errors: ${unexpected.join('; ')}`);
      if (problems.length) failures.push(`${c.name}: ${problems.join('; ')}`);
    } catch (err) {
      failures.push(`${c.name}: ${err.message.split('\n')[0]}`);
    } finally {
      await context.close();
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of ${URL_CASES.length} cases failed`);
});

// ---------------------------------------------------------------------------------------------
// 3. files dropped or chosen during a run

/**
 * `how`: dropped on the page, chosen in the CIFAR-10 file input, or in the weights' Load input.
 * `message`: where the message appears (the banner or beside Load) and what it must say.
 */
const FILE_CASES = [
  { name: 'a corrupt MNIST file, dropped', how: 'drop', files: [['train-images-idx3-ubyte.gz', BAD_IDX_GZ]], message: ['banner', /train-images-idx3-ubyte\.gz was not used: the data set cannot change during a run/] },
  { name: 'a truncated .tar.gz, dropped', how: 'drop', files: [['cifar-10-binary.tar.gz', gzipSync(tar([['cifar-10-batches-bin/test_batch.bin', 'x'.repeat(3073)]])).subarray(0, 40)]], message: ['banner', /cifar-10-binary\.tar\.gz was not used: the data set cannot change during a run/] },
  { name: 'a .tar.gz that is not CIFAR-10, dropped', how: 'drop', files: [['photos.tar.gz', gzipSync(tar([['notes.txt', 'not CIFAR-10']]))]], message: ['banner', /photos\.tar\.gz was not used/] },
  { name: 'three files at once, dropped', how: 'drop', files: [['a.bin', Buffer.alloc(10)], ['b.bin', Buffer.alloc(10)], ['c.txt', Buffer.from('c')]], message: ['banner', /a\.bin, b\.bin, c\.txt were not used: the data set cannot change during a run/] },
  { name: 'a truncated batch, chosen in the CIFAR-10 input', how: 'cifar-input', files: [['data_batch_1.bin', Buffer.alloc(3000)]], message: ['banner', /data_batch_1\.bin was not used: the data set cannot change during a run/] },
  { name: 'a text file as weights', how: 'load', files: [['weights.safetensors', Buffer.from('these are my notes, not weights')]], message: ['load', /do not fit the model: not a readable safetensors file/] },
  { name: 'weights of another model', how: 'load', files: [['lenet.safetensors', safetensors('0.weight', [6, 1, 5, 5])]], message: ['load', /checkpoint tensor "0\.weight" has shape \[6, 1, 5, 5\] but the model expects \[64, 784\]/] },
];

async function offer(page, c) {
  const payload = filePayload(c.files);
  if (c.how === 'drop') await dropFiles(page, c.files);
  else if (c.how === 'cifar-input') await page.setInputFiles('#cifar-file-input', payload);
  else await page.setInputFiles('#load-file', payload);
}

async function messageOf(page, where) {
  return page.evaluate((where) => (where === 'banner'
    ? (document.getElementById('banner').hidden ? '' : document.getElementById('banner-message').textContent)
    : document.getElementById('load-error').textContent), where);
}

test('hostile files during a run: a clear message, the run goes on with its data set, and Restart still brings back good weights', async () => {
  const { page, context, errors } = await openPage(env, { hash: smallHash({ epochs: '20' }) });
  try {
    await waitForState(page, 'ready');
    await page.click('#start');
    await waitForStep(page, 3, 60_000);
    const failures = [];
    for (const c of FILE_CASES) {
      await page.evaluate(() => { document.getElementById('banner').hidden = true; });
      const before = await page.evaluate(() => window.samlab.info.step);
      await offer(page, c);
      try {
        await page.waitForFunction(({ where, source }) => {
          const text = where === 'banner'
            ? (document.getElementById('banner').hidden ? '' : document.getElementById('banner-message').textContent)
            : document.getElementById('load-error').textContent;
          return new RegExp(source).test(text);
        }, { where: c.message[0], source: c.message[1].source }, { timeout: 20_000, polling: 100 });
        // The run goes on: more steps, still running, on MNIST.
        await waitForStep(page, before + 3, 60_000);
        const s = await page.evaluate(() => ({ state: window.samlab.state, dataset: window.samlab.info.dataset, select: document.getElementById('dataset').value, cifar: window.samlab.cifarFiles }));
        if (s.state !== 'running' || s.dataset !== 'mnist' || s.select !== 'mnist' || s.cifar.length) failures.push(`${c.name}: after it ${JSON.stringify(s)}`);
      } catch (err) {
        failures.push(`${c.name}: ${err.message.split('\n')[0]}; shown: ${JSON.stringify(await messageOf(page, c.message[0]))}, state ${await page.evaluate(() => window.samlab.state)}`);
      }
    }
    assert.deepEqual(failures, [], `${failures.length} of ${FILE_CASES.length} cases failed`);
    assert.equal(await page.evaluate(() => window.samlab.hasSavedWeights), false, 'a bad weights file is not kept as the last weights');

    // Paused: a dropped file changes nothing either, and Resume goes on.
    await page.waitForFunction(() => window.samlab.evals.length >= 3, null, { timeout: 90_000 });
    await page.click('#pause');
    await waitForState(page, 'paused');
    const paused = await page.evaluate(() => window.samlab.info.step);
    await dropFiles(page, [['data_batch_1.bin', Buffer.alloc(100)]]);
    await page.waitForFunction(() => /not used/.test(document.getElementById('banner-message').textContent));
    assert.equal(await page.evaluate(() => window.samlab.state), 'paused');
    assert.equal(await page.evaluate(() => window.samlab.info.step), paused);

    // A crash now: Restart brings back the weights of the last evaluation, not the bad file.
    const lastEval = await page.evaluate(() => window.samlab.evals.at(-1));
    await page.evaluate(() => window.samlab.simulateCrash());
    await waitForState(page, 'crashed', 20_000);
    await page.click('#restart');
    await waitForState(page, 'ready');
    await page.waitForFunction(() => window.samlab.evals.length === 2, null, { timeout: 60_000 });
    const restored = (await page.evaluate(() => window.samlab.evals))[1];
    assert.equal(await page.locator('#load-error').innerText(), '', 'the restored weights fit');
    assert.equal(restored.accuracy, lastEval.accuracy, `restored ${restored.accuracy}, last evaluation ${lastEval.accuracy}`);

    // Not running: the same corrupt file, taken as own IDX files by its name, gets a message beside
    // that control (its header says labels, and three more files are needed).
    await dropFiles(page, [['train-images-idx3-ubyte.gz', BAD_IDX_GZ]]);
    await waitForState(page, 'failed', 60_000);
    assert.equal(await page.inputValue('#dataset'), 'idx');
    assert.match(await page.locator('#idxFile-error').innerText(), /^Need the four IDX files, got 1 \(train-images-idx3-ubyte\.gz\): missing training images and test images; missing test labels\./);
    assert.equal(await page.inputValue('#hidden'), '64', 'the settings stay');
    assertNoErrors(errors, [/simulated engine crash/]);
  } finally {
    await context.close();
  }
});
