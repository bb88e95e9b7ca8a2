// Shared set-up for the page tests (and bench/browser.mjs): serve dist/ in-process, launch the
// system Chromium with WebGPU (SwiftShader here), open the page and collect its errors.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const DIST = path.join(ROOT, 'dist');
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Throws a message that says what to run when the build or the browser is missing. */
export function checkPrerequisites() {
  const missing = ['index.html', 'main.js', 'worker.js', 'pkg/samlab.js', 'pkg/samlab_bg.wasm', 'vendor/uPlot.esm.js', 'vendor/d3-contour.min.mjs', 'data/mnist/train-images-idx3-ubyte.gz']
    .filter((f) => !existsSync(path.join(DIST, f)));
  if (missing.length) {
    throw new Error(`dist/ is missing or incomplete (no ${missing.map((f) => `dist/${f}`).join(', ')}): run \`npm run build\` first`);
  }
  // The tests drive dist/, built (and minified) from www/: a stale build would test old code.
  // The build records the sha256 of every www/ file it used in dist/sources.json.
  const sumsFile = path.join(DIST, 'sources.json');
  const built = existsSync(sumsFile) ? JSON.parse(readFileSync(sumsFile, 'utf8')) : {};
  const pageFiles = readdirSync(path.join(ROOT, 'www'), { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
  const stale = pageFiles.filter((f) => {
    const sum = createHash('sha256').update(readFileSync(path.join(ROOT, 'www', f))).digest('hex');
    return built[f] !== sum;
  });
  if (stale.length) {
    throw new Error(`dist/ is older than www/ (${stale.join(', ')} differ): run \`npm run build\` first`);
  }
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run \`npm run setup\` (installs the chromium package), or set CHROMIUM=/path/to/chrome`);
  }
}

/** Serve dist/ on a free port and launch Chromium. Returns {url, browser, close()}. */
export async function startBrowser() {
  checkPrerequisites();
  const { startServer } = await import(pathToFileURL(path.join(ROOT, 'scripts/serve.mjs')).href);
  const { chromium } = await import('playwright-core');
  const server = await startServer(DIST, { port: 0, host: '127.0.0.1' });
  let browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  } catch (err) {
    await server.close();
    throw err;
  }
  return {
    url: server.url,
    browser,
    async close() {
      await browser.close().catch(() => {});
      await server.close();
    },
  };
}

/**
 * A fresh context and page with console errors, page errors and worker errors collected in
 * `errors` (strings). `hash` is the settings hash without '#'.
 */
export async function openPage(env, { hash = '', viewport = { width: 1280, height: 720 }, noWebGpu = false, path: pagePath = 'index.html', beforeGoto } = {}) {
  const context = await env.browser.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  const errors = [];
  const watch = (where) => (msg) => {
    if (msg.type() === 'error') errors.push(`${where} console.error: ${msg.text()}`);
  };
  page.on('console', watch('page'));
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('worker', (worker) => worker.on('console', watch('worker')));
  page.on('crash', () => errors.push('page crashed'));
  if (noWebGpu) {
    await page.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });
    });
  }
  if (beforeGoto) await beforeGoto(page);
  await page.goto(`${env.url}${pagePath}${hash ? `#${hash}` : ''}`);
  return { page, context, errors };
}

/**
 * Wait until window.samlab.state is one of `states` (fails early on 'failed'/'crashed' unless
 * wanted). `page` may also be a Playwright Frame.
 */
export async function waitForState(page, states, timeout = 60_000) {
  const wanted = [].concat(states);
  const handle = await page.waitForFunction(
    (wanted) => {
      const s = window.samlab?.state;
      if (wanted.includes(s)) return s;
      if ((s === 'failed' || s === 'crashed') && !wanted.includes(s)) return `unexpected:${s}`;
      return false;
    },
    wanted,
    { timeout, polling: 100 },
  );
  const state = await handle.jsonValue();
  if (String(state).startsWith('unexpected:')) {
    const detail = await page.evaluate(() => ({ errors: window.samlab.errors, banner: document.getElementById('banner').innerText }));
    throw new Error(`page reached ${state.slice(11)} while waiting for ${wanted.join('|')}: ${JSON.stringify(detail)}`);
  }
  return state;
}

/** Small, quick settings for tests: an MLP 784-64-10 trained with SAM. */
export function smallHash(overrides = {}) {
  const s = { dataset: 'mnist', hidden: '64', optimizer: 'momentum', lr: '0.05', sam: 'sam', rho: '0.05', batchSize: '128', epochs: '1', seed: '0', labelNoise: '0', ...overrides };
  return new URLSearchParams(s).toString().replace(/%2C/gi, ',');
}

/** Fails with every unexpected error; `allowed` are regexps for the errors a test provokes. */
export function assertNoErrors(errors, allowed = []) {
  const unexpected = errors.filter((e) => !allowed.some((re) => re.test(e)));
  if (unexpected.length) throw new Error(`unexpected browser errors:\n  ${unexpected.join('\n  ')}`);
}

/** The current training step the page shows (from the last metrics message). */
export function currentStep(page) {
  return page.evaluate(() => window.samlab.info.step ?? 0);
}

/** Wait until the page has trained at least `n` steps. */
export async function waitForStep(page, n, timeout = 60_000) {
  await page.waitForFunction((n) => (window.samlab.info.step ?? 0) >= n, n, { timeout, polling: 100 });
}

/** `files` ([name, bytes]) as Playwright's setInputFiles takes them. */
export const filePayload = (files) => files.map(([name, bytes]) => ({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) }));

/** Drops `files` ([name, bytes]) on the page as a user would. */
export async function dropFiles(page, files) {
  await page.evaluate((files) => {
    const transfer = new DataTransfer();
    for (const [name, bytes] of files) transfer.items.add(new File([new Uint8Array(bytes)], name));
    for (const type of ['dragover', 'drop']) {
      document.body.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  }, files.map(([name, bytes]) => [name, [...bytes]]));
}
