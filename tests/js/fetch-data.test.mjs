// Tests scripts/fetch-data.mjs against a local HTTP server on 127.0.0.1 only.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = path.join(REPO, 'scripts', 'fetch-data.mjs');

function idxImages(count, rows, cols) {
  const buf = Buffer.alloc(16 + count * rows * cols);
  buf.writeUInt32BE(0x803, 0);
  buf.writeUInt32BE(count, 4);
  buf.writeUInt32BE(rows, 8);
  buf.writeUInt32BE(cols, 12);
  for (let i = 16; i < buf.length; i++) buf[i] = (i * 31) & 0xff;
  return buf;
}

function idxLabels(count) {
  const buf = Buffer.alloc(8 + count);
  buf.writeUInt32BE(0x801, 0);
  buf.writeUInt32BE(count, 4);
  for (let i = 0; i < count; i++) buf[8 + i] = i % 10;
  return buf;
}

const FILES = {
  'train-images-idx3-ubyte.gz': zlib.gzipSync(idxImages(20, 28, 28)),
  'train-labels-idx1-ubyte.gz': zlib.gzipSync(idxLabels(20)),
  't10k-images-idx3-ubyte.gz': zlib.gzipSync(idxImages(5, 28, 28)),
  't10k-labels-idx1-ubyte.gz': zlib.gzipSync(idxLabels(5)),
};
const hex = (algo, buf) => createHash(algo).update(buf).digest('hex');

/** Runs fetch-data.mjs asynchronously (the server lives in this process). */
function run(args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('fetch-data.mjs', () => {
  let server;
  let base;
  let tmp;
  let manifestPath;
  let deadPort;
  const requests = [];

  before(async () => {
    server = http.createServer((req, res) => {
      requests.push(req.url);
      const [, mode, name] = req.url.split('/');
      const body = FILES[name];
      if (!body || mode === 'missing') {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
        return;
      }
      let out = body;
      if (mode === 'corrupt') {
        out = Buffer.from(body);
        out[out.length >> 1] ^= 0xff; // same size, different bytes
      } else if (mode === 'long') {
        out = Buffer.concat([body, Buffer.alloc(1000)]);
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.length });
      res.end(out);
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}`;

    // A port nothing listens on: bind one, then close it.
    const probe = http.createServer();
    await new Promise((r) => probe.listen(0, '127.0.0.1', r));
    deadPort = probe.address().port;
    await new Promise((r) => probe.close(r));

    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'samlab-fetch-'));
    manifestPath = path.join(tmp, 'manifest.json');
    const files = Object.entries(FILES).map(([name, buf]) => ({
      name,
      size: buf.length,
      md5: hex('md5', buf),
      sha256: hex('sha256', buf),
    }));
    fs.writeFileSync(manifestPath, JSON.stringify({ mirrors: [`${base}/good/`], files }));
  });

  after(async () => {
    await new Promise((r) => server.close(r));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const listing = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);

  test('downloads and verifies every file, then skips them on a second run', async () => {
    const out = path.join(tmp, 'ok');
    const first = await run(['--manifest', manifestPath, '--out', out]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /all 4 files verified \(4 downloaded, 0 already present\)/);
    assert.deepEqual(listing(out), Object.keys(FILES).sort());
    for (const [name, buf] of Object.entries(FILES)) {
      assert.ok(fs.readFileSync(path.join(out, name)).equals(buf), name);
    }

    const before = requests.length;
    const second = await run(['--manifest', manifestPath, '--out', out]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal((second.stdout.match(/already present and verified; skipping/g) || []).length, 4);
    assert.match(second.stdout, /0 downloaded, 4 already present/);
    assert.equal(requests.length, before, 'second run must not download anything');
  });

  test('a file that exists but is wrong is downloaded again', async () => {
    const out = path.join(tmp, 'stale');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 't10k-labels-idx1-ubyte.gz'), 'stale');
    const r = await run(['--manifest', manifestPath, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /t10k-labels-idx1-ubyte.gz: present but does not match/);
    assert.ok(fs.readFileSync(path.join(out, 't10k-labels-idx1-ubyte.gz')).equals(FILES['t10k-labels-idx1-ubyte.gz']));
  });

  test('corrupted download: non-zero exit, clear message, nothing left behind', async () => {
    const out = path.join(tmp, 'corrupt');
    const r = await run(['--manifest', manifestPath, '--out', out, '--base-url', `${base}/corrupt/`]);
    assert.equal(r.code, 1);
    const line = r.stderr.trim();
    assert.equal(line.split('\n').length, 1, line);
    assert.match(line, /checksum mismatch: train-images-idx3-ubyte\.gz .*expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}/);
    assert.match(line, /--base-url/);
    assert.deepEqual(listing(out), [], 'neither the final file nor a temp file may remain');
  });

  test('oversized download is cut off and rejected', async () => {
    const out = path.join(tmp, 'long');
    const r = await run(['--manifest', manifestPath, '--out', out, '--base-url', `${base}/long/`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /expected \d+ bytes, got more than \d+/);
    assert.deepEqual(listing(out), []);
  });

  test('404: non-zero exit naming the file and the status', async () => {
    const out = path.join(tmp, 'missing');
    const r = await run(['--manifest', manifestPath, '--out', out, '--base-url', `${base}/missing/`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /train-images-idx3-ubyte\.gz: HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/missing\/train-images-idx3-ubyte\.gz/);
    assert.match(r.stderr, /by hand/);
    assert.deepEqual(listing(out), []);
  });

  test('unreachable server: says the network is unreachable and how to get the files', async () => {
    const out = path.join(tmp, 'dead');
    const r = await run(['--manifest', manifestPath, '--out', out, '--base-url', `http://127.0.0.1:${deadPort}/`]);
    assert.equal(r.code, 2);
    const line = r.stderr.trim();
    assert.equal(line.split('\n').length, 1, line);
    assert.match(line, /network unreachable/);
    assert.match(line, /ECONNREFUSED/);
    assert.match(line, /by hand from http:\/\/127\.0\.0\.1:\d+\/ into /);
    assert.ok(line.includes(out), line);
    assert.deepEqual(listing(out), []);
  });

  test('falls back to the next mirror', async () => {
    const out = path.join(tmp, 'fallback');
    const m = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));
    m.mirrors = [`http://127.0.0.1:${deadPort}/`, `${base}/missing/`, `${base}/good/`];
    const mp = path.join(tmp, 'fallback.json');
    fs.writeFileSync(mp, JSON.stringify(m));
    const r = await run(['--manifest', mp, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /trying the next mirror/);
    assert.deepEqual(listing(out), Object.keys(FILES).sort());
  });

  test('built-in manifests list the official sizes and MD5s', async () => {
    const src = fs.readFileSync(SCRIPT, 'utf8');
    for (const [size, md5] of [
      [9912422, 'f68b3c2dcbeaaa9fbdd348bbdeb94873'],
      [28881, 'd53e105ee54ea40749a09fcbcd1e9432'],
      [1648877, '9fb629c4189551a2d022fa330f9573f3'],
      [4542, 'ec29112dd5afa0611ce80d1b7f02629c'],
    ]) {
      assert.match(src, new RegExp(`size: ${size}, md5: '${md5}'`));
    }
    assert.match(src, /size: 170052171, md5: 'c32a1d4ab5d03f1284b67883e8d87530'/, 'cifar-10-binary.tar.gz');
    assert.match(src, /mirrors: \['https:\/\/www\.cs\.toronto\.edu\/~kriz\/'\]/);
    const r = await run(['--dataset', 'nope']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown dataset nope/);
    assert.match(r.stderr, /mnist, fashion-mnist, cifar10/);
  });

  test('cifar10: one archive into data/cifar-10/ by default, from the official site', async () => {
    const help = await run(['--help']);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--dataset mnist\|fashion-mnist\|cifar10/);
    assert.match(help.stdout, /cifar10 data\/cifar-10\//);

    const out = path.join(tmp, 'cifar');
    const r = await run(['--dataset', 'cifar10', '--out', out, '--base-url', `http://127.0.0.1:${deadPort}/`]);
    assert.equal(r.code, 2);
    const line = r.stderr.trim();
    assert.equal(line.split('\n').length, 1, line);
    assert.match(line, /no mirror answered for cifar-10-binary\.tar\.gz/);
    assert.match(line, /download cifar-10-binary\.tar\.gz by hand from http:\/\/127\.0\.0\.1:\d+\/ into /);
    assert.deepEqual(listing(out), []);
  });

  test('cifar10: a present archive is verified against the official size and MD5', async () => {
    const out = path.join(tmp, 'cifar-stale');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'cifar-10-binary.tar.gz'), 'not the archive');
    const r = await run(['--dataset', 'cifar10', '--out', out, '--base-url', `${base}/missing/`]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /cifar-10-binary\.tar\.gz: present but does not match \(expected 170052171 bytes, got 15\)/);
    assert.match(r.stderr, /cifar-10-binary\.tar\.gz: HTTP 404 Not Found/);
  });
});
