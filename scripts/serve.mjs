#!/usr/bin/env node
// A small static file server for the built page (Node built-ins only).
//
//   node scripts/serve.mjs [DIR=dist] [--port N] [--host 127.0.0.1]
//
// --port defaults to $PORT or 8080; 0 picks any free port. Only loopback hosts are accepted.
// Prints exactly one line when listening, which tests parse to learn the port:
//   samlab: serving DIR at http://127.0.0.1:PORT/
//
// .gz files are served as opaque application/gzip bytes without Content-Encoding (the page
// decompresses the IDX files itself). Directories serve their index.html, missing files 404,
// paths escaping DIR 403. Every response carries Cache-Control: no-cache.
//
// Importable too: `startServer(dir, {port, host})` resolves to `{url, close()}`.

import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.gz': 'application/gzip',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8', // .d.ts
  '.safetensors': 'application/octet-stream',
};
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

function mimeType(file) {
  return MIME[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

function send(res, status, text, head = false) {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache',
  });
  res.end(head ? undefined : text);
}

/** True when `child` is `root` or lies inside it (both absolute, normalised). */
function inside(root, child) {
  const rel = path.relative(root, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function handle(root, req, res) {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, 'method not allowed\n', head);
  }
  // Look at the raw path before URL parsing normalises `..` away, including %2e%2e and
  // backslash forms.
  const rawPath = (req.url ?? '/').split(/[?#]/, 1)[0];
  let decoded;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return send(res, 400, 'bad request\n', head);
  }
  if (decoded.includes('\0')) return send(res, 400, 'bad request\n', head);
  if (decoded.split(/[/\\]+/).includes('..')) return send(res, 403, 'forbidden\n', head);

  let file = path.resolve(root, '.' + path.posix.normalize('/' + decoded.replace(/\\/g, '/')));
  if (!inside(root, file)) return send(res, 403, 'forbidden\n', head);

  let info;
  try {
    info = await stat(file);
    if (info.isDirectory()) {
      if (!rawPath.endsWith('/')) {
        // Redirect so relative URLs in index.html resolve against the directory.
        const query = (req.url ?? '').slice(rawPath.length);
        res.writeHead(301, { Location: rawPath + '/' + query, 'Cache-Control': 'no-cache' });
        return res.end();
      }
      file = path.join(file, 'index.html');
      info = await stat(file);
    }
    if (!info.isFile()) return send(res, 404, 'not found\n', head);
    // Symlinks must not lead out of the served folder either.
    if (!inside(root, await realpath(file))) return send(res, 403, 'forbidden\n', head);
  } catch {
    return send(res, 404, 'not found\n', head);
  }

  res.writeHead(200, {
    'Content-Type': mimeType(file),
    'Content-Length': info.size,
    'Cache-Control': 'no-cache',
    'Last-Modified': info.mtime.toUTCString(),
    'X-Content-Type-Options': 'nosniff',
  });
  if (head) return res.end();
  const stream = createReadStream(file);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/**
 * Serve `dir` on `host:port` (port 0 = any free port). Resolves once listening to
 * `{url, close()}`; `close()` resolves when the server has stopped.
 */
export async function startServer(dir = 'dist', { port = 8080, host = '127.0.0.1' } = {}) {
  if (!LOOPBACK.has(host)) throw new Error(`serve: refusing to bind ${host}; only 127.0.0.1 (loopback) is allowed`);
  const root = await realpath(path.resolve(dir)).catch(() => {
    throw new Error(`serve: ${dir} does not exist; run npm run build first`);
  });
  if (!(await stat(root)).isDirectory()) throw new Error(`serve: ${dir} is not a directory`);

  const server = createServer((req, res) => {
    handle(root, req, res).catch((err) => {
      if (!res.headersSent) send(res, 500, `internal error: ${err.message}\n`);
      else res.destroy();
    });
  });
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const urlHost = addr.family === 'IPv6' || addr.family === 6 ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${urlHost}:${addr.port}/`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

function parseArgs(argv) {
  const opts = { dir: 'dist', port: process.env.PORT ?? 8080, host: '127.0.0.1' };
  let dirSet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--port' || a.startsWith('--port=')) opts.port = value();
    else if (a === '--host' || a.startsWith('--host=')) opts.host = value();
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/serve.mjs [DIR=dist] [--port N (8080; 0 = any free)] [--host 127.0.0.1]');
      process.exit(0);
    } else if (!a.startsWith('-') && !dirSet) {
      opts.dir = a;
      dirSet = true;
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!/^\d+$/.test(String(opts.port)) || Number(opts.port) > 65535) {
    throw new Error(`bad port ${opts.port}: use 0-65535`);
  }
  return opts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { dir, port, host } = parseArgs(process.argv.slice(2));
    const { url, close } = await startServer(dir, { port: Number(port), host });
    console.log(`samlab: serving ${dir} at ${url}`);
    const stop = () => close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (err) {
    console.error(`serve: ${err.message}`);
    process.exit(1);
  }
}
