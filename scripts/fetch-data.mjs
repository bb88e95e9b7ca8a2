#!/usr/bin/env node
// Downloads the official MNIST or Fashion-MNIST IDX .gz files, or the CIFAR-10 binary
// archive, and verifies them.
//
// Usage:
//   node scripts/fetch-data.mjs [--dataset mnist|fashion-mnist|cifar10] [--out DIR]
//                               [--base-url URL] [--manifest FILE.json] [--timeout SECONDS]
//
//   --dataset   which built-in manifest to use (default mnist)
//   --out       target directory (default data/mnist-full/, data/fashion-mnist-full/ or
//               data/cifar-10/)
//   --base-url  fetch from this base URL only (NAME is appended) instead of the mirrors
//   --manifest  JSON file {"mirrors": [URL, ...], "files": [{"name", "size", "md5"?, "sha256"?}]}
//               replacing the built-in manifest (used by the tests)
//   --timeout   seconds allowed per download attempt (default 300; 1800 for cifar10, 170 MB)
//
// Every file is streamed into a temporary file in DIR (.NAME.PID.tmp), checked
// against the expected byte size and checksum(s), and only then renamed into
// place, so DIR never holds a partial or unverified file under the real name.
// Files already present with the right checksum are skipped. Each mirror is tried
// in turn. Exit status: 0 all files verified, 1 a file could not be had or did not
// verify, 2 no mirror could be reached at all (network unreachable).
// Needs nothing but Node >= 20 (global fetch). See docs/data.md.

import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// Sizes and MD5s of the files as published (the MD5s are the ones torchvision checks).
// `dir` is the default directory under data/, `timeoutS` the default --timeout, `note` a line
// printed once every file is verified.
const MANIFESTS = {
  mnist: {
    dir: 'mnist-full',
    mirrors: [
      'https://ossci-datasets.s3.amazonaws.com/mnist/',
      'https://storage.googleapis.com/cvdf-datasets/mnist/',
      'http://yann.lecun.com/exdb/mnist/',
    ],
    files: [
      { name: 'train-images-idx3-ubyte.gz', size: 9912422, md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873' },
      { name: 'train-labels-idx1-ubyte.gz', size: 28881, md5: 'd53e105ee54ea40749a09fcbcd1e9432' },
      { name: 't10k-images-idx3-ubyte.gz', size: 1648877, md5: '9fb629c4189551a2d022fa330f9573f3' },
      { name: 't10k-labels-idx1-ubyte.gz', size: 4542, md5: 'ec29112dd5afa0611ce80d1b7f02629c' },
    ],
  },
  'fashion-mnist': {
    dir: 'fashion-mnist-full',
    mirrors: [
      'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
      'https://storage.googleapis.com/tensorflow/tf-keras-datasets/',
      'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
    ],
    files: [
      { name: 'train-images-idx3-ubyte.gz', size: 26421880, md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
      { name: 'train-labels-idx1-ubyte.gz', size: 29515, md5: '25c81989df183df01b3e8a0aad5dffbe' },
      { name: 't10k-images-idx3-ubyte.gz', size: 4422102, md5: 'bef4ecab320f06d8554ea6380940ec79' },
      { name: 't10k-labels-idx1-ubyte.gz', size: 5148, md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
    ],
  },
  // The binary version (not the Python pickles): data_batch_1..5.bin and test_batch.bin inside.
  cifar10: {
    dir: 'cifar-10',
    timeoutS: 1800,
    mirrors: ['https://www.cs.toronto.edu/~kriz/'],
    files: [
      { name: 'cifar-10-binary.tar.gz', size: 170052171, md5: 'c32a1d4ab5d03f1284b67883e8d87530' },
    ],
    note: 'samlab reads cifar-10-binary.tar.gz as it is; there is no need to unpack it',
  },
};
const defaultDir = (dataset) => path.join('data', MANIFESTS[dataset]?.dir ?? `${dataset}-full`);
const ALGOS = ['sha256', 'md5'];

function die(msg, code = 1) {
  console.error(`fetch-data: error: ${msg}`);
  process.exit(code);
}

function parseArgs(argv) {
  const opts = { dataset: 'mnist', out: null, baseUrl: null, manifest: null, timeoutS: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) die(`${a} needs a value`);
      return v;
    };
    if (a === '--dataset') opts.dataset = value();
    else if (a === '--out') opts.out = path.resolve(value());
    else if (a === '--base-url') opts.baseUrl = value();
    else if (a === '--manifest') opts.manifest = path.resolve(value());
    else if (a === '--timeout') opts.timeoutS = Number(value());
    else if (a === '-h' || a === '--help') {
      const names = Object.keys(MANIFESTS);
      console.log(
        `usage: node scripts/fetch-data.mjs [--dataset ${names.join('|')}] [--out DIR] [--base-url URL] [--manifest FILE.json] [--timeout SECONDS]`,
      );
      console.log(`default --out: ${names.map((n) => `${n} ${defaultDir(n)}/`).join(', ')}`);
      process.exit(0);
    } else die(`unknown argument ${a}; try --help`);
  }
  if (!MANIFESTS[opts.dataset] && !opts.manifest) {
    die(`unknown dataset ${opts.dataset}; use one of: ${Object.keys(MANIFESTS).join(', ')}`);
  }
  if (opts.timeoutS !== null && !(opts.timeoutS > 0)) die('--timeout needs a positive number of seconds');
  opts.timeoutS ??= MANIFESTS[opts.dataset]?.timeoutS ?? 300;
  opts.out ??= path.join(REPO, defaultDir(opts.dataset));
  return opts;
}

function loadManifest(opts) {
  let manifest = MANIFESTS[opts.dataset];
  if (opts.manifest) {
    try {
      manifest = JSON.parse(fs.readFileSync(opts.manifest, 'utf8'));
    } catch (e) {
      die(`cannot read manifest ${opts.manifest}: ${e.message}; pass a JSON file {"mirrors": [...], "files": [...]}`);
    }
  }
  const files = manifest.files;
  if (!Array.isArray(files) || files.length === 0) die(`manifest has no "files" list`);
  for (const f of files) {
    if (typeof f.name !== 'string' || f.name !== path.basename(f.name) || f.name.startsWith('.')) {
      die(`manifest entry ${JSON.stringify(f)} needs a plain file "name"`);
    }
    if (!Number.isInteger(f.size) || f.size < 0) die(`manifest entry ${f.name} needs an integer "size"`);
    if (!ALGOS.some((a) => typeof f[a] === 'string')) die(`manifest entry ${f.name} needs "sha256" or "md5"`);
  }
  const mirrors = opts.baseUrl ? [opts.baseUrl] : manifest.mirrors;
  if (!Array.isArray(mirrors) || mirrors.length === 0) die('no mirrors: give --base-url URL or "mirrors" in the manifest');
  return { files, mirrors: mirrors.map((m) => (m.endsWith('/') ? m : `${m}/`)) };
}

function hashers(entry) {
  return ALGOS.filter((a) => typeof entry[a] === 'string').map((a) => ({ algo: a, h: createHash(a) }));
}

/** Compares size and checksums; returns null when fine, else "expected ..., got ...". */
function mismatch(entry, size, digests) {
  if (size !== entry.size) return `expected ${entry.size} bytes, got ${size}`;
  for (const [algo, got] of Object.entries(digests)) {
    if (got !== entry[algo].toLowerCase()) return `expected ${algo} ${entry[algo]}, got ${got}`;
  }
  return null;
}

function hashFile(file, entry) {
  const hs = hashers(entry);
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  let size = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      size += n;
      for (const { h } of hs) h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return { size, digests: Object.fromEntries(hs.map(({ algo, h }) => [algo, h.digest('hex')])) };
}

let currentTmp = null;
const removeTmp = () => {
  if (currentTmp) fs.rmSync(currentTmp, { force: true });
  currentTmp = null;
};
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    removeTmp();
    process.exit(130);
  });
}

/**
 * One download attempt. Resolves to {ok: true} or {ok: false, kind, message}
 * where kind is 'network' (could not talk to the server), 'http' or 'verify'.
 */
async function download(url, entry, dest, timeoutS) {
  const tmp = path.join(path.dirname(dest), `.${entry.name}.${process.pid}.tmp`);
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutS * 1000), redirect: 'follow' });
  } catch (e) {
    const cause = e.cause?.code || e.cause?.message || e.name || e.message;
    return { ok: false, kind: 'network', message: `cannot reach ${url} (${cause})` };
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    return { ok: false, kind: 'http', message: `HTTP ${res.status} ${res.statusText} from ${url}` };
  }
  currentTmp = tmp;
  const hs = hashers(entry);
  let size = 0;
  let fd;
  try {
    fd = fs.openSync(tmp, 'w');
    for await (const chunk of res.body) {
      size += chunk.length;
      if (size > entry.size) break; // no point storing more than the expected size
      for (const { h } of hs) h.update(chunk);
      fs.writeSync(fd, chunk);
    }
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    removeTmp();
    const cause = e.cause?.code || e.name || e.message;
    return { ok: false, kind: 'network', message: `download of ${url} broke off after ${size} bytes (${cause})` };
  }
  fs.closeSync(fd);
  if (size > entry.size) {
    await res.body.cancel().catch(() => {});
    size = `more than ${entry.size}`;
  }
  const digests = Object.fromEntries(hs.map(({ algo, h }) => [algo, h.digest('hex')]));
  const bad = mismatch(entry, size, digests);
  if (bad) {
    removeTmp();
    return { ok: false, kind: 'verify', message: `${entry.name} from ${url} does not match the manifest: ${bad}` };
  }
  fs.renameSync(tmp, dest);
  currentTmp = null;
  return { ok: true };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { files, mirrors } = loadManifest(opts);
  const relPath = path.relative(process.cwd(), opts.out);
  const rel = relPath === '' ? '.' : relPath.startsWith('..') ? opts.out : relPath;
  fs.mkdirSync(opts.out, { recursive: true });

  let fetched = 0;
  for (const entry of files) {
    const dest = path.join(opts.out, entry.name);
    if (fs.existsSync(dest)) {
      const { size, digests } = hashFile(dest, entry);
      const bad = mismatch(entry, size, digests);
      if (!bad) {
        console.log(`fetch-data: ${entry.name}: already present and verified; skipping`);
        continue;
      }
      console.log(`fetch-data: ${entry.name}: present but does not match (${bad}); downloading again`);
    }
    const failures = [];
    let done = false;
    for (const mirror of mirrors) {
      const url = new URL(entry.name, mirror).href;
      const r = await download(url, entry, dest, opts.timeoutS);
      if (r.ok) {
        console.log(`fetch-data: ${entry.name}: downloaded ${entry.size} bytes from ${url}, checksum ok`);
        fetched++;
        done = true;
        break;
      }
      failures.push(r);
      if (mirrors.length > 1) console.log(`fetch-data: ${entry.name}: ${r.message}; trying the next mirror`);
    }
    if (done) continue;
    const names = files.map((f) => f.name).join(', ');
    const byHand = `download ${names} by hand from ${mirrors[0]}${mirrors.length > 1 ? ` (or another of ${mirrors.slice(1).join(' ')})` : ''} into ${rel}/ and rerun this to verify them`;
    const debian = opts.dataset === 'fashion-mnist' && !opts.manifest
      ? '; Debian\'s dataset-fashion-mnist package has the same images offline (npm run prepare-data links it into data/fashion-mnist/)'
      : '';
    if (failures.every((f) => f.kind === 'network')) {
      die(`network unreachable: no mirror answered for ${entry.name} (${failures.map((f) => f.message).join('; ')}); check the connection, or ${byHand}${debian}`, 2);
    }
    const last = failures.filter((f) => f.kind !== 'network').at(-1);
    if (last.kind === 'verify') {
      die(`checksum mismatch: ${last.message}; nothing was kept; retry later, try another mirror with --base-url, or ${byHand}`);
    }
    die(`${entry.name}: ${last.message}; the file is not on that server; try another mirror with --base-url, or ${byHand}`);
  }
  const count = files.length === 1 ? '1 file' : `all ${files.length} files`;
  console.log(`fetch-data: ${rel}: ${count} verified (${fetched} downloaded, ${files.length - fetched} already present)`);
  const note = opts.manifest ? null : MANIFESTS[opts.dataset]?.note;
  if (note) console.log(`fetch-data: ${note}`);
}

main().catch((e) => {
  removeTmp();
  die(e.stack || String(e));
});
