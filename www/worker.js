// The training worker: owns the wasm module, the GPU device, the data and the Trainer, so the
// page never freezes. Full description in docs/web.md; the protocol in short:
//
// page → worker (every command may carry an `id`; the worker answers {type:'done', id, command, ok}
// once the command has been handled, which is what the page's watchdog waits for)
//   {type:'create', dataset, config:{…Trainer config…}, options?:{evalEvery}}
//                                     load the data and build a fresh Trainer. dataset: 'mnist' or
//                                     'fashion-mnist' (fetched from data/, cached per name), or
//                                     {kind:'cifar10', files:[{name, bytes}], perClass?, seed?} with
//                                     bytes a File/Blob or an ArrayBuffer/Uint8Array (transfer it);
//                                     the parsed subset of the last files (as Files) is kept
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
//   {type:'__crash'}, {type:'__hang'} test hooks: an uncaught error; stop answering altogether
//
// worker → page
//   {type:'state', state:'loading'|'ready'|'running'|'paused'|'done'|'failed', detail?, step, epoch,
//    totalSteps, stepsPerEpoch, passesPerStep, adapter, dataset, trainCount, testCount, evalEvery}
//   {type:'metrics', step, epoch, steps, loss, accuracy, gradNorm, sharpness, cosG0G1,
//    nonfiniteSteps, samplesPerSecond, msPerStep, lr}   (means over the steps since the last one)
//   {type:'eval', step, epoch, loss, accuracy, samples, swa?}   swa (only with config.swaStart):
//                                     {loss, accuracy, samples} of the SWA average, null before it starts
//   {type:'saved', bytes, step}       {type:'loaded', step}
//   {type:'snapshot', bytes, step}    (after every evaluation: the weights, kept in the page's
//                                      memory for Restart after a crash or a lost device)
//   {type:'sharpness', reason:'track'|'measure', step, ms, loss, accuracy, rows, hvpStep, eigenvalues,
//    trace, worstCase, adaptiveWorstCase, gradients, request}   step: the training step measured at
//   {type:'landscape', step, ms, kind, axis, loss, accuracy, rows, request}   loss/accuracy: rows of values
//   {type:'probing', what:'sharpness'|'landscape', seconds}   every 2 s while a measurement runs
//   {type:'error', message, hint, field?, fatal?, detail?, tracking?}   fatal: the engine is dead, restart
//                                     the worker. field 'sharpness'/'landscape': a failed measurement
//                                     (tracking: false when it turned tracking off)
//   {type:'log', level, text}         console.error output of the engine (forwarded; the page's console
//                                     does not show a worker's console)
//   {type:'done', id, command, ok}

const DATA_FILES = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];
const DATASET_LABELS = { mnist: 'MNIST', 'fashion-mnist': 'Fashion-MNIST', cifar10: 'CIFAR-10' };
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
const dataCache = new Map(); // dataset name → Promise<Uint8Array[4]>
let cifarCache = null; // {key, data}: the wasm Dataset of the last CIFAR-10 files and subset

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
  if (err instanceof UserError) {
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

function snapshot() {
  return {
    step: num(trainer.stepCount),
    epoch: trainer.epoch,
    totalSteps: num(trainer.totalSteps),
    stepsPerEpoch: num(trainer.stepsPerEpoch),
    passesPerStep: num(trainer.passesPerStep),
    adapter: trainer.adapter,
    lr: trainer.learningRate,
  };
}

// ---------------------------------------------------------------------------------------------
// Commands

async function loadData(name) {
  if (!Object.hasOwn(DATASET_LABELS, name)) {
    throw new UserError(`There is no data set called "${name}".`, { field: 'dataset', hint: 'Choose MNIST, Fashion-MNIST or CIFAR-10.' });
  }
  if (!dataCache.has(name)) {
    const base = new URL(`./data/${name}/`, self.location.href);
    const files = Promise.all(DATA_FILES.map(async (file) => {
      let response;
      try {
        response = await fetch(new URL(file, base));
      } catch (err) {
        throw new UserError(`${DATASET_LABELS[name]} could not be downloaded (${firstLine(err.message)}).`, { field: 'dataset', hint: 'Check the connection to the server and press Reset.' });
      }
      if (!response.ok) {
        throw new UserError(`${DATASET_LABELS[name]} is not part of this build (data/${name}/${file}: HTTP ${response.status}).`, { field: 'dataset', hint: 'Choose another data set, or rebuild the page with the data present (npm run build).' });
      }
      return new Uint8Array(await response.arrayBuffer());
    }));
    dataCache.set(name, files);
    files.catch(() => dataCache.delete(name));
  }
  return dataCache.get(name);
}

/** What each of DATA_FILES holds, as the IDX reader names it in its messages. */
const DATA_ROLES = [['training', 'images'], ['training', 'labels'], ['test', 'images'], ['test', 'labels']];

/** Builds the wasm Dataset of MNIST or Fashion-MNIST (fetched from data/); the caller frees it. */
async function idxDataset(name) {
  const files = await loadData(name);
  await engine;
  try {
    const plain = await Promise.all(files.map(async (bytes, i) => {
      const [split, kind] = DATA_ROLES[i];
      try {
        return await gunzip(bytes, kind, wasm.maxIdxBytes());
      } catch (err) {
        throw new Error(`${split} ${kind}: ${err.message}`);
      }
    }));
    return wasm.Dataset.fromIdx(name, ...plain);
  } catch (err) {
    throw new UserError(`The ${DATASET_LABELS[name]} files are damaged: ${firstLine(err.message ?? err)}`, { field: 'dataset', hint: 'Rebuild the page (npm run build).' });
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

/** One file's bytes: a File/Blob is read here, an ArrayBuffer or typed array is taken as it is. */
async function fileBytes({ name, bytes }) {
  if (bytes instanceof Blob) {
    try {
      return new Uint8Array(await bytes.arrayBuffer());
    } catch (err) {
      throw new UserError(`${name} could not be read (${firstLine(err.message ?? err)}).`, { field: 'cifarFile', hint: 'Choose the file again.' });
    }
  }
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  throw new UserError(`${name} came without its bytes.`, { field: 'cifarFile', hint: CIFAR_FILES_HINT });
}

/** The CIFAR-10 archive's tar bytes: a .tar.gz is decompressed (streamed from a File). */
async function archiveBytes({ name, bytes }) {
  const source = bytes instanceof Blob ? bytes : await fileBytes({ name, bytes });
  try {
    return await gunzip(source, 'archive', wasm.maxArchiveBytes());
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
  const key = files.every((f) => f.bytes instanceof File)
    ? JSON.stringify([files.map((f) => [f.name, f.bytes.size, f.bytes.lastModified]), perClass ?? null, seed ?? null])
    : null;
  if (key !== null && cifarCache?.key === key) return cifarCache.data;
  cifarCache?.data.free();
  cifarCache = null;
  const batches = names.some((name) => /\.bin$/i.test(name));
  if (!batches && files.length > 1) {
    throw new UserError(`${names.join(', ')}: that is ${files.length} files but no .bin batch.`, { field: 'cifarFile', hint: CIFAR_FILES_HINT });
  }
  setState('loading', { detail: `Reading ${files.length === 1 ? names[0] : `${files.length} CIFAR-10 files`}` });
  await engine;
  const bytes = batches ? await Promise.all(files.map(fileBytes)) : [await archiveBytes(files[0])];
  setState('loading', { detail: 'Unpacking CIFAR-10' });
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
  if (key !== null) cifarCache = { key, data };
  return data;
}

async function create({ dataset = 'mnist', config = {}, options = {} }) {
  await stopLoop();
  await exclusive(async () => {
    if (trainer) {
      trainer.free();
      trainer = null;
    }
    info = {};
    lastEvalStep = -1;
    chunkSteps = 1;
    nextTrackStep = null;
    swa = config?.swaStart !== undefined && config?.swaStart !== null;
    // CIFAR-10 comes from the user's files ('cifar10' alone has none: the message says so).
    const cifar = dataset === 'cifar10' || dataset?.kind === 'cifar10';
    const name = cifar ? 'cifar10' : dataset;
    setState('loading', { detail: 'Loading the data' });
    const data = cifar ? await cifarDataset(dataset?.kind ? dataset : {}) : await idxDataset(name);
    setState('loading', { detail: 'Building the model' });
    const counts = { trainCount: num(data.trainCount), testCount: num(data.testCount) };
    try {
      trainer = await wasm.Trainer.create(config, data);
    } catch (err) {
      // A config the Trainer refuses names its key: put the message beside that setting.
      const error = classify(err);
      throw error.fatal ? err : new UserError(error.message, { field: fieldOf(error.message) });
    } finally {
      // The trainer keeps its own copy (on the GPU); a cached CIFAR-10 Dataset stays for the next.
      if (data !== cifarCache?.data) data.free();
    }
    // The browser compiles the GPU pipelines in the background after create() returns, and the
    // first submission waits for all of them (about 2 s on SwiftShader). Evaluating now pays that
    // before 'ready', so Start answers at once, and gives the test curve its step-0 point.
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
  post({ ...message, step: s.step, epoch: s.epoch });
  // Keep a copy of the weights in the page's memory at every evaluation, so that after a lost
  // device or a crashed engine Restart can go on from here (the GPU's copy is gone then).
  const saved = await trainer.saveWeights();
  const bytes = saved.byteOffset === 0 && saved.byteLength === saved.buffer.byteLength ? saved : saved.slice();
  post({ type: 'snapshot', bytes, step: s.step }, [bytes.buffer]);
}

function evaluate() {
  return exclusive(evaluateNow);
}

/** Train until `untilStep` (or the end, or a pause request); evaluates on schedule. */
async function train(untilStep) {
  let step = await exclusive(() => num(trainer.stepCount));
  const total = info.totalSteps;
  while (!stopRequested && !crashed && step < Math.min(untilStep, total)) {
    if (hung) await new Promise(() => {}); // test hook: a call that never settles, as after a panic
    if (trackDue(step)) {
      await trackNow(step);
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
    if (step >= nextEvalStep || step >= total) await evaluate();
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
  const step = num(trainer.stepCount);
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

function report(err, field) {
  const error = classify(err, field);
  if (error.fatal) fatal(error.message, error.detail, error.hint);
  else post({ type: 'error', ...error });
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
      report(err);
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
    const from = await exclusive(() => num(trainer.stepCount));
    loop = runLoop(from + steps);
    await loop;
    return true;
  },
  async set({ lr, rho }) {
    needTrainer();
    await exclusive(() => {
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
      return { bytes: saved, step: num(trainer.stepCount) };
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
      post({ type: 'loaded', step: num(trainer.stepCount) });
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
        const step = num(trainer.stepCount);
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
      report(err, msg.type === 'load' ? 'load' : undefined);
    }
  }
  post({ type: 'done', id: msg.id, command: msg.type, ok });
};

engine.catch((err) => {
  fatal('The training engine could not be loaded.', firstLine(err?.message ?? err), 'Check that the page was built completely (npm run build), then reload.');
});
