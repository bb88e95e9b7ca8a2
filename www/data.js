// The worker's data files: the built-in IDX sets (MNIST, Fashion-MNIST) downloaded with progress,
// checked against their manifest.json (SHA-256 and size of each file) and kept in Cache Storage
// so the page works offline; and the user's own files (IDX or CIFAR-10), read with progress and
// hashed, the IDX files sorted into their four roles. Parsing stays in the wasm (Dataset.fromIdx,
// fromCifar*). Imported by worker.js only; see docs/web.md ("Data").

/** The four files of an IDX data set, in the order Dataset.fromIdx takes them. */
export const IDX_ROLES = Object.freeze([
  { split: 'train', kind: 'images', what: 'training images', file: 'train-images-idx3-ubyte' },
  { split: 'train', kind: 'labels', what: 'training labels', file: 'train-labels-idx1-ubyte' },
  { split: 'test', kind: 'images', what: 'test images', file: 't10k-images-idx3-ubyte' },
  { split: 'test', kind: 'labels', what: 'test labels', file: 't10k-labels-idx1-ubyte' },
]);
export const BUILT_IN_FILES = IDX_ROLES.map((r) => `${r.file}.gz`);
/** Cache Storage name of the built-in data sets (bump when what is stored changes shape; the
 *  content itself is checked against the manifest on every load). */
export const DATA_CACHE = 'samlab-data-v1';

const IDX_FILES_HINT = 'Choose four IDX files together (raw or .gz): training images and labels, test images and labels, named like MNIST\'s train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz (or test-…), t10k-labels-idx1-ubyte.gz.';
const PROGRESS_EVERY_MS = 100;

/** A problem with the data a person can act on; worker.js reports it beside `field`. */
export class DataError extends Error {
  constructor(message, { field, hint } = {}) {
    super(message);
    this.field = field;
    this.hint = hint;
  }
}

/**
 * A progress reporter: `report(loaded, total)` posts {type:'progress', stage, loaded, total}
 * at most every 100 ms, and always the first and the final (loaded === total) one. total null:
 * indeterminate.
 */
export function progress(post, stage, label) {
  let last = 0;
  return (loaded, total) => {
    const now = performance.now();
    const final = total !== null && loaded >= total;
    if (!final && last !== 0 && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    post({ type: 'progress', stage, label, loaded, total });
  };
}

/** The SHA-256 of `bytes` in hex; null where the browser has no crypto.subtle (an insecure origin). */
export async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) return null;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Reads a stream into one array, calling onBytes(n) per chunk; `size` (if known) sizes the buffer. */
async function readStream(stream, size, onBytes) {
  const reader = stream.getReader();
  let buffer = new Uint8Array(size > 0 ? size : 1 << 16);
  let used = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (used + value.length > buffer.length) {
      const grown = new Uint8Array(Math.max(buffer.length * 2, used + value.length));
      grown.set(buffer.subarray(0, used));
      buffer = grown;
    }
    buffer.set(value, used);
    used += value.length;
    onBytes(value.length);
  }
  return used === buffer.length ? buffer : buffer.slice(0, used);
}

const firstLine = (text) => String(text ?? '').split('\n')[0].trim().slice(0, 300);

async function openCache() {
  try {
    return globalThis.caches ? await caches.open(DATA_CACHE) : null;
  } catch {
    return null; // storage switched off: no offline copy, everything else works
  }
}

async function cachedBytes(cache, url) {
  try {
    const hit = cache && (await cache.match(url));
    return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
  } catch {
    return null;
  }
}

/**
 * A built-in data set: `base` is the URL of data/<name>/. Returns {files: Uint8Array[4] (in
 * IDX_ROLES order), summary: {source, checked, files: [{name, bytes, sha256, verified}]}}.
 *
 * The manifest comes from the server (never from the HTTP cache), or from Cache Storage when the
 * server cannot be reached. Each file comes from Cache Storage when its stored copy matches the
 * manifest's SHA-256, else from the server; a download that does not match is refused. Once all
 * four are verified, the downloaded ones and the manifest are stored for next time.
 */
export async function loadBuiltIn(label, base, post) {
  const manifestUrl = new URL('manifest.json', base).href;
  const cache = await openCache();
  let manifestBytes = null;
  let offline = null; // why the server could not be reached
  try {
    const response = await fetch(manifestUrl, { cache: 'no-cache' });
    if (!response.ok) {
      throw new DataError(`${label} is not part of this build (${relative(manifestUrl)}: HTTP ${response.status}).`, { field: 'dataset', hint: 'Choose another data set, or rebuild the page with the data present (npm run build).' });
    }
    manifestBytes = new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    if (err instanceof DataError) throw err;
    offline = firstLine(err?.message ?? err);
    manifestBytes = await cachedBytes(cache, manifestUrl);
    if (!manifestBytes) {
      throw new DataError(`${label} could not be downloaded (${offline}), and this browser has no copy of it yet.`, { field: 'dataset', hint: 'Check the connection to the server and press Reset.' });
    }
  }
  const manifest = parseManifest(manifestBytes, label, manifestUrl);
  const checked = globalThis.crypto?.subtle !== undefined;

  const fromCache = [];
  for (const name of BUILT_IN_FILES) {
    const want = manifest.files[name];
    const url = new URL(name, base).href;
    const stored = await cachedBytes(cache, url);
    // Without crypto.subtle there is no cache either (both need a secure context).
    if (stored && stored.length === want.bytes && (await sha256Hex(stored)) === want.sha256) {
      fromCache.push(stored);
    } else {
      if (stored) await cache.delete(url).catch(() => {}); // damaged or from another build
      if (offline !== null) {
        throw new DataError(`${label}: the copy of ${name} in this browser's cache is ${stored ? 'damaged (its SHA-256 does not match the manifest)' : 'missing'}, and the server cannot be reached (${offline}).`, { field: 'dataset', hint: 'Reconnect to the server and press Reset: the file is downloaded again.' });
      }
      fromCache.push(null);
    }
  }

  const toDownload = BUILT_IN_FILES.filter((_, i) => fromCache[i] === null);
  const total = toDownload.reduce((sum, name) => sum + manifest.files[name].bytes, 0);
  let loaded = 0;
  const report = progress(post, toDownload.length ? 'download' : 'cache', label);
  report(0, total);
  const files = await Promise.all(BUILT_IN_FILES.map(async (name, i) => {
    if (fromCache[i]) return fromCache[i];
    const url = new URL(name, base).href;
    let response;
    try {
      response = await fetch(url, { cache: 'no-cache' });
    } catch (err) {
      throw new DataError(`${label} could not be downloaded (${firstLine(err?.message ?? err)}).`, { field: 'dataset', hint: 'Check the connection to the server and press Reset.' });
    }
    if (!response.ok) {
      throw new DataError(`${label} is not part of this build (${relative(url)}: HTTP ${response.status}).`, { field: 'dataset', hint: 'Choose another data set, or rebuild the page with the data present (npm run build).' });
    }
    const bytes = response.body
      ? await readStream(response.body, manifest.files[name].bytes, (n) => report((loaded += n), total))
      : new Uint8Array(await response.arrayBuffer());
    return bytes;
  }));
  report(total, total);

  const summary = { source: toDownload.length === 0 ? 'cache' : toDownload.length === 4 ? 'network' : 'network and cache', checked, files: [] };
  for (const [i, name] of BUILT_IN_FILES.entries()) {
    const want = manifest.files[name];
    const sha256 = await sha256Hex(files[i]);
    if (files[i].length !== want.bytes || (checked && sha256 !== want.sha256)) {
      const got = files[i].length !== want.bytes ? `${files[i].length.toLocaleString('en')} bytes, expected ${want.bytes.toLocaleString('en')}` : `SHA-256 ${sha256.slice(0, 16)}…, expected ${want.sha256.slice(0, 16)}…`;
      throw new DataError(`${label}: ${relative(new URL(name, base).href)} does not match its manifest (${got}); it was not used.`, { field: 'dataset', hint: 'The file was damaged on the way or on the server: rebuild the page (npm run build) and press Reset.' });
    }
    summary.files.push({ name, bytes: want.bytes, sha256, verified: checked });
  }

  if (cache && toDownload.length > 0) {
    try {
      for (const [i, name] of BUILT_IN_FILES.entries()) {
        if (fromCache[i]) continue;
        await cache.put(new URL(name, base).href, new Response(files[i], { headers: { 'Content-Type': 'application/gzip' } }));
      }
      await cache.put(manifestUrl, new Response(manifestBytes, { headers: { 'Content-Type': 'application/json' } }));
    } catch (err) {
      post({ type: 'log', level: 'warn', text: `${label} could not be stored for offline use: ${firstLine(err?.message ?? err)}` });
    }
  }
  return { files, summary };
}

function relative(url) {
  const path = new URL(url).pathname;
  const at = path.lastIndexOf('/data/');
  return at >= 0 ? path.slice(at + 1) : path;
}

function parseManifest(bytes, label, url) {
  let manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new DataError(`${label}: ${relative(url)} is not valid JSON (${firstLine(err.message)}).`, { field: 'dataset', hint: 'Rebuild the page (npm run build).' });
  }
  for (const name of BUILT_IN_FILES) {
    const f = manifest?.files?.[name];
    if (!(Number.isInteger(f?.bytes) && /^[0-9a-f]{64}$/.test(f?.sha256 ?? ''))) {
      throw new DataError(`${label}: ${relative(url)} has no size and SHA-256 for ${name}.`, { field: 'dataset', hint: 'Rebuild the page (npm run build).' });
    }
  }
  return manifest;
}

// ---------------------------------------------------------------------------------------------
// The user's files

/**
 * Reads the user's files ({name, bytes: File/Blob/ArrayBuffer/typed array}) with progress
 * (stage 'read'), then hashes them. Returns [{name, bytes: Uint8Array, sha256}].
 */
export async function readUserFiles(files, { field, hint, label }, post) {
  const total = files.reduce((sum, f) => sum + (f.bytes instanceof Blob ? f.bytes.size : 0), 0);
  let loaded = 0;
  const report = progress(post, 'read', label);
  if (total > 0) report(0, total);
  const read = await Promise.all(files.map(async ({ name, bytes }) => {
    if (bytes instanceof Blob) {
      try {
        return { name, bytes: await readStream(bytes.stream(), bytes.size, (n) => report((loaded += n), total)) };
      } catch (err) {
        throw new DataError(`${name} could not be read (${firstLine(err?.message ?? err)}).`, { field, hint: 'Choose the file again.' });
      }
    }
    if (ArrayBuffer.isView(bytes)) return { name, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    if (bytes instanceof ArrayBuffer) return { name, bytes: new Uint8Array(bytes) };
    throw new DataError(`${name} came without its bytes.`, { field, hint });
  }));
  if (total > 0) report(total, total);
  const hashing = progress(post, 'verify', label);
  hashing(null, null);
  for (const f of read) f.sha256 = await sha256Hex(f.bytes);
  return read;
}

const isGzip = (b) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The first `n` bytes of the file, gunzipped when it is gzip (null when that fails). */
async function head(bytes, n) {
  if (!isGzip(bytes)) return bytes.subarray(0, n);
  if (typeof DecompressionStream === 'undefined') return null;
  try {
    const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(n - got, value.length);
      out.set(value.subarray(0, take), got);
      got += take;
    }
    reader.cancel().catch(() => {});
    return out.subarray(0, got);
  } catch {
    return null;
  }
}

/** An IDX header: {kind: 'images' | 'labels', count, rows?, cols?}, or null if it is none. */
export async function idxHeader(bytes) {
  const h = await head(bytes, 16);
  if (!h || h.length < 8) return null;
  const view = new DataView(h.buffer, h.byteOffset, h.length);
  const magic = view.getUint32(0);
  if (magic === 0x0801) return { kind: 'labels', count: view.getUint32(4) };
  if (magic === 0x0803 && h.length >= 16) {
    return { kind: 'images', count: view.getUint32(4), rows: view.getUint32(8), cols: view.getUint32(12) };
  }
  return null;
}

/** train/test and images/labels as a file's name says them (null where it does not, or both). */
function nameSays(name) {
  const n = name.toLowerCase().replace(/\.gz$/, '');
  const test = /t10k|test/.test(n);
  const train = /train/.test(n);
  const images = /images|idx3/.test(n);
  const labels = /labels|idx1/.test(n);
  return { split: test === train ? null : test ? 'test' : 'train', kind: images === labels ? null : images ? 'images' : 'labels' };
}

const listNames = (files) => files.map((f) => f.name).join(', ');

/**
 * Sorts the user's IDX files ([{name, bytes, sha256}]) into IDX_ROLES order. What each is comes
 * from its IDX header (images or labels: the magic number); training or test from its name
 * (train… / t10k… or test…), else from the other files: the partner of the same split has the
 * same count, and the training split is the larger one. Throws a DataError (field idxFile) that
 * says what is missing, extra or cannot be told apart.
 */
export async function assignIdxRoles(files) {
  const fail = (message) => new DataError(message, { field: 'idxFile', hint: IDX_FILES_HINT });
  if (files.length === 0) throw fail('No IDX files were given.');
  const described = [];
  for (const f of files) {
    const header = await idxHeader(f.bytes);
    if (!header) {
      throw fail(`${f.name} is not an IDX file (it does not start with an IDX images or labels header${isGzip(f.bytes) ? ', once unzipped' : ''}).`);
    }
    described.push({ ...f, header, named: nameSays(f.name).split });
  }
  const byKind = { images: described.filter((f) => f.header.kind === 'images'), labels: described.filter((f) => f.header.kind === 'labels') };
  const problems = [];
  for (const kind of ['images', 'labels']) {
    const got = byKind[kind];
    if (got.length > 2) problems.push(`${got.length} ${kind} files (${listNames(got)}), one too many for training + test`);
    if (got.length < 2) {
      const missing = IDX_ROLES.filter((r) => r.kind === kind && !got.some((f) => f.named === r.split));
      const which = got.length === 0 ? missing : missing.length === 2 ? [{ what: `the training or test ${kind}` }] : missing;
      problems.push(`missing ${which.map((r) => r.what).join(' and ')}`);
    }
  }
  if (problems.length) {
    throw fail(`Need the four IDX files, got ${files.length} (${listNames(files)}): ${problems.join('; ')}.`);
  }
  const split = {}; // kind → {train, test}
  const byName = (pair) => {
    const [a, b] = pair;
    if (a.named && b.named && a.named !== b.named) return a.named === 'train' ? { train: a, test: b } : { train: b, test: a };
    if (a.named && !b.named) return a.named === 'train' ? { train: a, test: b } : { train: b, test: a };
    if (b.named && !a.named) return b.named === 'train' ? { train: b, test: a } : { train: a, test: b };
    return null;
  };
  for (const kind of ['images', 'labels']) split[kind] = byName(byKind[kind]);
  for (const [kind, other] of [['images', 'labels'], ['labels', 'images']]) {
    if (split[kind]) continue;
    const [a, b] = byKind[kind];
    const partner = split[other];
    if (partner && partner.train.header.count !== partner.test.header.count) {
      // The partner of each split has its count.
      if (a.header.count === partner.train.header.count && b.header.count === partner.test.header.count) split[kind] = { train: a, test: b };
      else if (b.header.count === partner.train.header.count && a.header.count === partner.test.header.count) split[kind] = { train: b, test: a };
    }
    if (!split[kind] && a.header.count !== b.header.count) {
      split[kind] = a.header.count > b.header.count ? { train: a, test: b } : { train: b, test: a };
    }
    if (!split[kind]) {
      throw fail(`${a.name} and ${b.name} are both ${kind} files of ${a.header.count.toLocaleString('en')} items, and their names do not say which is for training: name them train-… and t10k-… (or test-…).`);
    }
  }
  return [split.images.train, split.labels.train, split.images.test, split.labels.test];
}
