// www/data.js in Node (which has the same Blob, DecompressionStream and crypto.subtle as a
// worker): IDX headers raw and gzip, SHA-256 against Node's crypto, and how the user's IDX files
// are sorted into their four roles (names, headers, counts) or refused with a message.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import { DataError, assignIdxRoles, idxHeader, progress, sha256Hex } from '../../www/data.js';

function images(count, rows = 28, cols = 28) {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(0x0803, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(rows, 8);
  header.writeUInt32BE(cols, 12);
  return new Uint8Array(Buffer.concat([header, Buffer.alloc(count * rows * cols, 9)]));
}

function labels(count) {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(0x0801, 0);
  header.writeUInt32BE(count, 4);
  return new Uint8Array(Buffer.concat([header, Buffer.alloc(count, 3)]));
}

const gz = (bytes) => new Uint8Array(gzipSync(bytes));
const file = (name, bytes) => ({ name, bytes });
const names = (files) => files.map((f) => f.name);

test('IDX headers, raw and gzip; anything else is not IDX', async () => {
  assert.deepEqual(await idxHeader(images(5, 8, 9)), { kind: 'images', count: 5, rows: 8, cols: 9 });
  assert.deepEqual(await idxHeader(gz(images(5, 8, 9))), { kind: 'images', count: 5, rows: 8, cols: 9 });
  assert.deepEqual(await idxHeader(gz(labels(7))), { kind: 'labels', count: 7 });
  assert.equal(await idxHeader(new TextEncoder().encode('some notes, not IDX')), null);
  assert.equal(await idxHeader(new Uint8Array([0x1f, 0x8b, 1, 2, 3])), null, 'broken gzip');
  assert.equal(await idxHeader(new Uint8Array([0, 0, 8])), null, 'too short');
});

test('SHA-256 equals Node\'s', async () => {
  const bytes = gz(images(50));
  assert.equal(await sha256Hex(bytes), createHash('sha256').update(bytes).digest('hex'));
  // A view hashes only its own bytes.
  const view = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4);
  assert.equal(await sha256Hex(view), createHash('sha256').update(Buffer.from([1, 2, 3])).digest('hex'));
});

test('roles from MNIST-style names, in any order, raw or .gz, t10k or test', async () => {
  const set = [
    file('t10k-labels-idx1-ubyte.gz', gz(labels(50))),
    file('train-images-idx3-ubyte', images(200)),
    file('test-images-idx3-ubyte.gz', gz(images(50))),
    file('train-labels-idx1-ubyte', labels(200)),
  ];
  assert.deepEqual(names(await assignIdxRoles(set)), ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 'test-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']);
  // The names say training/test even when the counts would say otherwise (a larger test split).
  const bigTest = [file('train-images', images(20)), file('train-labels', labels(20)), file('test-images', images(30)), file('test-labels', labels(30))];
  assert.deepEqual(names(await assignIdxRoles(bigTest)), ['train-images', 'train-labels', 'test-images', 'test-labels']);
});

test('names that say nothing: images or labels from the header, training from the larger count or the partner', async () => {
  const set = [file('d', labels(50)), file('a', images(50)), file('c', labels(200)), file('b', gz(images(200)))];
  assert.deepEqual(names(await assignIdxRoles(set)), ['b', 'c', 'a', 'd']);
  // The labels follow the images of their count (the images are named here).
  const named = [file('mine-train.idx', images(200)), file('mine-test.idx', images(50)), file('x', labels(50)), file('y', labels(200))];
  assert.deepEqual(names(await assignIdxRoles(named)), ['mine-train.idx', 'y', 'mine-test.idx', 'x']);
  // One of two named: the other takes the other split.
  const half = [file('train-x', images(10)), file('other', images(10)), file('l1', labels(10)), file('test-l', labels(10))];
  assert.deepEqual(names(await assignIdxRoles(half)), ['train-x', 'l1', 'other', 'test-l']);
});

async function refusal(files) {
  try {
    await assignIdxRoles(files);
  } catch (err) {
    assert.ok(err instanceof DataError, `a DataError, not ${err}`);
    assert.equal(err.field, 'idxFile');
    assert.match(err.hint, /Choose four IDX files together/);
    return err.message;
  }
  assert.fail('the files were accepted');
}

test('bad sets: a message that says what is missing, extra, not IDX or cannot be told apart', async () => {
  const good = [file('train-images', images(20)), file('train-labels', labels(20)), file('t10k-images', images(5)), file('t10k-labels', labels(5))];
  assert.equal(await refusal([]), 'No IDX files were given.');
  assert.equal(await refusal(good.slice(0, 3)), 'Need the four IDX files, got 3 (train-images, train-labels, t10k-images): missing test labels.');
  assert.equal(await refusal([good[1]]), 'Need the four IDX files, got 1 (train-labels): missing training images and test images; missing test labels.');
  assert.match(await refusal([...good, file('more-images', images(5))]), /^Need the four IDX files, got 5 .*: 3 images files \(train-images, t10k-images, more-images\), one too many for training \+ test\.$/);
  assert.match(await refusal([...good.slice(0, 3), file('notes.txt', new TextEncoder().encode('hello'))]), /^notes\.txt is not an IDX file \(it does not start with an IDX images or labels header\)\.$/);
  assert.match(await refusal([...good.slice(0, 3), file('broken.gz', new Uint8Array([0x1f, 0x8b, 0, 0]))]), /^broken\.gz is not an IDX file .*once unzipped\)\.$/);
  assert.equal(await refusal([file('p', images(5)), file('q', images(5)), file('r', labels(5)), file('s', labels(5))]),
    'p and q are both images files of 5 items, and their names do not say which is for training: name them train-… and t10k-… (or test-…).');
});

test('progress: at most every 100 ms, but always the first and the final one', () => {
  const posted = [];
  const report = progress((m) => posted.push(m), 'download', 'MNIST');
  for (let i = 0; i <= 1000; i++) report(i, 1000);
  assert.ok(posted.length >= 2 && posted.length < 20, `${posted.length} messages for 1,001 calls in a few ms`);
  assert.deepEqual(posted[0], { type: 'progress', stage: 'download', label: 'MNIST', loaded: 0, total: 1000 });
  assert.deepEqual(posted.at(-1), { type: 'progress', stage: 'download', label: 'MNIST', loaded: 1000, total: 1000 });
});
