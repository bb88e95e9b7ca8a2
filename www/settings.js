// The page's settings: defaults, validation, the URL hash and the Trainer config.
//
// Pure functions on plain objects of raw strings (what the inputs hold), so they run in Node too
// (tests/page/settings.test.mjs). A setting is kept as the text the user typed until it is
// validated; only valid settings become a config.

export const DATASETS = ['mnist', 'fashion-mnist'];
export const MODELS = ['mlp'];
/** Page optimizers: "sgd" is plain SGD (momentum 0), "momentum" is SGD with momentum 0.9. */
export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'adamw'];
export const SAM_MODES = ['none', 'sam', 'asam', 'asam-davda54'];

/** ρ that suits each SAM mode (the trainer's own defaults). */
export const DEFAULT_RHO = { none: '0.05', sam: '0.05', asam: '0.5', 'asam-davda54': '2.0' };
/** Learning rate that suits each optimizer (the trainer's own defaults). */
export const DEFAULT_LR = { sgd: '0.05', momentum: '0.05', adam: '0.001', adamw: '0.001' };

export const DEFAULTS = Object.freeze({
  dataset: 'mnist',
  model: 'mlp',
  hidden: '256,256',
  optimizer: 'momentum',
  sam: 'sam',
  rho: DEFAULT_RHO.sam,
  lr: DEFAULT_LR.momentum,
  batchSize: '128',
  epochs: '2',
  seed: '0',
  labelNoise: '0',
});

/** Settings names, in the order they appear in the URL hash. */
export const KEYS = Object.keys(DEFAULTS);

/** Settings the worker can change on a live trainer (everything else needs a new one). */
export const LIVE_KEYS = ['lr', 'rho'];

const CHOICES = { dataset: DATASETS, model: MODELS, optimizer: OPTIMIZERS, sam: SAM_MODES };

const MAX_HIDDEN_LAYERS = 4;
const MAX_WIDTH = 4096;
const MAX_BATCH = 4096;
const MAX_EPOCHS = 1000;
const MAX_SEED = 2 ** 32 - 1;

/** A number typed by a person: decimal or exponent notation, nothing else ("", "abc", "1,5" → NaN). */
export function parseNumber(text) {
  const t = String(text ?? '').trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return NaN;
  return Number(t);
}

function parseWholeNumber(text, min, max) {
  const v = parseNumber(text);
  return Number.isInteger(v) && v >= min && v <= max ? v : null;
}

/** "256, 256" → [256, 256]; null when any width is not a whole number in range. */
export function parseHidden(text) {
  const parts = String(text ?? '').split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === '') return null;
  if (parts.length > MAX_HIDDEN_LAYERS) return null;
  const widths = parts.map((p) => parseWholeNumber(p, 1, MAX_WIDTH));
  return widths.includes(null) ? null : widths;
}

/**
 * Check every setting; returns {field: message} for the invalid ones (empty when all are fine).
 * Messages are plain sentences meant to sit beside the field.
 */
export function validate(s) {
  const errors = {};
  for (const [key, choices] of Object.entries(CHOICES)) {
    if (!choices.includes(s[key])) errors[key] = `Choose one of: ${choices.join(', ')}.`;
  }
  const lr = parseNumber(s.lr);
  // No upper limits on lr and ρ: watching a run diverge is part of the lesson (the worker pauses
  // it with a message).
  if (!(Number.isFinite(lr) && lr > 0)) {
    errors.lr = 'The learning rate must be a number above 0 (try 0.05 for SGD, 0.001 for Adam).';
  }
  if (s.sam !== 'none') {
    const rho = parseNumber(s.rho);
    if (!(Number.isFinite(rho) && rho >= 0)) {
      errors.rho = `ρ must be a number of at least 0 (try ${DEFAULT_RHO[s.sam] ?? '0.05'}).`;
    }
  }
  if (parseHidden(s.hidden) === null) {
    errors.hidden = `Give 1 to ${MAX_HIDDEN_LAYERS} widths from 1 to ${MAX_WIDTH}, separated by commas (e.g. 256,256).`;
  }
  if (parseWholeNumber(s.batchSize, 1, MAX_BATCH) === null) {
    errors.batchSize = `The batch size must be a whole number from 1 to ${MAX_BATCH}.`;
  }
  if (parseWholeNumber(s.epochs, 1, MAX_EPOCHS) === null) {
    errors.epochs = `Epochs must be a whole number from 1 to ${MAX_EPOCHS}.`;
  }
  if (parseWholeNumber(s.seed, 0, MAX_SEED) === null) {
    errors.seed = `The seed must be a whole number from 0 to ${MAX_SEED}.`;
  }
  const noise = parseNumber(s.labelNoise);
  if (!(Number.isFinite(noise) && noise >= 0 && noise < 1)) {
    errors.labelNoise = 'Label noise is a share of the training labels: at least 0 and below 1 (e.g. 0.2).';
  }
  return errors;
}

/**
 * Valid settings → {dataset, config} for the worker's `create` message. `config` uses the
 * Trainer's keys and leaves out what does not apply (momentum for Adam, ρ without SAM).
 */
export function toTrainerConfig(s) {
  const sgdFamily = s.optimizer === 'sgd' || s.optimizer === 'momentum';
  const config = {
    model: s.model,
    hidden: parseHidden(s.hidden),
    optimizer: sgdFamily ? 'sgd' : s.optimizer,
    lr: parseNumber(s.lr),
    sam: s.sam,
    batchSize: parseNumber(s.batchSize),
    epochs: parseNumber(s.epochs),
    seed: parseNumber(s.seed),
    labelNoise: parseNumber(s.labelNoise),
  };
  if (sgdFamily) config.momentum = s.optimizer === 'momentum' ? 0.9 : 0;
  if (s.sam !== 'none') config.rho = parseNumber(s.rho);
  return { dataset: s.dataset, config };
}

/**
 * A key for "would these settings build the same trainer?": everything except the settings a
 * live trainer can change (lr, ρ).
 */
export function structureKey(s) {
  return JSON.stringify(KEYS.filter((k) => !LIVE_KEYS.includes(k)).map((k) => s[k]));
}

/** Settings from a URL hash such as "#optimizer=sgd&sam=sam&rho=0.05"; unknown keys are ignored. */
export function fromHash(hash) {
  const s = { ...DEFAULTS };
  const params = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  for (const key of KEYS) {
    if (!params.has(key)) continue;
    const value = params.get(key);
    // A choice the page does not offer falls back to the default rather than an empty select.
    if (CHOICES[key] && !CHOICES[key].includes(value)) continue;
    s[key] = value;
  }
  // A hash that names a SAM mode or optimizer without ρ or lr gets that mode's default.
  if (!params.has('rho') && params.has('sam')) s.rho = DEFAULT_RHO[s.sam];
  if (!params.has('lr') && params.has('optimizer')) s.lr = DEFAULT_LR[s.optimizer];
  return s;
}

/** The URL hash for settings (every key, so a shared link reproduces the run exactly). */
export function toHash(s) {
  const params = new URLSearchParams();
  for (const key of KEYS) params.set(key, String(s[key] ?? ''));
  return '#' + params.toString().replace(/%2C/gi, ',');
}
