// The page: settings, buttons, charts and the status line. Training runs in worker.js; this file
// only sends commands and draws what comes back (protocol in docs/web.md).
//
// Page states: checking → (nogpu | idle | loading) → ready → running ⇄ paused → done.
// "idle": the settings are invalid, so no model is built yet. "failed": the model could not be
// built (the message sits beside the field that caused it). "crashed": the worker died or hung;
// Restart makes a fresh one.

import {
  DEFAULT_LR, HIDEABLE, KEYS, LIVE_KEYS, MODEL_INFO, SAM_INFO, SAM_PARAM_KEYS, SAM_PARAM_LABELS, SAM_PARAM_PLACEHOLDERS,
  SAM_RUN_KEYS, comparedFromHash, fromHash, isActive, isHidden, linkHash, linkProblems, parseDomains, parseNumber, passesPerStep, samParams, structureKey,
  swaOn, toHash, toTrainerConfig, trackFromHash, validate, viewFromHash, withEmbed, withSamMode, withoutEmbed,
} from './settings.js';
import { chartsPng, curvatureRow, fileStem, testRow, toCsv, toJsonExport, trainRow } from './export.js';

const $ = (id) => document.getElementById(id);

/** How long a command may go unanswered, and a running worker may stay silent, before the page
 *  calls it dead. Building a model on a slow CPU adapter with a big data set takes a while.
 *  `#…&watchdog=S` in the URL sets the last two to S seconds (tests). */
const WATCHDOG_MS = { create: 180_000, command: 90_000, silence: 45_000, probe: 600_000 };
/** Commands that may take long by design (a 101 × 101 landscape is 10,201 forward passes): the
 *  worker sends `probing` heartbeats while they run, and the watchdog gives them `probe` ms. */
const PROBE_COMMANDS = new Set(['sharpness', 'landscape']);
const SETTINGS_DEBOUNCE_MS = 300;

const STRUCTURAL_STATES = new Set(['idle', 'loading', 'ready', 'failed', 'crashed']);
const TRAINER_STATES = new Set(['ready', 'running', 'paused', 'done']);

const page = {
  state: 'checking',
  worker: null,
  info: {}, // what the worker said about the trainer (adapter, totalSteps, …)
  trainerKey: null, // trainerKey() of the settings the current (or coming) trainer was built from
  applied: { lr: null, rho: null }, // lr and ρ the trainer has (or will have)
  pending: new Map(), // command id → {command, sentAt}
  nextId: 1,
  lastMessageAt: 0,
  latest: null, // the last metrics message
  lastEval: null,
  evals: [], // every evaluation of the current worker, oldest first
  lastWeights: null, // {bytes, name}: the last weights saved or loaded
  // {bytes, step, at}: the weights the engine last sent with an evaluation or that the user saved
  // or loaded, whichever is newer; Restart reloads them after a crash or a lost device.
  restartWeights: null,
  restoreAfterRestart: false,
  loadingWeights: null, // {bytes, name}: a weights file sent to the worker, kept once it loads
  workerErrors: {}, // field → message from the worker
  errorLog: [], // every error message shown, for tests
  startClickedAt: null,
  firstStepMs: null,
  pausing: false,
  adapterHint: '',
  charts: null,
  probe: null, // the sharpness panel (probe.js)
  compare: null, // the compared runs (compare.js)
  toy2d: null, // SAM in two dimensions (toy2d.js)
  inspect: null, // the inspection panel (inspect.js)
  evalEvery: 0,
  watchdog: { ...WATCHDOG_MS },
  syncTimer: 0,
  linkHash: '', // the URL hash the page was opened (or navigated) with: its SAM hyperparameters come back with its mode
  cifar: null, // {files: File[], key}: the CIFAR-10 file(s) the user chose (a link cannot carry them)
  cifarPicks: 0, // counts the user's file choices (CIFAR-10 and IDX), so choosing the same file again builds afresh
  idx: null, // {files: File[], key}: the user's own IDX files (like cifar)
  domain: null, // gradual self-training: the worker's last 'domain' message
  dataInfo: null, // the worker's last 'data' message: the data set's counts, size, SHA-256s, source
  dataInfoShown: null, // the 'data' message drawn under the data set field
  dataProgress: null, // the worker's last 'progress' message while the data loads
  progressSeen: {}, // stage → {value, max} the progress bar last showed (for tests)
  view: viewFromHash(''), // what the link hides, and embed=1 (settings.js, viewFromHash)
  revealed: new Set(), // names the link hides that were shown for a message (renderView)
  records: [], // every point of this run for the exports: export.js rows (train, test, curvature)
  lastCopied: null, // {what: 'link' | 'embed', text, how: 'clipboard' | 'selection' | null}
  shareTimer: 0,
};

// ---------------------------------------------------------------------------------------------
// Settings ↔ inputs

function readSettings() {
  const s = {};
  for (const key of KEYS) s[key] = $(key).value;
  return s;
}

function writeSettings(s) {
  for (const key of KEYS) $(key).value = s[key];
  $('optimizer').dataset.previous = s.optimizer;
}

function pageErrors() {
  return validate(readSettings());
}

/** The data sets that come from the user's files: where the page keeps them and their control. */
const FILE_DATASETS = { cifar10: { slot: 'cifar', field: 'cifarFile', what: 'the CIFAR-10 file' }, idx: { slot: 'idx', field: 'idxFile', what: 'your IDX files' } };

/** CIFAR-10 or own IDX files are chosen but no file: nothing to build a trainer from (the page
 *  says how to get it). */
function missingData(s) {
  return Object.hasOwn(FILE_DATASETS, s.dataset) && !page[FILE_DATASETS[s.dataset].slot];
}

/** Identifies the trainer these settings build: structureKey(), plus the files chosen. */
function trainerKey(s) {
  const key = structureKey(s);
  return Object.hasOwn(FILE_DATASETS, s.dataset) ? `${key}\n${page[FILE_DATASETS[s.dataset].slot]?.key ?? ''}` : key;
}

/** Controls with a message slot that are not settings: the CIFAR-10 file, own IDX files, Load weights. */
const OTHER_FIELDS = ['cifarFile', 'idxFile', 'load'];

function showFieldErrors() {
  const errors = pageErrors();
  for (const key of [...KEYS, ...OTHER_FIELDS]) {
    const message = errors[key] ?? page.workerErrors[key] ?? '';
    const slot = $(`${key}-error`);
    if (slot && slot.textContent !== message) slot.textContent = message;
    const input = key === 'load' ? null : $(key);
    if (input) input.setAttribute('aria-invalid', message ? 'true' : 'false');
  }
  return errors;
}

function onSettingInput(event) {
  const key = event.target.id;
  // Changing the optimizer brings its default lr, unless the user typed their own.
  if (key === 'optimizer') {
    const previous = event.target.dataset.previous;
    if (parseNumber($('lr').value) === parseNumber(DEFAULT_LR[previous])) $('lr').value = DEFAULT_LR[event.target.value];
    event.target.dataset.previous = event.target.value;
    delete page.workerErrors.lr;
  }
  // Changing the SAM mode brings its hyperparameters' defaults (ρ included: each mode has its own
  // scale), or the values the URL hash gave them if the hash chose this mode.
  if (key === 'sam') {
    const next = withSamMode(readSettings(), event.target.value, page.linkHash);
    for (const p of samParams(next.sam)) $(p).value = next[p];
    for (const p of SAM_PARAM_KEYS) delete page.workerErrors[p];
    delete page.workerErrors.optimizer; // MSAM's "needs SGD with momentum"
  }
  delete page.workerErrors[key];
  updateUrl();
  render();
  clearTimeout(page.syncTimer);
  page.syncTimer = setTimeout(syncTrainer, SETTINGS_DEBOUNCE_MS);
}

/** Bring the trainer in line with the settings: a new one if its structure changed, else `set`. */
function syncTrainer() {
  clearTimeout(page.syncTimer);
  if (!page.worker || page.state === 'crashed') return;
  const s = readSettings();
  const errors = validate(s);
  // 'idle' and 'failed' have no usable trainer: any valid change builds one.
  const rebuild = page.state === 'idle' || page.state === 'failed' || trainerKey(s) !== page.trainerKey;
  if (STRUCTURAL_STATES.has(page.state) && rebuild) {
    if (Object.keys(errors).length === 0 && !missingData(s)) createTrainer();
    else if (page.state !== 'loading') setState('idle');
    return;
  }
  if (!TRAINER_STATES.has(page.state) && page.state !== 'loading') return;
  const { config } = toTrainerConfig(s);
  const change = {};
  if (!errors.lr && config.lr !== page.applied.lr) change.lr = config.lr;
  if (s.sam !== 'none' && !errors.rho && config.rho !== page.applied.rho) change.rho = config.rho;
  if (Object.keys(change).length === 0 || page.state === 'loading') return; // 'ready' will sync again
  Object.assign(page.applied, change);
  send({ type: 'set', ...change });
  page.compare?.setLive(change);
}

// ---------------------------------------------------------------------------------------------
// The worker

function send(message, transfer = []) {
  if (!page.worker) return;
  const id = page.nextId++;
  page.pending.set(id, { command: message.type, sentAt: performance.now() });
  page.worker.postMessage({ ...message, id }, transfer);
}

function startWorker() {
  stopWorker();
  const worker = new Worker('./worker.js', { type: 'module' });
  worker.onmessage = (event) => onWorkerMessage(worker, event.data);
  worker.onerror = (event) => {
    event.preventDefault();
    if (worker === page.worker) crash('The training engine stopped with an unexpected error.', event.message);
  };
  worker.onmessageerror = () => {
    if (worker === page.worker) crash('The training engine sent a message the page could not read.');
  };
  page.worker = worker;
  page.loadingWeights = null;
  page.lastMessageAt = performance.now();
  page.trainerKey = null;
  page.applied = { lr: null, rho: null };
  page.pausing = false;
  page.workerErrors = {};
  clearRun();
  page.probe?.syncTracking(true); // the new worker tracks what the panel says
  setState('idle');
  syncTrainer();
}

/** Forget the run: charts, metrics, evaluations. */
function clearRun() {
  page.info = {};
  page.domain = null;
  page.latest = null;
  page.lastEval = null;
  page.evals = [];
  page.records = [];
  page.startClickedAt = null;
  page.firstStepMs = null;
  page.charts?.clear();
  page.probe?.clear();
  page.compare?.baseCleared();
  page.inspect?.clear();
}

function stopWorker() {
  if (page.worker) page.worker.terminate();
  page.worker = null;
  page.pending.clear();
  page.probe?.workerGone();
  page.inspect?.clear();
}

/** The worker's `create` dataset for these (valid) settings; null without the user's files (CIFAR-10, IDX). */
function datasetFor(s) {
  const { dataset, perClass, config } = toTrainerConfig(s);
  if (dataset === 'idx') return page.idx ? { kind: 'idx', files: page.idx.files.map((file) => ({ name: file.name, bytes: file })) } : null;
  if (dataset !== 'cifar10') return dataset;
  // CIFAR-10: the Files themselves (handles, not copies: the worker reads them), so a Restart or
  // a new model can read them again; the subset is drawn with the run's seed.
  if (!page.cifar) return null;
  return { kind: 'cifar10', files: page.cifar.files.map((file) => ({ name: file.name, bytes: file })), perClass, seed: config.seed };
}

/** A new trainer for the current settings (only before a run has started: nothing to keep). The
 *  compared runs start afresh with it. */
function createTrainer() {
  clearRun();
  const s = readSettings();
  const { config, options } = toTrainerConfig(s);
  page.trainerKey = trainerKey(s);
  page.applied = { lr: config.lr, rho: config.rho ?? null };
  for (const key of [...KEYS, 'cifarFile', 'idxFile']) if (!LIVE_KEYS.includes(key)) delete page.workerErrors[key];
  page.dataInfo = null;
  page.dataProgress = null;
  send({ type: 'create', dataset: datasetFor(s), config, options: { ...options, evalEvery: page.evalEvery } });
  setState('loading', { detail: 'Loading' });
  page.compare?.rebuildAll();
}

function onWorkerMessage(worker, msg) {
  if (worker !== page.worker) return; // a message from a worker that was already replaced
  page.lastMessageAt = performance.now();
  switch (msg.type) {
    case 'state':
      page.info = { ...page.info, ...msg };
      if (msg.state !== 'loading') page.dataProgress = null;
      if (msg.state === 'paused' || msg.state === 'done') page.pausing = false;
      setState(msg.state === 'failed' && page.state === 'crashed' ? 'crashed' : msg.state);
      if (msg.state === 'ready') {
        if (page.restoreAfterRestart && page.restartWeights) {
          page.restoreAfterRestart = false;
          const copy = page.restartWeights.bytes.slice();
          send({ type: 'load', bytes: copy }, [copy.buffer]);
        }
        syncTrainer();
      }
      break;
    case 'metrics':
      page.latest = msg;
      page.info.step = msg.step;
      page.info.epoch = msg.epoch;
      if (page.startClickedAt !== null && page.firstStepMs === null) {
        page.firstStepMs = performance.now() - page.startClickedAt;
      }
      page.records.push(trainRow(msg, page.applied.rho));
      page.charts?.addTrain(msg);
      page.compare?.baseMetrics(msg);
      renderStatus();
      break;
    case 'eval':
      page.lastEval = msg;
      page.evals.push(msg);
      page.records.push(testRow(msg, page.latest?.lr ?? page.applied.lr, page.applied.rho));
      page.charts?.addTest(msg);
      page.compare?.baseEval(msg);
      renderStatus();
      break;
    case 'inspection':
      page.inspect?.onInspection(msg);
      break;
    case 'saved':
      page.lastWeights = { bytes: msg.bytes, name: weightsFileName(msg.step) };
      page.restartWeights = { bytes: msg.bytes, step: msg.step };
      download(msg.bytes, page.lastWeights.name);
      break;
    case 'snapshot':
      // A fresh engine's first evaluation must not replace the weights a Restart is bringing back.
      if (!page.restoreAfterRestart) page.restartWeights = { bytes: msg.bytes, step: msg.step };
      break;
    case 'loaded':
      // The chosen file fitted: only now is it the last weights (a bad file never replaces them).
      if (page.loadingWeights) {
        page.lastWeights = page.loadingWeights;
        page.restartWeights = { bytes: page.loadingWeights.bytes, step: null };
        page.loadingWeights = null;
      }
      delete page.workerErrors.load;
      render();
      break;
    case 'sharpness': {
      const perEpoch = page.info.stepsPerEpoch;
      const epoch = perEpoch > 0 && Number.isFinite(msg.step) ? msg.step / perEpoch : null;
      page.records.push(curvatureRow(msg, epoch, page.latest?.lr ?? page.applied.lr, page.applied.rho));
      page.probe?.onSharpness(msg);
      renderExport();
      break;
    }
    case 'landscape':
      page.probe?.onLandscape(msg);
      break;
    case 'probing':
      page.probe?.onProbing(msg);
      break;
    case 'progress':
      page.dataProgress = msg;
      renderDataLoad();
      break;
    case 'data':
      page.dataInfo = msg;
      renderDataInfo();
      break;
    case 'domain':
      page.domain = msg;
      render();
      break;
    case 'error':
      if (msg.field === 'load') page.loadingWeights = null; // the file did not fit: forget it
      if (msg.fatal) crash(msg.message, msg.detail, msg.hint);
      else if (PROBE_FIELDS.has(msg.field) && page.probe) {
        page.errorLog.push(msg.message);
        page.probe.onError(msg);
      } else if (msg.field === 'inspect' && page.inspect) {
        page.errorLog.push(msg.message);
        page.inspect.onError(msg);
      } else showError(msg);
      break;
    case 'log':
      console.warn(`samlab engine: ${msg.text}`);
      break;
    case 'done':
      page.pending.delete(msg.id);
      page.probe?.onDone(msg.command, msg.ok);
      page.inspect?.onDone(msg.command);
      render();
      break;
    default:
      break;
  }
}

/** The worker died (uncaught error, panic, lost device) or hung: drop it and offer Restart. */
function crash(message, detail, hint = 'Press Restart to start a fresh engine.') {
  if (page.state === 'crashed') return;
  stopWorker();
  page.compare?.closeAll();
  setState('crashed');
  const reload = page.restartWeights
    ? ` Restart loads back the weights of step ${page.restartWeights.step ?? '?'} (kept in this page's memory).`
    : '';
  showBanner({ message, hint: hint + reload, detail, restart: true });
}

function watchdog() {
  if (!page.worker) return;
  const now = performance.now();
  const { create, command: commandLimit, silence } = page.watchdog;
  for (const { command, sentAt } of page.pending.values()) {
    const limit = command === 'create' ? create : PROBE_COMMANDS.has(command) ? page.watchdog.probe : commandLimit;
    if (now - sentAt > limit) {
      crash(`The training engine did not answer "${command}" within ${Math.round(limit / 1000)} s.`);
      return;
    }
  }
  if (page.state === 'running' && now - page.lastMessageAt > silence) {
    crash(`The training engine has been silent for ${Math.round(silence / 1000)} s.`);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

/** Errors of the sharpness panel's measurements: shown in the panel, not beside a setting. */
const PROBE_FIELDS = new Set(['sharpness', 'trackEvery', 'landscape']);

function showError({ message, hint, field, detail }) {
  page.errorLog.push(message);
  const slot = field && $(`${field}-error`);
  if (slot) {
    page.workerErrors[field] = hint ? `${message} ${hint}` : message;
    render();
    return;
  }
  showBanner({ message, hint, detail });
}

function showBanner({ message, hint = '', detail = '', restart = false }) {
  page.errorLog.push(message);
  $('banner-message').textContent = message;
  $('banner-hint').textContent = hint;
  $('banner-detail').textContent = detail ? `Details: ${detail}` : '';
  $('restart').hidden = !restart;
  $('banner-close').hidden = restart;
  $('banner').hidden = false;
}

function hideBanner() {
  $('banner').hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Buttons

function onStart() {
  if (!canStart()) return;
  page.startClickedAt = performance.now();
  page.firstStepMs = null;
  send({ type: 'start' });
  page.compare?.start();
  setState('running');
}

function onPause() {
  if (page.state === 'running') {
    page.pausing = true;
    send({ type: 'pause' });
    page.compare?.pause();
    render();
  } else if (page.state === 'paused' && Object.keys(pageErrors()).length === 0) {
    send({ type: 'start' });
    page.compare?.start();
    setState('running');
  }
}

function onStep() {
  if (!(page.state === 'ready' || page.state === 'paused') || busy()) return;
  send({ type: 'step', n: 1 });
  page.compare?.step(1);
  render();
}

function onReset() {
  hideBanner();
  page.restoreAfterRestart = false;
  page.restartWeights = null; // a reset starts from fresh weights, so a later crash must too
  startWorker();
}

function onRestart() {
  hideBanner();
  page.restoreAfterRestart = Boolean(page.restartWeights);
  startWorker();
}

function onSave() {
  if (TRAINER_STATES.has(page.state)) send({ type: 'save' });
}

async function onLoadFile() {
  const file = $('load-file').files[0];
  $('load-file').value = '';
  if (!file || !TRAINER_STATES.has(page.state)) return;
  const bytes = new Uint8Array(await file.arrayBuffer());
  page.loadingWeights = { bytes: bytes.slice(), name: file.name }; // kept once the worker says 'loaded'
  delete page.workerErrors.load;
  send({ type: 'load', bytes }, [bytes.buffer]);
  render();
}

function weightsFileName(step) {
  const s = readSettings();
  const widths = isActive(s, 'hidden') ? `-${s.hidden.replace(/\s+/g, '').replace(/,/g, 'x')}` : '';
  return `samlab-${s.dataset}-${s.model}${widths}-${s.optimizer}-${s.sam}-step${step}.safetensors`;
}

// ---------------------------------------------------------------------------------------------
// CIFAR-10 and own IDX files from the user's disk: the file inputs or a drop anywhere on the page

/** The user chose the files of `dataset` ('cifar10' or 'idx'): keep the Files (handles) and
 *  build a trainer on them. */
function useDataFiles(dataset, fileList) {
  const files = [...(fileList ?? [])];
  if (files.length === 0) return; // a cancelled dialog keeps the files chosen before
  const { slot, field, what } = FILE_DATASETS[dataset];
  if (!STRUCTURAL_STATES.has(page.state)) {
    const names = files.map((f) => f.name).join(', ');
    showBanner({ message: `${names} ${files.length === 1 ? 'was' : 'were'} not used: the data set cannot change during a run.`, hint: `Press Reset, then choose ${what} again.` });
    return;
  }
  page.cifarPicks += 1;
  page[slot] = {
    files,
    key: `${page.cifarPicks}:${files.map((f) => `${f.name}:${f.size}:${f.lastModified}`).join('|')}`,
  };
  delete page.workerErrors[field];
  delete page.workerErrors.perClass;
  if ($('dataset').value !== dataset) {
    $('dataset').value = dataset;
    delete page.workerErrors.dataset;
    updateUrl();
  }
  render();
  syncTrainer();
}

function onFileInput(dataset, input) {
  useDataFiles(dataset, input.files);
  input.value = ''; // so choosing the same file again is a new choice
}

/** Dropped files are IDX files when a name says so (…-ubyte, .idx, idx1/idx3) and none is
 *  CIFAR-10's (.bin, .tar, .tgz, cifar…); anything else is taken as CIFAR-10, whose reader says
 *  what is wrong with it. */
function droppedDataset(files) {
  const names = files.map((f) => f.name.toLowerCase());
  const cifar = names.some((n) => /\.bin$|\.tar(\.gz)?$|\.tgz$|cifar/.test(n));
  const idx = names.some((n) => /ubyte|\.idx\d?(\.gz)?$|idx[13]/.test(n));
  return idx && !cifar ? 'idx' : 'cifar10';
}

/** Files dropped anywhere on the page are CIFAR-10 or own IDX files (the browser must not open
 *  them instead). During a run the drop is taken too, so useDataFiles can say why it changes nothing. */
function listenForDrops() {
  const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');
  const usable = () => page.state !== 'checking' && page.state !== 'nogpu';
  document.addEventListener('dragover', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = usable() ? 'copy' : 'none';
    document.body.classList.toggle('dropping', usable());
  });
  document.addEventListener('dragleave', (event) => {
    if (event.relatedTarget === null) document.body.classList.remove('dropping');
  });
  document.addEventListener('drop', (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    document.body.classList.remove('dropping');
    const files = [...(event.dataTransfer.files ?? [])];
    if (usable() && files.length) useDataFiles(droppedDataset(files), files);
  });
}

/** "cifar-10-binary.tar.gz (170.1 MB)" or "6 files (184.4 MB): data_batch_1.bin, …". */
function describeFiles(files) {
  const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
  if (files.length === 1) return `${files[0].name} (${mb(files[0].size)})`;
  const total = files.reduce((sum, f) => sum + f.size, 0);
  return `${files.length} files (${mb(total)}): ${files.map((f) => f.name).join(', ')}`;
}

function download(bytes, name, type = 'application/octet-stream') {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// ---------------------------------------------------------------------------------------------
// The link: URL hash, what it hides, embed=1, Share and Copy embed code

/** Tracking λ_max and tr(H) as the link writes it: the interval as typed while on, else null. */
function trackParam() {
  return $('track').checked ? $('trackEvery').value : null;
}

/** The page's own URL hash: settings, tracking, then the link's view (hidden controls, embed). */
function currentHash(view = page.view) {
  return linkHash(readSettings(), { track: trackParam(), view, compared: page.compare?.hash() ?? '' });
}

/** This page's address with another hash (any query string kept). */
function pageUrl(hash) {
  return `${location.href.replace(/#.*$/, '')}${hash}`;
}

/** Keep the address bar (and so every link the page gives out) in line with the page. */
function updateUrl() {
  history.replaceState(null, '', currentHash());
  $('open-full').href = pageUrl(currentHash(withoutEmbed(page.view)));
}

/** Opens a link's settings, compared runs and view in this page (an experiment preset): a run
 *  in progress is thrown away first (as Reset does), since a link's settings apply only before. */
function applyLink(hash) {
  if (!STRUCTURAL_STATES.has(page.state)) onReset();
  location.hash = hash;
}

/** A link's view and tracking: what it hides, embed=1, `track=N` (tracking on, every N steps). */
function applyLinkView(hash) {
  page.view = viewFromHash(hash);
  page.revealed = new Set();
  const track = trackFromHash(hash);
  $('track').checked = track !== null;
  if (track !== null) $('trackEvery').value = track;
  page.probe?.syncTracking();
}

/** The elements each panel name of `NAME_hide` hides (settings hide their `.field`). */
const PANEL_ELEMENTS = {
  settings: ['settings'],
  weights: ['weights-buttons'],
  export: ['export-buttons'],
  share: ['share-buttons', 'share-text'],
  status: ['status'],
  accuracy: ['chart-accuracy'],
  loss: ['chart-loss'],
  readouts: ['chart-sam'],
  sharpness: ['probe'],
  toy2d: ['toy2d'],
  track: ['track-controls', 'track-note'],
  measure: ['measure', 'measure-result'],
  landscape: ['landscape-row', 'landscape-note', 'landscape-status', 'landscape-error', 'probe-plots'],
  compare: ['compare'],
  inspect: ['inspect'],
};

function hideTargets(name) {
  if (KEYS.includes(name)) return [$(name)?.closest('.field')].filter(Boolean);
  return (PANEL_ELEMENTS[name] ?? []).map((id) => $(id)).filter(Boolean);
}

/** What the link hides stays hidden, unless it has a message to show (an invalid value would
 *  otherwise disable Start without a word); then it stays shown (it must not vanish while the
 *  user fixes it) until a new link. embed=1 is a class on <body> (style.css). */
function renderView(errors) {
  document.body.classList.toggle('embed', page.view.embed);
  const problem = (key) => Boolean(errors[key] ?? page.workerErrors[key]);
  for (const name of HIDEABLE) {
    let hide = isHidden(page.view, name) && !page.revealed.has(name);
    if (hide && KEYS.includes(name)) hide = !problem(name);
    if (hide && name === 'settings') hide = !KEYS.some(problem);
    if (hide && name === 'track') hide = !$('trackEvery-error').textContent;
    if (!hide && isHidden(page.view, name)) page.revealed.add(name);
    for (const el of hideTargets(name)) el.classList.toggle('link-hidden', hide);
  }
}

/** The snippet for a course page: this page with these settings in an 800×600 iframe, embed=1. */
function embedCode() {
  const src = pageUrl(currentHash(withEmbed(page.view)))
    .replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<iframe src="${src}" width="800" height="600" style="border:0" title="samlab: sharpness-aware minimization"`
    + ' loading="lazy" allow="clipboard-write"></iframe>';
}

/** Copy with the Clipboard API; where it is missing or refused (an insecure page, an iframe
 *  without clipboard-write), show the text in a field, select it and try the old copy command. */
async function copyText(text, what) {
  const field = $('share-text');
  field.value = text;
  let how = null;
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      how = 'clipboard';
    }
  } catch {
    // refused: fall back to the selected field
  }
  if (how) {
    field.hidden = true;
  } else {
    field.hidden = false;
    field.focus();
    field.select();
    try {
      if (document.execCommand('copy')) how = 'selection';
    } catch {
      // no copy command either: the selected field says what to copy
    }
  }
  page.lastCopied = { what, text, how };
  const done = what === 'link' ? 'Link copied' : 'Embed code copied';
  $('share-status').textContent = how ? done : 'Copy the selected text (Ctrl+C or ⌘C)';
  clearTimeout(page.shareTimer);
  page.shareTimer = setTimeout(() => { $('share-status').textContent = ''; }, 6000);
}

function onShare() {
  updateUrl();
  copyText(location.href, 'link');
}

function onCopyEmbed() {
  updateUrl();
  copyText(embedCode(), 'embed');
}

// ---------------------------------------------------------------------------------------------
// Export: metrics as CSV and JSON, the charts as PNG (export.js); the weights are Save weights

function exportStem() {
  return fileStem(readSettings(), page.info.step ?? 0);
}

/** The settings in use, as the link holds them (strings, in the link's order). */
function linkSettings(s) {
  return Object.fromEntries(new URLSearchParams(toHash(s).replace(/^#/, '')));
}

function exportJson() {
  const s = readSettings();
  const valid = Object.keys(validate(s)).length === 0;
  const i = page.info;
  const run = {
    state: page.state, step: i.step ?? 0, epoch: i.epoch ?? 0, totalSteps: i.totalSteps ?? null,
    stepsPerEpoch: i.stepsPerEpoch ?? null, passesPerStep: i.passesPerStep ?? null, dataset: i.dataset ?? s.dataset,
    trainCount: i.trainCount ?? null, testCount: i.testCount ?? null, evalEvery: i.evalEvery ?? null,
    adapter: i.adapter ?? null,
  };
  return toJsonExport({
    rows: page.records.map((r) => ({ ...r })),
    settings: linkSettings(s),
    config: valid ? toTrainerConfig(s).config : null,
    link: pageUrl(currentHash(withoutEmbed(page.view))),
    run,
  });
}

function onExportCsv() {
  if (page.records.length === 0) return;
  download(toCsv(page.records), `${exportStem()}.csv`, 'text/csv');
}

function onExportJson() {
  if (page.records.length === 0) return;
  download(`${JSON.stringify(exportJson(), null, 1)}\n`, `${exportStem()}.json`, 'application/json');
}

async function onExportPng() {
  if (!page.charts) return;
  const s = readSettings();
  const hidden = isActive(s, 'hidden') ? ` ${s.hidden}` : '';
  const rho = s.sam !== 'none' ? ` ρ ${s.rho}` : '';
  const title = `samlab · ${s.dataset} · ${MODEL_INFO[s.model]?.name ?? s.model}${hidden} · ${s.optimizer} lr ${s.lr}`
    + ` · ${SAM_INFO[s.sam]?.name ?? s.sam}${rho} · step ${page.info.step ?? 0}`;
  const figures = [...document.querySelectorAll('#charts .chart, #chart-hessian, #landscape-line')];
  const stem = exportStem();
  try {
    const blob = await chartsPng(figures, title);
    if (blob) download(blob, `${stem}.png`, 'image/png');
  } catch (err) {
    showBanner({ message: 'The charts could not be drawn into a PNG.', detail: String(err?.message ?? err) });
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

function setState(state, extra = {}) {
  page.state = state;
  if (extra.detail) page.info.detail = extra.detail;
  render();
}

/** A pending command that keeps the trainer busy (the buttons wait for it). */
function busy() {
  for (const { command } of page.pending.values()) {
    if (['step', 'load', 'save', 'evaluate'].includes(command)) return true;
  }
  return false;
}

function canStart() {
  return page.state === 'ready' && !busy() && Object.keys(pageErrors()).length === 0
    && trainerKey(readSettings()) === page.trainerKey;
}

/** Optional settings of the reproductions' presets (a training subset, shifted test images, gradual domains). */
const EXPERIMENT_KEYS = ['trainPerClass', 'testShift', 'domains'];

function render() {
  const errors = showFieldErrors();
  const valid = Object.keys(errors).length === 0;
  const s = page.state;
  const noGpu = s === 'checking' || s === 'nogpu';
  const hasTrainer = TRAINER_STATES.has(s);

  $('settings').disabled = noGpu;
  const settings = readSettings();
  for (const key of KEYS) {
    const live = LIVE_KEYS.includes(key);
    // Settings not in use (hyperparameters of the other SAM modes, …) are hidden and never sent.
    $(key).disabled = !isActive(settings, key) || (!live && !STRUCTURAL_STATES.has(s));
  }
  for (const key of SAM_RUN_KEYS) $(key).closest('.field').hidden = !isActive(settings, key);
  // The experiments' data settings; an embedded page (small, for a course) shows only those its
  // link sets, so that the charts stay on the first screen.
  let anySet = false;
  for (const key of EXPERIMENT_KEYS) {
    const unset = String(settings[key] ?? '').trim() === '';
    anySet ||= isActive(settings, key) && !unset;
    $(key).closest('.field').hidden = !isActive(settings, key) || (page.view?.embed && unset);
  }
  // Open when a link or preset set one (the user may open or close it otherwise); an embedded page
  // leaves it out unless its link uses it.
  if (anySet) $('more-settings').open = true;
  $('more-settings').hidden = Boolean(page.view?.embed) && !anySet;
  renderData(settings);
  renderSamMode(settings);
  renderRunNotes(settings);
  page.charts?.setSwa(swaOn(settings));
  $('start').disabled = noGpu || !canStart();
  $('pause').disabled = noGpu || page.pausing || !(s === 'running' || (s === 'paused' && valid && !busy()));
  $('pause').textContent = s === 'paused' ? 'Resume' : 'Pause';
  $('step').disabled = noGpu || !(s === 'ready' || s === 'paused') || !valid || busy() || !canStep();
  $('reset').disabled = noGpu;
  $('save').disabled = noGpu || !hasTrainer || busy();
  $('load').disabled = noGpu || !(s === 'ready' || s === 'paused' || s === 'done') || busy();
  page.probe?.render();
  page.inspect?.render();
  renderView(errors);
  renderStatus();
}

/** The CIFAR-10 and own IDX file controls and how to get the files; the data set's progress and
 *  summary; the chosen model's hint. */
function renderData(settings) {
  const linked = new URLSearchParams(page.linkHash.replace(/^#/, '')).get('dataset');
  for (const [dataset, id] of [['cifar10', 'cifar'], ['idx', 'idx']]) {
    const chosen = settings.dataset === dataset;
    const files = page[FILE_DATASETS[dataset].slot];
    $(id).hidden = !chosen;
    $(`${id}File`).disabled = !STRUCTURAL_STATES.has(page.state);
    $(`${id}-howto`).hidden = !chosen || Boolean(files);
    // A link that chose CIFAR-10 or own files brought no file with it.
    $(`${id}-link-note`).hidden = linked !== dataset;
    const name = files ? describeFiles(files.files) : '';
    if ($(`${id}-file-name`).textContent !== name) $(`${id}-file-name`).textContent = name;
    $(`${id}-file-name`).hidden = !name;
  }
  renderDataLoad();
  renderDataInfo();
  const hint = MODEL_INFO[settings.model]?.hint ?? '';
  if ($('model-note').textContent !== hint) $('model-note').textContent = hint;
}

const mbText = (bytes) => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`);
/** "MNIST" stays, "Your IDX files" reads "your IDX files" inside a sentence. */
const inSentence = (label) => label.replace(/^Your /, 'your ');

/** The progress bar while the data loads: determinate while bytes arrive (download, reading the
 *  user's files), indeterminate while they are hashed and parsed. */
function renderDataLoad() {
  const p = page.dataProgress;
  const show = Boolean(p) && page.state === 'loading';
  $('data-load').hidden = !show;
  if (!show) return;
  const bar = $('data-progress');
  const what = inSentence(p.label ?? 'the data');
  const sized = typeof p.total === 'number' && p.total > 0;
  const of = sized ? `: ${mbText(p.loaded)} of ${mbText(p.total)}` : '';
  const text = {
    download: `Downloading ${what}${of}`,
    cache: `Reading ${what} from this browser's cache`,
    read: `Reading ${what}${of}`,
    verify: `Computing the SHA-256 of ${what}`,
    parse: `Parsing ${what}`,
  }[p.stage] ?? `Loading ${what}`;
  if ($('data-progress-label').textContent !== text) $('data-progress-label').textContent = text;
  if (sized) {
    bar.max = p.total;
    bar.value = Math.min(p.loaded, p.total);
  } else if (p.total === 0) {
    bar.max = 1;
    bar.value = 1; // nothing to download: all from the cache
  } else {
    bar.removeAttribute('value'); // indeterminate
  }
  bar.setAttribute('aria-valuetext', text);
  page.progressSeen[p.stage] = { value: bar.hasAttribute('value') ? bar.value : null, max: bar.max };
}

/** Under the data set field: the counts, the size of the files, their SHA-256 (checked against
 *  the build's manifest for MNIST and Fashion-MNIST) and where they came from. */
function dataSummary(d) {
  const [c, h, w] = d.shape ?? [];
  const shape = c === 1 ? `${h}×${w}` : `${h}×${w}×${c}`;
  const bytes = d.files.reduce((sum, f) => sum + f.bytes, 0);
  const count = (n) => Number(n).toLocaleString('en');
  const files = `${mbText(bytes)} in ${d.files.length} file${d.files.length === 1 ? '' : 's'}`;
  const check = d.source === 'disk' ? 'SHA-256 below'
    : d.checked ? 'SHA-256 verified' : 'SHA-256 not checked (needs https or localhost)';
  const source = { cache: 'from the cache', network: 'downloaded', 'network and cache': 'downloaded and from the cache', disk: 'from your disk' }[d.source] ?? '';
  return [`${d.label}: ${count(d.trainCount)} train + ${count(d.testCount)} test images (${shape})`, files, check, source].filter(Boolean).join(' · ');
}

function renderDataInfo() {
  const d = page.dataInfo;
  const show = Boolean(d) && d.dataset === $('dataset').value;
  $('data-info').hidden = !show;
  if (!show || page.dataInfoShown === d) return;
  page.dataInfoShown = d; // (the list is rebuilt only for a new message)
  $('data-summary').textContent = dataSummary(d);
  $('data-summary').title = ['Open for each file\'s size and SHA-256:', ...d.files.map((f) => `${f.name}: SHA-256 ${f.sha256 ?? 'not computed'}`)].join('\n');
  const items = d.files.map((f) => {
    const li = document.createElement('li');
    const hash = document.createElement('code');
    hash.className = 'sha256';
    hash.textContent = f.sha256 ?? 'not computed';
    li.append(`${f.name} · ${f.bytes.toLocaleString('en')} bytes · SHA-256 `, hash, f.verified ? ' ✓ matches the manifest' : '');
    return li;
  });
  $('data-file-list').replaceChildren(...items);
}

/** The service worker (sw.js) keeps the page itself for offline use; the worker keeps the data.
 *  Only where the browser offers it (a secure context: https or localhost). */
function registerServiceWorker() {
  if (!('serviceWorker' in navigator) || !window.isSecureContext || !/^https?:$/.test(location.protocol)) return;
  navigator.serviceWorker.register('./sw.js').catch((err) => {
    console.warn(`samlab: the page will not work offline (${String(err?.message ?? err)})`);
  });
}

/** The chosen SAM mode: its hyperparameter fields, what it does, its paper, its passes per step. */
function renderSamMode(settings) {
  const mode = settings.sam;
  const info = SAM_INFO[mode];
  const active = samParams(mode);
  for (const key of SAM_PARAM_KEYS) {
    const field = $(key).closest('.field');
    field.hidden = !active.includes(key);
    const label = field.querySelector('label');
    const text = info?.labels?.[key] ?? SAM_PARAM_LABELS[key];
    if (label.textContent !== text) label.textContent = text;
    const placeholder = info?.placeholders?.[key] ?? SAM_PARAM_PLACEHOLDERS[key] ?? '';
    if ($(key).placeholder !== placeholder) $(key).placeholder = placeholder;
  }
  $('sam-info').hidden = !info;
  if (!info) return;
  $('sam-about').textContent = info.about;
  $('sam-reference').hidden = !info.paper;
  if (info.paper) {
    $('sam-paper').textContent = info.paper.text;
    $('sam-paper').href = info.paper.url;
  }
  const passes = shownPassesPerStep(settings);
  const latePhase = mode !== 'none' && parseNumber(settings.samStart) > 0;
  let text = passes === null ? '–' : String(Number(passes.toFixed(2)));
  if (mode === 'looksam' && passes !== null) text += ` (2 on each k-th step, 1 between)`;
  const fisher = parseNumber(settings.fisherSamples);
  if (mode === 'ssam' && passes !== null && Number.isInteger(fisher) && fisher >= 1) {
    text += ` (+ ${fisher} one-row passes on each k-th step)`;
  }
  if (mode === 'esam' && passes !== null) text += ' (+ a forward pass at w + ε on the whole batch to rank its rows)';
  if (latePhase && passes !== null && passes !== 1) text += ' (1 before late-phase SAM starts)';
  if ($('sam-passes-value').textContent !== text) $('sam-passes-value').textContent = text;
  let note = {
    none: 'No SAM: there is no L(w+ε) or g1, so only ‖g0‖ is drawn.',
    s2sam: "S2-SAM has no L(w+ε) read-out (it perturbs along the previous step's gradient): no sharpness or cos(g0, g1).",
    msam: 'MSAM has no L(w+ε) read-out (its one pass is at the perturbed point): no sharpness or cos(g0, g1).',
    sampa: 'SAMPa has no L(w+ε) read-out (its gradients are on different batches and points): no sharpness or cos(g0, g1).',
    looksam: 'LookSAM reads L(w+ε) only on its SAM steps (every k-th step); an update without one leaves a gap.',
  }[mode] ?? '';
  if (latePhase && SAM_INFO[mode]?.sharpness !== 'never') {
    note = `${note} Late-phase SAM: no L(w+ε) before SAM starts (a gap).`.trim();
  }
  if ($('sam-chart-note').textContent !== note) $('sam-chart-note').textContent = note;
}

/** The notes under the ρ schedule, late-phase SAM and SWA fields: shown while the setting is on. */
function renderRunNotes(settings) {
  const steps = parseNumber(settings.rhoWarmup);
  const schedule = {
    constant: settings.sam === 'gsam'
      ? 'ρ stays at its value all run (GSAM would otherwise tie it to the learning rate).'
      : 'ρ stays at its value all run.',
    lr: "ρ follows the learning rate (GSAM's rule, between ρ_min and ρ). The page trains at a constant learning rate, so ρ stays ρ.",
    warmup: `ρ grows linearly from ρ/${Number.isInteger(steps) && steps > 0 ? steps : 'N'} to ρ over the first ${Number.isInteger(steps) && steps > 0 ? steps : 'N'} steps, then stays.`,
  }[settings.rhoSchedule] ?? '';
  const note = $('rhoSchedule-note');
  if (note.textContent !== schedule) note.textContent = schedule;
  note.hidden = !schedule || !isActive(settings, 'rhoSchedule');
  const on = (key) => isActive(settings, key) && String(settings[key] ?? '').trim() !== '';
  $('samStart-note').hidden = !on('samStart');
  $('swaStart-note').hidden = !on('swaStart');
}

/** Passes per step: the trainer's own number once it is built for these settings, else the mode's. */
function shownPassesPerStep(settings) {
  const fromTrainer = page.info.passesPerStep;
  if (typeof fromTrainer === 'number' && page.trainerKey === trainerKey(settings) && TRAINER_STATES.has(page.state)) {
    return fromTrainer;
  }
  return passesPerStep(settings);
}

function canStep() {
  return page.state === 'paused' || trainerKey(readSettings()) === page.trainerKey;
}

const STATE_TEXT = {
  checking: 'Checking for WebGPU…',
  nogpu: 'WebGPU is not available',
  idle: 'Fix the highlighted settings to build the model',
  ready: 'Ready: press Start',
  running: 'Training',
  paused: 'Paused',
  done: 'Done: press Reset to train again',
  failed: 'The model could not be built (see the message)',
  crashed: 'The training engine stopped: press Restart',
};

function renderStatus() {
  const s = page.state;
  const info = page.info;
  let text = STATE_TEXT[s] ?? s;
  if (s === 'idle' && missingData(readSettings())) text = `Choose ${FILE_DATASETS[readSettings().dataset].what} to build the model`;
  if (s === 'loading') text = `${info.detail ?? 'Loading'}…`;
  if (s === 'running' && page.pausing) text = 'Pausing…';
  $('status-state').textContent = text;
  const settings = readSettings();
  // Gradual self-training runs the epochs once for the source and once per domain.
  const domains = isActive(settings, 'domains') ? parseDomains(settings.domains) : null;
  const epochs = parseNumber($('epochs').value) * (domains ? domains.length + 1 : 1);
  const step = info.step ?? 0;
  $('status-progress').textContent = info.totalSteps
    ? `epoch ${(info.epoch ?? 0).toFixed(2)} / ${Number.isFinite(epochs) ? epochs : '?'} · step ${step} / ${info.totalSteps}`
    : '';
  const m = page.latest;
  $('status-speed').textContent = m && m.samplesPerSecond
    ? `${Math.round(m.samplesPerSecond).toLocaleString('en')} samples/s (${m.msPerStep.toFixed(1)} ms/step)`
    : '';
  const d = page.domain;
  $('status-domain').textContent = d
    ? `self-training on domain ${d.stage} of ${d.domains} (${d.angle}°): ${(d.pseudoLabelAccuracy * 100).toFixed(1)}% of its pseudo-labels right`
    : domains ? `source domain (0°); tested at ${domains[domains.length - 1]}°` : '';
  const e = page.lastEval;
  const swa = e?.swa ? ` · SWA ${(e.swa.accuracy * 100).toFixed(2)}%` : '';
  $('status-test').textContent = e ? `test accuracy ${(e.accuracy * 100).toFixed(2)}%${swa} (step ${e.step})` : '';
  // wgpu names the adapter from the browser's (often empty) adapter info; the page's own
  // requestAdapter() knows the vendor and architecture.
  let adapter = (info.adapter ?? '').trim();
  if (!adapter || adapter.startsWith('(')) adapter = `${page.adapterHint} ${adapter}`.trim();
  $('status-adapter').textContent = adapter ? `adapter: ${adapter}` : '';
  renderExport();
}

function renderExport() {
  const none = page.records.length === 0;
  $('export-csv').disabled = none;
  $('export-json').disabled = none;
  $('export-png').disabled = none || !page.charts;
}

// ---------------------------------------------------------------------------------------------
// Start-up

async function findWebGpu() {
  if (!navigator.gpu) {
    return { ok: false, reason: 'This browser does not offer WebGPU, which samlab uses to train on your GPU.' };
  }
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) {
      return { ok: false, reason: 'This browser has WebGPU, but it found no GPU adapter to use (the GPU may be blocklisted or switched off).' };
    }
    const i = adapter.info ?? {};
    return { ok: true, adapter: [i.vendor, i.architecture, i.description].filter(Boolean).join(' ') };
  } catch (err) {
    return { ok: false, reason: `This browser's WebGPU could not find an adapter (${String(err?.message ?? err)}).` };
  }
}

async function setUpCharts() {
  try {
    const { Charts } = await import('./charts.js');
    const plot = (id) => $(id).querySelector('.plot');
    page.charts = new Charts({ accuracy: plot('chart-accuracy'), loss: plot('chart-loss'), sam: plot('chart-sam') });
  } catch (err) {
    showBanner({ message: 'The charts could not be loaded; training still works, and the status line shows progress.', detail: String(err?.message ?? err) });
  }
  try {
    const { Comparison } = await import('./compare.js');
    page.compare = new Comparison({
      base: readSettings,
      data: datasetFor,
      evalEvery: () => page.evalEvery,
      onChange: updateUrl,
      applyLink,
    });
    // (The address was already rewritten from the settings: the link as opened has the runs.)
    page.compare.setFromLink(comparedFromHash(page.linkHash));
    updateUrl();
  } catch (err) {
    $('compare').hidden = true;
    showBanner({ message: 'Compared runs could not be set up; training still works.', detail: String(err?.message ?? err) });
  }
  try {
    const { ProbePanel } = await import('./probe.js');
    page.probe = new ProbePanel({
      send,
      context: () => ({ state: page.state, settings: readSettings(), latest: page.latest, info: page.info, weights: page.lastWeights }),
    });
  } catch (err) {
    $('probe').hidden = true;
    showBanner({ message: 'The sharpness panel could not be loaded; training still works.', detail: String(err?.message ?? err) });
  }
  try {
    const { InspectPanel } = await import('./inspect.js');
    page.inspect = new InspectPanel({ send, context: () => ({ state: page.state, info: page.info }) });
  } catch (err) {
    $('inspect').hidden = true;
    showBanner({ message: 'The inspection panel could not be loaded; training still works.', detail: String(err?.message ?? err) });
  }
}

/** SAM in two dimensions (toy2d.js): its own wasm instance and GPU device in this thread, loaded
 *  when the panel comes into view (docs/web.md). */
async function setUpToy2d() {
  try {
    const { Toy2dPanel } = await import('./toy2d.js');
    page.toy2d = new Toy2dPanel($('toy2d'));
  } catch (err) {
    $('toy2d').hidden = true;
    showBanner({ message: 'The two-dimensional SAM view could not be loaded; training still works.', detail: String(err?.message ?? err) });
  }
}

/** The page's own URL parameters (for tests), besides the settings. */
const PAGE_PARAMS = ['evalEvery', 'watchdog'];

/** A link with keys that are no setting or choices the page does not offer: say what was ignored. */
function reportLinkProblems() {
  const problems = linkProblems(location.hash, PAGE_PARAMS);
  if (problems.length === 0) return;
  showBanner({
    message: `This link has settings the page cannot use: ${problems.join(', ')}.`,
    hint: 'They were left at their defaults; check the settings before you start.',
  });
}

async function main() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ''));
  page.evalEvery = Math.max(0, Math.floor(Number(params.get('evalEvery')) || 0));
  const watchdogSeconds = Number(params.get('watchdog'));
  // (At least 1 s: a shorter watchdog would call every command dead.)
  if (watchdogSeconds >= 1) Object.assign(page.watchdog, { command: watchdogSeconds * 1000, silence: watchdogSeconds * 1000 });
  page.linkHash = location.hash;
  writeSettings(fromHash(location.hash));
  applyLinkView(location.hash);
  reportLinkProblems();
  updateUrl();

  for (const key of KEYS) $(key).addEventListener('input', onSettingInput);
  $('controls').addEventListener('submit', (event) => event.preventDefault());
  $('start').addEventListener('click', onStart);
  $('pause').addEventListener('click', onPause);
  $('step').addEventListener('click', onStep);
  $('reset').addEventListener('click', onReset);
  $('restart').addEventListener('click', onRestart);
  $('banner-close').addEventListener('click', hideBanner);
  $('save').addEventListener('click', onSave);
  $('load').addEventListener('click', () => $('load-file').click());
  $('load-file').addEventListener('change', onLoadFile);
  $('cifarFile').addEventListener('click', () => $('cifar-file-input').click());
  $('cifar-file-input').addEventListener('change', () => onFileInput('cifar10', $('cifar-file-input')));
  $('idxFile').addEventListener('click', () => $('idx-file-input').click());
  $('idx-file-input').addEventListener('change', () => onFileInput('idx', $('idx-file-input')));
  $('share').addEventListener('click', onShare);
  $('copy-embed').addEventListener('click', onCopyEmbed);
  $('export-csv').addEventListener('click', onExportCsv);
  $('export-json').addEventListener('click', onExportJson);
  $('export-png').addEventListener('click', onExportPng);
  $('track').addEventListener('change', updateUrl);
  $('trackEvery').addEventListener('input', updateUrl);
  listenForDrops();
  window.addEventListener('hashchange', () => {
    // What the link shows and tracks applies at any time; its settings only before a run.
    // The address then shows what the page uses, as after loading a link.
    applyLinkView(location.hash);
    if (!STRUCTURAL_STATES.has(page.state)) {
      updateUrl();
      render();
      return;
    }
    page.linkHash = location.hash;
    writeSettings(fromHash(location.hash));
    page.compare?.setFromLink(comparedFromHash(location.hash));
    reportLinkProblems();
    updateUrl();
    render();
    const key = page.trainerKey;
    syncTrainer();
    // A's trainer stays (same structure): the link's compared runs are built beside it.
    if (page.trainerKey === key) page.compare?.buildRows();
  });

  render();
  registerServiceWorker();
  await setUpCharts();
  const gpu = await findWebGpu();
  if (!gpu.ok) {
    $('nogpu-reason').textContent = gpu.reason;
    $('nogpu').hidden = false;
    setState('nogpu');
    return;
  }
  page.adapterHint = gpu.adapter;
  setInterval(watchdog, Math.min(2000, page.watchdog.silence / 4));
  startWorker();
  setUpToy2d();
}

function copyEval(e) {
  return { ...e, ...(e.swa !== undefined && { swa: e.swa && { ...e.swa } }) };
}

// Read-only view for tests and the curious (the page never reads it).
window.samlab = Object.freeze({
  get state() { return page.state; },
  get info() { return { ...page.info }; },
  get latest() { return page.latest && { ...page.latest }; },
  /** Evaluations carry `swa` ({loss, accuracy, samples} of the SWA average, or null before it
   *  starts) when SWA is on. */
  get lastEval() { return page.lastEval && copyEval(page.lastEval); },
  get evals() { return page.evals.map(copyEval); },
  get history() { return page.charts?.snapshot() ?? null; },
  get firstStepMs() { return page.firstStepMs; },
  get errors() { return page.errorLog.slice(); },
  get pending() { return [...page.pending.values()].map((p) => p.command); },
  get settings() { return readSettings(); },
  /** Forward/backward passes per step as the page shows it (the trainer's once it is built). */
  get passesPerStep() { return shownPassesPerStep(readSettings()); },
  get hasSavedWeights() { return Boolean(page.lastWeights); },
  /** Names of the CIFAR-10 files chosen (empty when none). */
  get cifarFiles() { return page.cifar ? page.cifar.files.map((f) => f.name) : []; },
  /** Names of the own IDX files chosen (empty when none). */
  get idxFiles() { return page.idx ? page.idx.files.map((f) => f.name) : []; },
  /** The data set of the trainer (the worker's 'data' message: dataset, label, trainCount,
   *  testCount, shape, source, checked, files: [{name, bytes, sha256, verified}]), null before. */
  get data() { return page.dataInfo && structuredClone(page.dataInfo); },
  /** stage → {value, max}: what the progress bar last showed in each stage of this page. */
  get dataProgress() { return structuredClone(page.progressSeen); },
  /** Whether a service worker controls this page (it was loaded through it). */
  get offlineReady() { return Boolean(navigator.serviceWorker?.controller); },
  /** The link's view: {embed, hidden: the names of NAME_hide that are hidden now}. */
  get view() {
    const hidden = HIDEABLE.filter((name) => hideTargets(name).some((el) => el.classList.contains('link-hidden')));
    return { embed: page.view.embed, hidden };
  },
  /** What Share copies (this page's link) and what Copy embed code copies. */
  get link() { return pageUrl(currentHash()); },
  get embedCode() { return embedCode(); },
  /** The last copy: {what: 'link' | 'embed', text, how: 'clipboard' | 'selection' | null}. */
  get lastCopied() { return page.lastCopied && { ...page.lastCopied }; },
  /** The rows of the CSV/JSON exports (export.js COLUMNS), and the JSON export itself. */
  get exportRows() { return page.records.map((r) => ({ ...r })); },
  exportJson() { return exportJson(); },
  /** The sharpness panel: {tracking: {on, every}, series: {step, lambda, trace, traceError} (the
   *  tracked measurements of this run), drawn (points in its chart), lastMeasure ("Measure now"),
   *  line and plane (the last landscapes, as the worker sent them), planeContours (contour-line
   *  paths drawn), busy ('sharpness' | 'landscape' | null), errors (the panel's messages)}. */
  get sharpness() { return page.probe?.snapshot() ?? null; },
  /** SAM in two dimensions: {loaded, surface, start, runs: {sgd|sam|asam: {sam, rho, lr, points
   *  (as Surface2d.step returned them)}}, drawn: {id: {path, ascent, descent}} (the plotted points),
   *  arrows, contours, busy, playing, error}; null before toy2d.js loads. */
  get toy2d() { return page.toy2d?.snapshot() ?? null; },
  /** The inspection panel (inspect.js, `snapshot()`): what it shows and for which step. */
  get inspection() { return page.inspect?.snapshot() ?? null; },
  /** Test hook: a sharpness request exactly as given (e.g. an invalid one), answered in the panel. */
  requestSharpness(request) { page.probe?.requestRaw(request); },
  /** Test hooks: the worker throws an uncaught error / stops answering, as a crashed engine does. */
  /** Compared runs: {axis, labels, runs: [{name, state, error, overrides, train, test}], drawn}
   *  (train/test points carry step, epoch, gradEvals, seconds, loss, accuracy; test also gap). */
  get compare() { return page.compare?.snapshot() ?? null; },
  /** Test hook: the weights of compared run i (1 = B) now, as safetensors bytes. */
  compareWeights(i) { return page.compare.weights(i); },
  simulateCrash() { send({ type: '__crash' }); },
  simulateHang() { send({ type: '__hang' }); },
  loseDevice() { send({ type: '__loseDevice' }); },
});

main();
