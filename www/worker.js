// The training worker: owns the wasm module, the GPU device, the data and the Trainer, so the
// page never freezes. Full description in docs/web.md; the protocol in short:
//
// page → worker (every command may carry an `id`; the worker answers {type:'done', id, command, ok}
// once the command has been handled, which is what the page's watchdog waits for)
//   {type:'create', dataset, config:{…Trainer config…}, options?:{evalEvery, trainPerClass?, testShift?, domains?}}
//                                     load the data and build a fresh Trainer. dataset: 'mnist' or
//                                     'fashion-mnist' (data.js: fetched from data/ or Cache Storage,
//                                     checked against data/<name>/manifest.json, kept per name), or
//                                     {kind:'cifar10', files:[{name, bytes}], perClass?, seed?} with
//                                     bytes a File/Blob or an ArrayBuffer/Uint8Array (transfer it);
//                                     the parsed subset of the last files (as Files) is kept; or
//                                     {kind:'idx', files:[{name, bytes}]}: your own four IDX files.
//                                     options.trainPerClass: a stratified sample of the training
//                                     split (not CIFAR-10: its perClass); options.testShift: every
//                                     evaluation sees shifted test images ('rotate:30', …);
//                                     options.domains: gradual self-training through rotated domains
//                                     ([15, 30, 45, 60]), tested at the last angle (→ 'domain' messages)
//   {type:'start'}                    train until the end or a pause (also resumes); ignored while running
//   {type:'pause'}                    stop after the current chunk; answered once the loop has stopped
//   {type:'step', n}                  train n steps (while not running), then stay paused
//   {type:'set', lr?, rho?}           change the learning rate and/or ρ of the live trainer
//   {type:'save'}                     → {type:'saved', bytes, step}
//   {type:'load', bytes}              load safetensors weights, then evaluate (→ 'loaded', 'eval')
//   {type:'evaluate'}                 → {type:'eval', …}
//   {type:'track', every, request?}   measure λ_max and tr(H) every `every` steps while training (0: off),
//                                     between chunks; request: trainer.sharpness keys (TRACK_REQUEST)
//   {type:'sharpness', request?}      measure now → {type:'sharpness', reason:'measure', …}
//   {type:'landscape', request?, against?}   → {type:'landscape', …}; against: safetensors bytes
//                                     (ArrayBuffer/Uint8Array) for kind 'interpolation'
//   {type:'inspect', from?, count?, mistakesOnly?, units?, follow?}   what the current weights predict
//                                     → {type:'inspection', …}: the test split's predictions, `count`
//                                     (default 48, at most 200) of its images from `from` (of the
//                                     mistakes only, with mistakesOnly), the first `units` (64) units of
//                                     the first layer's weights. follow: true answers again after every
//                                     evaluation (same request) until {type:'inspect', stop: true}
//   {type:'__crash'}, {type:'__hang'} test hooks: an uncaught error; stop answering altogether
//
// worker → page
//   {type:'state', state:'loading'|'ready'|'running'|'paused'|'done'|'failed', detail?, step, epoch,
//    totalSteps, stepsPerEpoch, passesPerStep, adapter, dataset, trainCount, testCount, evalEvery}
//   {type:'metrics', step, epoch, steps, loss, accuracy, gradNorm, sharpness, cosG0G1,
//    nonfiniteSteps, samplesPerSecond, msPerStep, lr, passesPerStep}   (means over the steps since the
//                                     last one; passesPerStep: the run's gradient evaluations so far / step)
//   {type:'eval', step, epoch, loss, accuracy, samples, passesPerStep, swa?}   swa (only with config.swaStart):
//                                     {loss, accuracy, samples} of the SWA average, null before it starts
//   {type:'saved', bytes, step}       {type:'loaded', step}
//   {type:'snapshot', bytes, step}    (after every evaluation: the weights, kept in the page's
//                                      memory for Restart after a crash or a lost device)
//   {type:'sharpness', reason:'track'|'measure', step, ms, loss, accuracy, rows, hvpStep, eigenvalues,
//    trace, worstCase, adaptiveWorstCase, gradients, request}   step: the training step measured at
//   {type:'landscape', step, ms, kind, axis, loss, accuracy, rows, request}   loss/accuracy: rows of values
//   {type:'probing', what:'sharpness'|'landscape', seconds}   every 2 s while a measurement runs
//   {type:'inspection', step, dataset, classes, shape:[c,h,w], testCount, predicted: Uint8Array,
//    confidence: Float32Array, labels: Uint8Array (all three per test image, in file order),
//    mistakesOnly, from, count, matching (images that pass the filter), indices: Uint32Array (the
//    images shown), images: Uint8Array (their pixels, c·h·w bytes each, channel planes),
//    firstLayer: {name, shape, units, values: Float32Array}, request}
//   {type:'error', message, hint, field?, fatal?, detail?, tracking?, id?}   fatal: the engine is dead, restart
//                                     the worker. field 'sharpness'/'landscape': a failed measurement
//                                     (tracking: false when it turned tracking off). field 'inspect':
//                                     an inspection failed (following stops)
//   {type:'log', level, text}         console.error output of the engine (forwarded; the page's console
//                                     does not show a worker's console)
//   {type:'progress', stage, label, loaded, total}   while the data loads (at most every 100 ms, and
//                                     the final one): stage 'download' | 'cache' | 'read' (bytes) |
//                                     'verify' | 'parse' (total null: indeterminate)
//   {type:'data', dataset, label, trainCount, testCount, shape, source, checked, files}   the data set,
//                                     once parsed: source 'network' | 'cache' | 'network and cache' |
//                                     'disk'; files [{name, bytes, sha256, verified}]
//   {type:'domain', stage, domains, angle, pseudoLabelAccuracy, step}   gradual self-training moved on
//                                     to its `stage`-th domain (rotated by `angle`), pseudo-labelled
//                                     by the model so far (that share of its labels right)
//   {type:'done', id, command, ok}

import { DataError, assignIdxRoles, loadBuiltIn, progress, readUserFiles } from './data.js';

const DATASET_LABELS = { mnist: 'MNIST', 'fashion-mnist': 'Fashion-MNIST', cifar10: 'CIFAR-10', idx: 'Your IDX files' };
const CIFAR_FILES_HINT = 'Choose cifar-10-binary.tar.gz as downloaded, or data_batch_1.bin … data_batch_5.bin together with test_batch.bin.';

/** Aim for a metrics update about four times a second, whatever the adapter's speed. */
const TARGET_CHUNK_MS = 250;
const MAX_CHUNK_STEPS = 500;

let wasm = null; // the samlab.js module once initialised
let trainer = null;
let info = {}; // what 'state' messages repeat about the current trainer
let state = 'loading';
let crashed = false;
let hung = false; // test hook (__hang)
let loop = null; // the promise of the running training loop
let stopRequested = false;
let chunkSteps = 1; // the first chunk is one step, so the first point appears at once
let evalEvery = 0;
let nextEvalStep = 0;
let lastEvalStep = -1;
let swa = false; // config.swaStart was given: every evaluation also tests the SWA average
/** What a tracked measurement asks for: cheap (≤ 2·10 + 2·4 gradients of 256 test images). */
const TRACK_REQUEST = Object.freeze({ rows: 256, top: 1, maxIterations: 10, traceSamples: 4 });
let tracking = { every: 0, request: TRACK_REQUEST };
let nextTrackStep = null; // null: the first multiple of tracking.every at or after the current step
/** A measurement running longer than this stops sending heartbeats (so the page's watchdog can
 *  tell a hung engine). */
const HEARTBEAT_LIMIT_S = 600;
const dataCache = new Map(); // dataset name → Promise<{files: Uint8Array[4], summary}>
let cifarCache = null; // {key, data, summary}: the wasm Dataset of the last CIFAR-10 files and subset
let idxFilesCache = null; // {key, files, summary}: the bytes of the user's last IDX files (Files)
let testImages = null; // {pixels: Uint8Array, shape}: the current trainer's test split, for inspections
/** Gradual self-training (options.domains): {base: the whole data set (wasm Dataset), config,
 *  angles, target (the last angle), stage (0: the source; k: the k-th domain), offset (steps of
 *  the stages before), epochs, source, perStage, totalSteps, live: {lr?, rho?}}; null otherwise. */
let gradual = null;
/** Labelled upright images the source model trains on, then new images per rotated domain (as
 *  `samlab reproduce gradual-da`). */
const GRADUAL_SOURCE = 2000;
const GRADUAL_PER_DOMAIN = 1500;
let inspecting = null; // the inspect request to answer again after every evaluation (follow: true)

const post = (message, transfer = []) => self.postMessage(message, transfer);
const num = (v) => (typeof v === 'bigint' ? Number(v) : v);
const orNull = (v) => (v === undefined || v === null || Number.isNaN(v) ? null : num(v));

// ---------------------------------------------------------------------------------------------
// Crashes. A Rust panic aborts the wasm instance: console_error_panic_hook prints it with
// console.error, and the promise of the call in flight never settles. The page sees neither our
// console nor a hung promise, so both are turned into a fatal error message here.

const consoleError = console.error.bind(console);
console.error = (...args) => {
  consoleError(...args);
  const text = args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
  if (/panicked at/.test(text)) {
    fatal('The training engine crashed.', firstLine(text.slice(text.indexOf('panicked at'))));
  } else {
    post({ type: 'log', level: 'error', text: firstLine(text) });
  }
};
self.addEventListener('error', (event) => {
  fatal('The training engine stopped with an unexpected error.', firstLine(event.message));
  event.preventDefault();
});
self.addEventListener('unhandledrejection', (event) => {
  const error = classify(event.reason);
  if (error.fatal) fatal(error.message, error.detail, error.hint);
  else post({ type: 'error', ...error });
  event.preventDefault();
});

function firstLine(text) {
  return String(text ?? '').split('\n')[0].trim().slice(0, 300);
}

function fatal(message, detail, hint = 'Press Restart to start a fresh engine.') {
  if (crashed) return;
  crashed = true;
  stopRequested = true;
  post({ type: 'error', message, hint, detail: detail || undefined, fatal: true });
  setState('failed');
}

/** An error a person can act on, tied to the page control that caused it. */
class UserError extends Error {
  constructor(message, { field, hint } = {}) {
    super(message);
    this.field = field;
    this.hint = hint;
  }
}

// Trainer.create names the bad config key in its message; map it to the page's field.
// The SAM hyperparameters come first: their messages may mention SAM or a mode ("F-SAM's default").
const FIELD_PATTERNS = [
  ['labelNoise', /label[_ ]?noise/i],
  ['dropout', /\bdropout\b/i],
  ['augment', /\baugment/i],
  ['m', /m-sharpness needs|\bm must\b/],
  ['fisherSamples', /\bfisherSamples\b|fisher_samples/],
  ['sparsity', /\bsparsity\b/],
  ['dropRate', /\bdropRate\b|drop_rate/],
  ['baseWidth', /\bbaseWidth\b|base_width/],
  ['batchSize', /batch[_ ]?size/i],
  ['samStart', /\bsamStart\b|start_fraction|late-phase/i],
  ['swaStart', /\bswaStart\b|swa_start/i],
  ['rhoSchedule', /rho[_ ]?schedule/i],
  ['rhoMin', /\brho_?min\b|ρ_min/i],
  ['eta', /\beta\b|η/],
  ['alpha', /\balpha\b|α/],
  ['sigma', /\bsigma\b|σ/],
  ['lambda', /\blambda\b|λ/],
  ['k', /\bk must\b/],
  ['n', /\bn must\b/],
  ['gamma', /\bgamma\b|γ/],
  ['beta', /\bbeta\b|β/],
  ['lr', /\blr\b|learning[_ ]rate/i],
  ['rho', /\brho\b|ρ/i],
  ['hidden', /\bhidden\b/i],
  ['epochs', /\bepochs?\b/i],
  ['seed', /\bseed\b/i],
  ['optimizer', /\boptimizer\b|\bmomentum\b/i],
  ['model', /\bmodel\b/i],
  ['sam', /\bsam\b/i],
];

function fieldOf(message) {
  // Not the list of keys or the example that follow some messages ("unknown key …; the keys are …").
  const about = message.replace(/; the keys are .*$| such as .*$/, '');
  for (const [field, pattern] of FIELD_PATTERNS) if (pattern.test(about)) return field;
  return undefined;
}

/** Any thrown value → {message, hint, field?, fatal?, detail?} in plain words. */
function classify(err, field) {
  if (err instanceof UserError || err instanceof DataError) {
    return { message: err.message, hint: err.hint ?? '', field: err.field ?? field };
  }
  const raw = err instanceof Error ? err.message : String(err);
  if (err instanceof WebAssembly.RuntimeError) {
    return { message: 'The training engine crashed.', detail: firstLine(raw), hint: 'Press Restart to start a fresh engine.', fatal: true };
  }
  if (/^no WebGPU/i.test(raw)) {
    return { message: 'No WebGPU adapter is available to the training engine.', detail: firstLine(raw), hint: 'Use a browser with WebGPU enabled (see the notes on the page), then press Restart.', fatal: true };
  }
  if (/device was lost|device lost/i.test(raw)) {
    return { message: 'The GPU device was lost (the browser or the driver reset it).', detail: firstLine(raw), hint: 'Press Restart to start a fresh engine.', fatal: true };
  }
  return { message: firstLine(raw).replace(/^Error:\s*/, ''), hint: '', field };
}

// ---------------------------------------------------------------------------------------------
// One thing at a time on the trainer. Its methods borrow the Rust object, and an async method
// holds that borrow until its promise settles, so every use (getters included) goes through this
// queue: commands then interleave between training chunks, never inside one.

let queue = Promise.resolve();
function exclusive(fn) {
  const result = queue.then(fn);
  queue = result.then(() => {}, () => {});
  return result;
}

const engine = (async () => {
  const module = await import('./pkg/samlab.js');
  await module.default();
  wasm = module;
})();

function setState(next, extra = {}) {
  state = next;
  post({ type: 'state', state, ...info, ...extra });
}

/** The run's step: the trainer's, plus the steps of the domains before it (gradual self-training). */
function currentStep() {
  return num(trainer.stepCount) + (gradual?.offset ?? 0);
}

function snapshot() {
  return {
    step: currentStep(),
    epoch: trainer.epoch + (gradual ? gradual.stage * gradual.epochs : 0),
    totalSteps: gradual ? gradual.totalSteps : num(trainer.totalSteps),
    stepsPerEpoch: num(trainer.stepsPerEpoch),
    passesPerStep: num(trainer.passesPerStep),
    adapter: trainer.adapter,
    lr: trainer.learningRate,
  };
}

// ---------------------------------------------------------------------------------------------
// Commands

/** The files of MNIST or Fashion-MNIST (data.js: downloaded with progress and checked against
 *  the manifest, or from Cache Storage), kept per name while this worker lives. */
async function loadData(name) {
  if (!Object.hasOwn(DATASET_LABELS, name) || name === 'cifar10' || name === 'idx') {
    throw new UserError(`There is no data set called "${name}".`, { field: 'dataset', hint: 'Choose MNIST, Fashion-MNIST, CIFAR-10 or your own IDX files.' });
  }
  if (!dataCache.has(name)) {
    const files = loadBuiltIn(DATASET_LABELS[name], new URL(`./data/${name}/`, self.location.href), post);
    dataCache.set(name, files);
    files.catch(() => dataCache.delete(name));
  }
  return dataCache.get(name);
}

/** What each IDX file (IDX_ROLES order) holds, as the IDX reader names it in its messages. */
const IDX_FILE_ROLES = [['training', 'images'], ['training', 'labels'], ['test', 'images'], ['test', 'labels']];

/** Dataset.fromIdx on the four files (IDX_ROLES order), gunzipped here first (the wasm has no
 *  inflater: see gunzip), with the parse stage shown. */
async function parseIdx(name, label, files, field, hint) {
  progress(post, 'parse', label)(null, null);
  try {
    const plain = await Promise.all(files.map(async (bytes, i) => {
      const [split, kind] = IDX_FILE_ROLES[i];
      try {
        return await gunzip(bytes, kind, wasm.maxIdxBytes());
      } catch (err) {
        throw new Error(`${split} ${kind}: ${err.message}`);
      }
    }));
    return wasm.Dataset.fromIdx(name, ...plain);
  } catch (err) {
    if (err instanceof WebAssembly.RuntimeError) throw err;
    throw new UserError(`${label}: ${firstLine(err.message ?? err)}`, { field, hint });
  }
}

/** A gzip stream the browser could not decompress (its message reads like the native reader's). */
class GzipError extends Error {}

/**
 * `source` (a Blob/File or a Uint8Array) decompressed when it is gzip (magic 1f 8b), else its bytes
 * as they are. The wasm has no inflater (a smaller download; natively the Rust reader uses flate2),
 * so every gzip file is unpacked here by the browser's DecompressionStream; a File is streamed, so
 * its compressed bytes are never held whole. Reading stops once more than `limit` bytes have come
 * out, and the wasm reader, handed those, reports the size as it does for a plain file that large.
 * `kind` names the file in a GzipError ("archive file is not valid gzip (…)").
 */
async function gunzip(source, kind, limit) {
  const blob = source instanceof Blob ? source : new Blob([source]);
  const magic = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) {
    return source instanceof Blob ? new Uint8Array(await blob.arrayBuffer()) : source;
  }
  const reader = blob.stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  const chunks = [];
  let total = 0;
  try {
    while (total <= limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.length;
    }
  } catch (err) {
    // DecompressionStream fails with a TypeError; anything else is the file's own read error.
    if (!(err instanceof TypeError)) throw err;
    throw new GzipError(`${kind} file is not valid gzip (corrupt gzip or cut short: ${firstLine(err.message)}); delete it and re-download or re-create it`);
  }
  if (total > limit) reader.cancel().catch(() => {});
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** The wasm Dataset of MNIST or Fashion-MNIST (fetched from data/); the caller frees it. */
async function idxDataset(name) {
  const { files, summary } = await loadData(name);
  await engine;
  const data = await parseIdx(name, DATASET_LABELS[name], files, 'dataset', 'The files are damaged: rebuild the page (npm run build).');
  return { data, summary };
}

/** Files ({name, bytes: File}) are recognised by name, size and date; anything else is not kept. */
function filesKey(files, ...more) {
  return files.every((f) => f.bytes instanceof File)
    ? JSON.stringify([files.map((f) => [f.name, f.bytes.size, f.bytes.lastModified]), ...more])
    : null;
}

/** The wasm Dataset of the user's own four IDX files (raw or .gz, roles from names and headers);
 *  the caller frees it. The bytes of the last Files are kept, so a new model does not read them again. */
async function userIdxDataset({ files }) {
  const hint = 'Choose the four IDX files again: training images and labels, test images and labels.';
  if (!Array.isArray(files) || files.length === 0) {
    throw new UserError('No IDX files were given: a link cannot carry them.', { field: 'idxFile', hint });
  }
  const key = filesKey(files);
  if (key === null || idxFilesCache?.key !== key) {
    idxFilesCache = null;
    setState('loading', { detail: `Reading ${files.length} file${files.length === 1 ? '' : 's'}` });
    const read = await readUserFiles(files.map((f) => ({ name: String(f.name ?? ''), bytes: f.bytes })), { field: 'idxFile', hint, label: DATASET_LABELS.idx }, post);
    const ordered = await assignIdxRoles(read);
    const summary = { source: 'disk', checked: false, files: ordered.map((f) => ({ name: f.name, bytes: f.bytes.length, sha256: f.sha256, verified: false })) };
    idxFilesCache = { key, files: ordered.map((f) => f.bytes), summary };
  }
  const { files: bytes, summary } = idxFilesCache;
  if (key === null) idxFilesCache = null;
  await engine;
  const data = await parseIdx('idx', DATASET_LABELS.idx, bytes, 'idxFile', hint);
  return { data, summary };
}

/** The CIFAR-10 archive's tar bytes: a .tar.gz is decompressed. */
async function archiveBytes(name, bytes) {
  try {
    return await gunzip(bytes, 'archive', wasm.maxArchiveBytes());
  } catch (err) {
    if (err instanceof GzipError) throw new UserError(`${name}: ${err.message}`, { field: 'cifarFile' });
    throw new UserError(`${name} could not be read (${firstLine(err.message ?? err)}).`, { field: 'cifarFile', hint: 'Choose the file again.' });
  }
}

/**
 * The wasm Dataset of CIFAR-10 from the user's files: the official archive (one file), or the
 * loose .bin batches. The Dataset of the last files (when they are Files, which have a size and a
 * date to recognise them by), subset and seed is kept, so a new model on the same data does not
 * unpack 170 MB again; the caller must not free it.
 */
async function cifarDataset({ files, perClass, seed }) {
  if (!Array.isArray(files) || files.length === 0) {
    throw new UserError('No CIFAR-10 file was given.', { field: 'cifarFile', hint: CIFAR_FILES_HINT });
  }
  const names = files.map((f) => String(f.name ?? ''));
  const key = filesKey(files, perClass ?? null, seed ?? null);
  if (key !== null && cifarCache?.key === key) return cifarCache;
  cifarCache?.data.free();
  cifarCache = null;
  const batches = names.some((name) => /\.bin$/i.test(name));
  if (!batches && files.length > 1) {
    throw new UserError(`${names.join(', ')}: that is ${files.length} files but no .bin batch.`, { field: 'cifarFile', hint: CIFAR_FILES_HINT });
  }
  setState('loading', { detail: `Reading ${files.length === 1 ? names[0] : `${files.length} CIFAR-10 files`}` });
  const read = await readUserFiles(files.map((f, i) => ({ name: names[i], bytes: f.bytes })), { field: 'cifarFile', hint: CIFAR_FILES_HINT, label: DATASET_LABELS.cifar10 }, post);
  const bytes = read.map((f) => f.bytes);
  const summary = { source: 'disk', checked: false, files: read.map((f) => ({ name: f.name, bytes: f.bytes.length, sha256: f.sha256, verified: false })) };
  await engine;
  if (!batches) bytes[0] = await archiveBytes(names[0], bytes[0]);
  setState('loading', { detail: 'Unpacking CIFAR-10' });
  progress(post, 'parse', DATASET_LABELS.cifar10)(null, null);
  let data;
  try {
    data = batches
      ? wasm.Dataset.fromCifarBatches(names, bytes, perClass, seed)
      : wasm.Dataset.fromCifarArchive(bytes[0], perClass, seed);
  } catch (err) {
    if (err instanceof WebAssembly.RuntimeError) throw err;
    const message = firstLine(err.message ?? err);
    // "training split: cannot take 500 images of class 0 …; ask for at most 50 per class"
    if (/stratified subset/.test(message)) throw new UserError(message, { field: 'perClass' });
    throw new UserError(batches ? message : `${names[0]}: ${message}`, { field: 'cifarFile' });
  }
  const result = { data, summary };
  if (key !== null) cifarCache = { key, ...result };
  return result;
}

/** The plan of gradual self-training over `domains` (rotation angles, the last one the target)
 *  on `data` (kept as gradual.base): the source on its first GRADUAL_SOURCE training images, each
 *  domain on the next GRADUAL_PER_DOMAIN, `config.epochs` epochs each. */
function gradualPlan(data, domains, config) {
  const angles = Array.from(domains, Number);
  const batch = config?.batchSize ?? 128;
  const epochs = config?.epochs ?? 2;
  const needed = GRADUAL_SOURCE + GRADUAL_PER_DOMAIN * angles.length;
  if (!angles.length || angles.some((a) => !Number.isFinite(a))) {
    throw new UserError('Domains must be rotation angles in degrees, e.g. 15,30,45,60.', { field: 'domains' });
  }
  if (num(data.trainCount) < needed) {
    throw new UserError(`${angles.length} domains need ${needed.toLocaleString('en')} training images (${GRADUAL_SOURCE.toLocaleString('en')} for the source, ${GRADUAL_PER_DOMAIN.toLocaleString('en')} per domain); this data set has ${num(data.trainCount).toLocaleString('en')}.`, { field: 'domains', hint: 'Use fewer domains, or a larger data set.' });
  }
  if (batch > GRADUAL_PER_DOMAIN) {
    throw new UserError(`Each domain has ${GRADUAL_PER_DOMAIN.toLocaleString('en')} images: the batch size must be at most that.`, { field: 'batchSize' });
  }
  const stageSteps = (count) => Math.floor(count / batch) * epochs;
  return {
    base: data, config, angles, target: angles[angles.length - 1], stage: 0, offset: 0, epochs,
    source: GRADUAL_SOURCE, perStage: GRADUAL_PER_DOMAIN,
    totalSteps: stageSteps(GRADUAL_SOURCE) + angles.length * stageSteps(GRADUAL_PER_DOMAIN),
    live: {},
  };
}

/** Has the current domain's trainer run all its steps, with a domain still to come? */
function domainDone() {
  return Boolean(gradual) && gradual.stage < gradual.angles.length && num(trainer.stepCount) >= num(trainer.totalSteps);
}

/** The next domain (callers hold the queue): its images rotated on the GPU and pseudo-labelled by
 *  the current model, then a fresh trainer (fresh optimizer state, as each self-training round of
 *  Kumar et al.) from the current weights on them, tested on the target angle. */
async function nextDomain() {
  const g = gradual;
  const angle = g.angles[g.stage];
  const weights = await trainer.saveWeights();
  const from = g.source + g.stage * g.perStage;
  const images = g.base.withTestFromTrain(from, g.perStage);
  let labeller;
  try {
    labeller = await wasm.Trainer.create(g.config, images);
  } finally {
    images.free();
  }
  let domain;
  let right = 0;
  try {
    labeller.loadWeights(weights);
    labeller.setTestShift(`rotate:${angle}`);
    const p = await labeller.predictTest();
    const pixels = await labeller.testImages();
    for (let i = 0; i < p.predicted.length; i++) if (p.predicted[i] === p.labels[i]) right++;
    right /= p.predicted.length;
    domain = g.base.withTrainImages(pixels, p.predicted);
  } finally {
    labeller.free();
  }
  let next;
  try {
    next = await wasm.Trainer.create(g.config, domain);
  } finally {
    domain.free();
  }
  next.loadWeights(weights);
  next.setTestShift(`rotate:${g.target}`);
  if (g.live.lr !== undefined) next.setLearningRate(g.live.lr);
  if (g.live.rho !== undefined) next.setRho(g.live.rho);
  g.offset += num(trainer.totalSteps);
  trainer.free();
  trainer = next;
  g.stage += 1;
  post({ type: 'domain', stage: g.stage, domains: g.angles.length, angle, pseudoLabelAccuracy: right, step: currentStep() });
}

/** `data` with a stratified sample of `perClass` training images per class drawn with `seed`
 *  (the test split whole), freeing `data`; `data` itself when perClass is not given. */
function trainSubset(data, perClass, seed) {
  if (perClass === undefined || perClass === null) return data;
  try {
    return data.withTrainSubset(perClass, seed ?? 0);
  } catch (err) {
    const error = classify(err);
    if (error.fatal) throw err;
    throw new UserError(error.message, { field: 'trainPerClass' });
  } finally {
    data.free();
  }
}

async function create({ dataset = 'mnist', config = {}, options = {} }) {
  await stopLoop();
  await exclusive(async () => {
    if (trainer) {
      trainer.free();
      trainer = null;
    }
    info = {};
    testImages = null;
    gradual?.base.free();
    gradual = null;
    inspecting = null; // the page asks again for the new trainer
    lastEvalStep = -1;
    chunkSteps = 1;
    nextTrackStep = null;
    swa = config?.swaStart !== undefined && config?.swaStart !== null;
    // CIFAR-10 and own IDX files come from the user's files ('cifar10' or 'idx' alone has none:
    // the message says so).
    const cifar = dataset === 'cifar10' || dataset?.kind === 'cifar10';
    const own = dataset === 'idx' || dataset?.kind === 'idx';
    const name = cifar ? 'cifar10' : own ? 'idx' : dataset;
    setState('loading', { detail: 'Loading the data' });
    const loader = cifar ? cifarDataset : own ? userIdxDataset : idxDataset;
    const loaded = await loader(cifar || own ? (dataset?.kind ? dataset : {}) : name);
    const { summary } = loaded;
    let data = cifar ? loaded.data : trainSubset(loaded.data, options.trainPerClass, config?.seed);
    if (options.domains !== undefined && options.domains !== null) {
      try {
        gradual = gradualPlan(data, options.domains, config);
      } catch (err) {
        data.free();
        throw err;
      }
      data = data.withTrainRange(0, GRADUAL_SOURCE); // the source domain; gradual.base keeps the rest
    }
    setState('loading', { detail: 'Building the model' });
    const counts = { trainCount: num(data.trainCount), testCount: num(data.testCount) };
    post({ type: 'data', dataset: name, label: DATASET_LABELS[name], ...counts, shape: Array.from(data.shape, num), ...summary });
    testImages = { pixels: data.testImages(), shape: Array.from(data.shape, num) };
    try {
      trainer = await wasm.Trainer.create(config, data);
    } catch (err) {
      // A config the Trainer refuses names its key: put the message beside that setting.
      const error = classify(err);
      if (error.fatal) throw err;
      const field = fieldOf(error.message);
      const [, h, w] = Array.from(data.shape, num);
      if (field === 'model' && /too small|shrink to/.test(error.message)) {
        const why = error.message.replace(/^invalid setting:\s*/, '');
        throw new UserError(`The model "${config.model}" cannot take ${h}×${w} images: ${why}.`, { field, hint: 'The MLP takes images of any size.' });
      }
      throw new UserError(error.message, { field });
    } finally {
      // The trainer keeps its own copy (on the GPU); a cached CIFAR-10 Dataset stays for the next.
      if (data !== cifarCache?.data) data.free();
    }
    // The browser compiles the GPU pipelines in the background after create() returns, and the
    // first submission waits for all of them (about 2 s on SwiftShader). Evaluating now pays that
    // before 'ready', so Start answers at once, and gives the test curve its step-0 point.
    const testShift = gradual ? `rotate:${gradual.target}` : options.testShift;
    if (testShift !== undefined && testShift !== null) {
      try {
        trainer.setTestShift(String(testShift));
      } catch (err) {
        const error = classify(err);
        if (error.fatal) throw err;
        trainer.free();
        trainer = null;
        throw new UserError(error.message, { field: 'testShift' });
      }
      // The inspection panel shows the images the evaluations see.
      testImages.pixels = await trainer.testImages();
    }
    setState('loading', { detail: 'Compiling the GPU kernels' });
    await evaluateNow();
    const s = snapshot();
    evalEvery = Math.max(1, Math.round(options.evalEvery > 0 ? options.evalEvery : s.stepsPerEpoch / 2));
    nextEvalStep = evalEvery;
    info = { dataset: name, ...counts, totalSteps: s.totalSteps, stepsPerEpoch: s.stepsPerEpoch, passesPerStep: s.passesPerStep, adapter: s.adapter, evalEvery };
    setState('ready', { step: s.step, epoch: s.epoch, lr: s.lr });
  });
}

/** One chunk: submit up to n steps, then await the metrics (which waits for the GPU). */
function trainChunk(n) {
  return exclusive(async () => {
    const t0 = performance.now();
    const took = num(trainer.step(n));
    const m = took > 0 ? await trainer.metrics() : null;
    const ms = performance.now() - t0;
    return { took, m, ms, ...snapshot() };
  });
}

/** Evaluate on the whole test split (and the SWA average, when on) and post the result (callers
 *  hold the queue). */
async function evaluateNow() {
  const e = await trainer.evaluate();
  const message = { type: 'eval', loss: num(e.loss), accuracy: num(e.accuracy), samples: num(e.samples) };
  if (swa) {
    const a = await trainer.evaluateAverage(); // null before averaging starts
    message.swa = a ? { loss: num(a.loss), accuracy: num(a.accuracy), samples: num(a.samples) } : null;
  }
  const s = snapshot();
  lastEvalStep = s.step;
  post({ ...message, step: s.step, epoch: s.epoch, passesPerStep: s.passesPerStep });
  // Keep a copy of the weights in the page's memory at every evaluation, so that after a lost
  // device or a crashed engine Restart can go on from here (the GPU's copy is gone then).
  const saved = await trainer.saveWeights();
  const bytes = saved.byteOffset === 0 && saved.byteLength === saved.buffer.byteLength ? saved : saved.slice();
  post({ type: 'snapshot', bytes, step: s.step }, [bytes.buffer]);
  // The evaluation just wrote the predictions: answering a followed inspection now costs a read.
  if (inspecting) await inspectNow(inspecting).catch(inspectionFailed);
}

function evaluate() {
  return exclusive(evaluateNow);
}

/** Train until `untilStep` (or the end, or a pause request); evaluates on schedule. */
async function train(untilStep) {
  let step = await exclusive(() => currentStep());
  const total = info.totalSteps;
  while (!stopRequested && !crashed && step < Math.min(untilStep, total)) {
    if (hung) await new Promise(() => {}); // test hook: a call that never settles, as after a panic
    if (trackDue(step)) {
      await trackNow(step);
      if (stopRequested || crashed) break;
    }
    if (await exclusive(domainDone)) {
      await exclusive(nextDomain);
      if (stopRequested || crashed) break;
    }
    while (nextEvalStep <= step) nextEvalStep += evalEvery;
    // Chunks end exactly at evaluation steps, and at tracked measurements.
    const toTrack = tracking.every > 0 && nextTrackStep !== null && nextTrackStep > step ? nextTrackStep - step : Infinity;
    const n = Math.max(1, Math.min(chunkSteps, untilStep - step, nextEvalStep - step, toTrack));
    const r = await trainChunk(n);
    if (r.took === 0) break;
    step = r.step;
    const m = r.m;
    const seconds = r.ms / 1000;
    post({
      type: 'metrics',
      step: r.step,
      epoch: r.epoch,
      steps: num(m.steps),
      loss: num(m.loss),
      accuracy: num(m.accuracy),
      gradNorm: orNull(m.gradNorm),
      sharpness: orNull(m.sharpness),
      cosG0G1: orNull(m.cosG0G1),
      nonfiniteSteps: num(m.nonfiniteSteps),
      samplesPerSecond: seconds > 0 ? num(m.samples) / seconds : null,
      msPerStep: r.ms / r.took,
      lr: r.lr,
      passesPerStep: r.passesPerStep,
    });
    chunkSteps = Math.max(1, Math.min(MAX_CHUNK_STEPS, Math.round(TARGET_CHUNK_MS / (r.ms / r.took))));
    if (num(m.nonfiniteSteps) > 0) {
      stopRequested = true;
      post({
        type: 'error',
        field: 'lr',
        message: `Training diverged at step ${r.step}: the loss became NaN or infinite.`,
        hint: 'Lower the learning rate (or ρ), then press Reset to start again from fresh weights.',
      });
      break;
    }
    if (step >= nextEvalStep || step >= total || (await exclusive(domainDone))) await evaluate();
  }
  // The last step of the run (or of a Step) may be a tracked one.
  if (!stopRequested && !crashed && trackDue(step)) await trackNow(step);
}

// ---------------------------------------------------------------------------------------------
// Sharpness and the loss landscape. trainer.sharpness/landscape copy the weights when called, but
// each instrument reads a few scalars back after every gradient or forward pass: run beside the
// training loop, each read would wait behind a whole chunk (250 ms). So a measurement runs between
// chunks, in the `exclusive` queue: training waits for exactly as long as the measurement takes,
// and two measurements never overlap.

/** Is a tracked measurement due at `step`? */
function trackDue(step) {
  if (!(tracking.every > 0)) return false;
  if (nextTrackStep === null) nextTrackStep = Math.ceil(step / tracking.every) * tracking.every;
  return step >= nextTrackStep;
}

/** A tracked measurement at `step` (the loop's, between chunks). A failure turns tracking off and
 *  says so beside the panel; training goes on. */
async function trackNow(step) {
  nextTrackStep = (Math.floor(step / tracking.every) + 1) * tracking.every;
  const request = tracking.request;
  try {
    const r = await exclusive(() => measureSharpness(request));
    post({ type: 'sharpness', reason: 'track', ...r });
  } catch (err) {
    const error = classify(err);
    if (error.fatal) throw err;
    tracking = { ...tracking, every: 0 };
    post({
      type: 'error',
      field: 'sharpness',
      tracking: false,
      message: `λ_max and tr(H) could not be measured at step ${step}: ${error.message}`,
      hint: 'Tracking is now off; training goes on.',
    });
  }
}

/** Posts {type:'probing'} every 2 s while `fn` runs: the page's watchdog hears the worker. */
async function withHeartbeat(what, fn) {
  const t0 = performance.now();
  const timer = setInterval(() => {
    const seconds = (performance.now() - t0) / 1000;
    if (seconds < HEARTBEAT_LIMIT_S) post({ type: 'probing', what, seconds });
  }, 2000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

const finiteOrNull = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** trainer.sharpness at the current weights (callers hold the queue). */
async function measureSharpness(request) {
  const step = currentStep();
  const t0 = performance.now();
  const r = await withHeartbeat('sharpness', () => trainer.sharpness(request));
  return {
    step,
    ms: performance.now() - t0,
    loss: num(r.loss),
    accuracy: num(r.accuracy),
    rows: num(r.rows),
    hvpStep: num(r.step),
    eigenvalues: (r.eigenvalues ?? []).map((e) => ({ value: num(e.value), iterations: num(e.iterations), converged: Boolean(e.converged) })),
    // (the engine may spell it std_error)
    trace: r.trace ? { value: num(r.trace.value), stdError: num(r.trace.stdError ?? r.trace.std_error), samples: num(r.trace.samples) } : null,
    worstCase: r.worstCase == null ? null : num(r.worstCase),
    adaptiveWorstCase: r.adaptiveWorstCase == null ? null : num(r.adaptiveWorstCase),
    gradients: num(r.gradients),
    request: { ...request },
  };
}

/** A failed measurement → an error for the panel (field), unless the engine itself died. */
function probeFailure(err, field, what) {
  if (err instanceof UserError) {
    err.field ??= field;
    return err;
  }
  const error = classify(err);
  if (error.fatal) return err;
  return new UserError(`${what} failed: ${error.message}`, { field, hint: error.hint || 'The rest of the page keeps working.' });
}

// ---------------------------------------------------------------------------------------------
// Looking at the model (the page's inspect.js). The predictions come from the evaluation pass
// (trainer.predictTest() is a read right after an evaluation), the images from the test split's
// pixels kept at create; only the requested page of images is sent.

const INSPECT_DEFAULTS = Object.freeze({ from: 0, count: 48, mistakesOnly: false, units: 64 });
const INSPECT_MAX = Object.freeze({ count: 200, units: 1024 });

/** A checked inspect request (whole numbers in range, mistakesOnly a boolean). */
function inspectRequest({ from, count, mistakesOnly, units }) {
  const request = { ...INSPECT_DEFAULTS };
  const whole = (name, value, lo, hi) => {
    if (value === undefined) return;
    if (!(Number.isInteger(value) && value >= lo && value <= hi)) {
      throw new UserError(`Inspect: ${name} must be a whole number from ${lo} to ${hi}, not ${String(value).slice(0, 40)}.`, { field: 'inspect' });
    }
    request[name] = value;
  };
  whole('from', from, 0, Number.MAX_SAFE_INTEGER);
  whole('count', count, 1, INSPECT_MAX.count);
  whole('units', units, 1, INSPECT_MAX.units);
  if (mistakesOnly !== undefined) {
    if (typeof mistakesOnly !== 'boolean') throw new UserError('Inspect: mistakesOnly must be true or false.', { field: 'inspect' });
    request.mistakesOnly = mistakesOnly;
  }
  return request;
}

/** Answers `request` with an inspection message (callers hold the queue). */
async function inspectNow(request) {
  const p = await trainer.predictTest();
  const firstLayer = await trainer.firstLayerWeights(request.units);
  const { predicted, labels } = p;
  const [channels, height, width] = testImages.shape;
  const size = channels * height * width;
  // The images that pass the filter, then the requested page of them (the last page when `from`
  // is past the end: there may be fewer mistakes than when the page asked).
  const matching = [];
  for (let i = 0; i < labels.length; i++) if (!request.mistakesOnly || predicted[i] !== labels[i]) matching.push(i);
  const lastPage = Math.max(0, Math.floor((matching.length - 1) / request.count) * request.count);
  const from = Math.min(request.from, lastPage);
  const indices = Uint32Array.from(matching.slice(from, from + request.count));
  const images = new Uint8Array(indices.length * size);
  indices.forEach((sample, k) => images.set(testImages.pixels.subarray(sample * size, (sample + 1) * size), k * size));
  const values = firstLayer.values;
  post({
    type: 'inspection',
    step: num(p.step),
    dataset: info.dataset,
    classes: num(p.classes),
    shape: testImages.shape,
    testCount: labels.length,
    predicted,
    confidence: p.confidence,
    labels,
    mistakesOnly: request.mistakesOnly,
    from,
    count: request.count,
    matching: matching.length,
    indices,
    images,
    firstLayer: { name: firstLayer.name, shape: Array.from(firstLayer.shape, num), units: num(firstLayer.units), values },
    request: { ...request },
  }, [predicted.buffer, p.confidence.buffer, labels.buffer, indices.buffer, images.buffer, values.buffer]);
}

/** A failed inspection: a message in the panel; following stops (training goes on). */
function inspectionFailed(err) {
  const error = classify(err);
  if (error.fatal) throw err;
  inspecting = null;
  post({ type: 'error', field: 'inspect', message: `The inspection failed: ${error.message}`, hint: 'Press Inspect to try again.' });
}

async function runLoop(untilStep) {
  stopRequested = false;
  try {
    await train(untilStep);
  } catch (err) {
    report(err);
  } finally {
    loop = null;
  }
  if (crashed) return;
  const s = await exclusive(snapshot);
  if (s.step >= s.totalSteps) {
    if (lastEvalStep !== s.step) await evaluate().catch(report);
    setState('done', { step: s.step, epoch: s.epoch });
  } else {
    setState('paused', { step: s.step, epoch: s.epoch });
  }
}

async function stopLoop() {
  stopRequested = true;
  if (loop) await loop;
}

function needTrainer() {
  if (!trainer) throw new UserError('The model is not ready yet.', { hint: 'Wait until the status says "ready".' });
}

/** `id`: the command that failed (so a client can tell whose error it is). */
function report(err, field, id) {
  const error = classify(err, field);
  if (error.fatal) fatal(error.message, error.detail, error.hint);
  else post({ type: 'error', ...error, ...(id === undefined ? {} : { id }) });
}

const commands = {
  async create(msg) {
    try {
      await create(msg);
    } catch (err) {
      if (trainer) {
        trainer.free();
        trainer = null;
      }
      report(err, undefined, msg.id);
      if (!crashed) setState('failed');
      return false;
    }
    return true;
  },
  async start() {
    needTrainer();
    if (loop || state === 'done') return true; // a second Start while running does nothing
    setState('running');
    loop = runLoop(Infinity);
    return true;
  },
  async pause() {
    await stopLoop();
    return true;
  },
  async step({ n = 1 }) {
    needTrainer();
    if (loop || state === 'done') return true;
    const steps = Math.max(1, Math.floor(Number(n) || 1));
    const from = await exclusive(() => currentStep());
    loop = runLoop(from + steps);
    await loop;
    return true;
  },
  async set({ lr, rho }) {
    needTrainer();
    await exclusive(() => {
      if (gradual) Object.assign(gradual.live, lr !== undefined && { lr }, rho !== undefined && { rho });
      if (lr !== undefined) {
        try {
          trainer.setLearningRate(lr);
        } catch (err) {
          throw new UserError(firstLine(err.message ?? err), { field: 'lr' });
        }
      }
      if (rho !== undefined) {
        try {
          trainer.setRho(rho);
        } catch (err) {
          throw new UserError(firstLine(err.message ?? err), { field: 'rho' });
        }
      }
    });
    return true;
  },
  async save() {
    needTrainer();
    const { bytes, step } = await exclusive(async () => {
      const saved = await trainer.saveWeights();
      return { bytes: saved, step: currentStep() };
    });
    const copy = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    post({ type: 'saved', bytes: copy, step }, [copy.buffer]);
    return true;
  },
  async load({ bytes }) {
    needTrainer();
    await exclusive(() => {
      try {
        trainer.loadWeights(new Uint8Array(bytes));
      } catch (err) {
        if (err instanceof WebAssembly.RuntimeError) throw err;
        throw new UserError(`These weights do not fit the model: ${firstLine(err.message ?? err)}`, { field: 'load', hint: 'Load a file saved from the same model (and hidden widths) on the same data set.' });
      }
      post({ type: 'loaded', step: currentStep() });
    });
    await evaluate();
    return true;
  },
  async evaluate() {
    needTrainer();
    await evaluate();
    return true;
  },
  async track({ every = 0, request }) {
    const n = Number(every);
    if (!(Number.isInteger(n) && n >= 0)) {
      throw new UserError(`Measure every ${every} steps? That must be a whole number ≥ 1 (0: off).`, { field: 'trackEvery' });
    }
    tracking = { every: n, request: { ...TRACK_REQUEST, ...(request ?? {}) } };
    nextTrackStep = null;
    return true;
  },
  async sharpness({ request }) {
    try {
      needTrainer();
      const r = await exclusive(() => measureSharpness(request ?? {}));
      post({ type: 'sharpness', reason: 'measure', ...r });
    } catch (err) {
      throw probeFailure(err, 'sharpness', 'The sharpness measurement');
    }
    return true;
  },
  async landscape({ request, against }) {
    try {
      needTrainer();
      const other = !against ? undefined
        : ArrayBuffer.isView(against) ? new Uint8Array(against.buffer, against.byteOffset, against.byteLength)
          : new Uint8Array(against);
      const r = await exclusive(async () => {
        const step = currentStep();
        const t0 = performance.now();
        const report = await withHeartbeat('landscape', () => trainer.landscape(request ?? {}, other));
        return { step, ms: performance.now() - t0, report };
      });
      const rows = (grid) => (grid ?? []).map((row) => Array.from(row, (v) => finiteOrNull(num(v))));
      post({
        type: 'landscape',
        step: r.step,
        ms: r.ms,
        kind: r.report.kind,
        axis: Array.from(r.report.axis, num),
        loss: rows(r.report.loss),
        accuracy: rows(r.report.accuracy),
        rows: num(r.report.rows),
        request: { ...(request ?? {}) },
      });
    } catch (err) {
      throw probeFailure(err, 'landscape', 'The loss landscape');
    }
    return true;
  },
  async inspect({ stop, follow, ...rest }) {
    if (stop === true) {
      inspecting = null;
      return true;
    }
    const request = inspectRequest(rest);
    needTrainer();
    inspecting = follow === true ? request : null;
    await exclusive(() => inspectNow(request)).catch(inspectionFailed);
    return true;
  },
  // Test hooks (tests/page): an uncaught error, as a crashed engine raises; a hang, as a panic in
  // an async call leaves behind (its promise never settles, nothing more is posted).
  async __crash() {
    setTimeout(() => {
      throw new Error('simulated engine crash (test hook)');
    });
    return true;
  },
  // A real lost device: the wasm destroys its GPU device; the next step reports the loss.
  async __loseDevice() {
    needTrainer();
    await exclusive(() => trainer.loseDevice());
    return true;
  },
  async __hang() {
    hung = true;
    self.onmessage = null;
    return true;
  },
};

self.onmessage = async (event) => {
  const msg = event.data ?? {};
  const handler = Object.hasOwn(commands, msg.type) ? commands[msg.type] : null;
  let ok = false;
  if (crashed) {
    post({ type: 'error', message: 'The training engine has stopped.', hint: 'Press Restart to start a fresh engine.', fatal: true });
  } else if (!handler) {
    post({ type: 'error', message: `Unknown command "${msg.type}".`, hint: 'See docs/web.md for the message protocol.' });
  } else {
    try {
      ok = await handler(msg);
    } catch (err) {
      report(err, msg.type === 'load' ? 'load' : undefined, msg.id);
    }
  }
  post({ type: 'done', id: msg.id, command: msg.type, ok });
};

engine.catch((err) => {
  fatal('The training engine could not be loaded.', firstLine(err?.message ?? err), 'Check that the page was built completely (npm run build), then reload.');
});
