// The page's settings: defaults, validation, the URL hash and the Trainer config.
//
// Pure functions on plain objects of raw strings (what the inputs hold), so they run in Node too
// (tests/page/settings.test.mjs). A setting is kept as the text the user typed until it is
// validated; only valid settings become a config.

/** "cifar10" and "idx" (your own IDX files) come from the user's disk (a link cannot carry them;
 *  the page says so). */
export const DATASETS = ['mnist', 'fashion-mnist', 'cifar10', 'idx'];
export const MODELS = ['mlp', 'lenet', 'tfjs-convnet', 'resnet8'];
/** Training-set augmentation: random crops padded by 1/8 of the image, plus flips for colour. */
export const AUGMENT = ['off', 'on'];
/** Page optimizers: "sgd" is plain SGD (momentum 0), "momentum" is SGD with momentum 0.9. */
export const OPTIMIZERS = ['sgd', 'momentum', 'adam', 'adamw'];
export const SAM_MODES = [
  'none', 'sam', 'asam', 'asam-davda54', 'gsam', 'fsam', 'looksam', 's2sam', 'crsam', 'sam-linf', 'msam', 'nstep', 'msharp',
  'sampa', 'ssam', 'ssam-d', 'esam', 'rsam', 'mup2',
];
/** ρ schedules: "" leaves it to the mode (constant; GSAM: tied to lr), "warmup" takes rhoWarmup steps. */
export const RHO_SCHEDULES = ['', 'constant', 'lr', 'warmup'];

/** ρ that suits each SAM mode (the trainer's own defaults; they live on different scales). */
export const DEFAULT_RHO = {
  none: '0.05', sam: '0.05', asam: '0.5', 'asam-davda54': '2.0', gsam: '0.05', fsam: '0.1',
  looksam: '0.3', s2sam: '0.05', crsam: '0.1', 'sam-linf': '0.005', msam: '0.3', nstep: '0.05', msharp: '0.05',
  sampa: '0.1', ssam: '0.05', 'ssam-d': '0.05', esam: '0.05', rsam: '0.05', mup2: '0.05',
};
/**
 * What the page says about each model: its name in the select and a hint under it (its layers,
 * and the settings that suit it; none for the MLP, whose widths field says it all, so the
 * default page keeps Start on a 720 px screen). `batchNorm`: the model keeps running statistics.
 */
export const MODEL_INFO = Object.freeze({
  mlp: { name: 'MLP (ReLU)', hint: '' },
  lenet: {
    name: 'LeNet-5',
    hint: 'conv 5×5×6 → pool → conv 5×5×16 → pool → 120 → 84 → 10. Try SGD + momentum at lr 0.05 (or Adam at 0.002), batch 32–128.',
  },
  'tfjs-convnet': {
    name: 'tfjs convnet',
    hint: 'The TensorFlow.js MNIST example: conv 5×5×8 → pool → conv 5×5×16 → pool → 10. Try SGD + momentum at lr 0.05, dropout 0.25.',
  },
  resnet8: {
    name: 'ResNet-8',
    batchNorm: true,
    hint: 'conv 3×3×16 + BatchNorm, residual blocks of 16, 32, 64 channels, average pool → 10; for CIFAR-10, the slowest here. Try SGD + momentum at lr 0.05, augmentation on. With SWA the average gets its own BatchNorm statistics.',
  },
});

/** CIFAR-10 has 5,000 training images per class; the test split keeps a fifth as many per class. */
export const CIFAR_MAX_PER_CLASS = 5000;

/** Learning rate that suits each optimizer (the trainer's own defaults). */
export const DEFAULT_LR = { sgd: '0.05', momentum: '0.05', adam: '0.001', adamw: '0.001' };

/**
 * The SAM variants' own hyperparameters besides ρ, with the trainer's (reference) defaults.
 * Setting key = Trainer config key. rhoMin is optional: empty means ρ_min = ρ (and so is n-step's
 * α: see SAM_INFO.nstep.optional). k is LookSAM's period here; SSAM's and SSAM-D's (their mask's)
 * defaults to 100. Modes that reuse a key for another quantity set their own default in SAM_INFO
 * (ESAM's β and γ, R-SAM's σ and λ, SAMPa's λ).
 */
export const SAM_PARAM_DEFAULTS = Object.freeze({
  eta: '0.01', alpha: '0.2', sigma: '1', lambda: '0.95', k: '5', gamma: '0.1', beta: '0.01', rhoMin: '', n: '2', m: '32',
  sparsity: '0.5', fisherSamples: '16', dropRate: '0.5', baseWidth: '64',
});
/** Every SAM hyperparameter a mode can have (ρ included), in the page's order. */
export const SAM_PARAM_KEYS = ['rho', ...Object.keys(SAM_PARAM_DEFAULTS)];

/**
 * What the page says about each SAM mode: its name in the select, the hyperparameters it takes
 * (in field and hash order), labels that differ from the generic ones, the forward/backward
 * passes per step, whether it reads out L(w+ε) on every step, a one-line explanation and the paper.
 * `defaults` overrides SAM_PARAM_DEFAULTS for this mode, `optional` lists its hyperparameters that
 * may stay empty (= ρ; left to the trainer), `placeholders` what an empty field shows.
 * Details and the exact rules: docs/sam-variants.md.
 */
export const SAM_INFO = Object.freeze({
  none: {
    name: 'none (plain optimizer)', params: [], passes: 1, sharpness: 'never',
    about: 'No perturbation: the optimizer steps along the plain gradient g0.',
    paper: null,
  },
  sam: {
    name: 'SAM', params: ['rho'], passes: 2, sharpness: 'always',
    about: 'Steps with the gradient taken at w + ρ·g0/‖g0‖, the worst point of an ℓ2 ball of radius ρ.',
    paper: { text: 'Foret et al., ICLR 2021', url: 'https://arxiv.org/abs/2010.01412' },
  },
  asam: {
    name: 'ASAM (adaptive)', params: ['rho', 'eta'], passes: 2, sharpness: 'always',
    about: 'SAM with the ball stretched per weight by |w| + η (weights only), so ρ does not depend on how the weights are scaled.',
    paper: { text: 'Kwon et al., ICML 2021', url: 'https://arxiv.org/abs/2102.11600' },
  },
  'asam-davda54': {
    name: 'ASAM (davda54 form)', params: ['rho'], passes: 2, sharpness: 'always',
    about: 'Adaptive SAM as davda54/sam computes it with adaptive=True: stretched by |w| on every tensor, biases too, no η.',
    paper: { text: 'davda54/sam, adaptive=True (after Kwon et al., ICML 2021)', url: 'https://github.com/davda54/sam' },
  },
  gsam: {
    name: 'GSAM (surrogate gap)', params: ['rho', 'alpha', 'rhoMin'], passes: 2, sharpness: 'always',
    labels: { alpha: 'α (gap weight)' },
    about: "SAM's gradient minus α times the part of g0 orthogonal to it, which also shrinks the surrogate gap L(w+ε) − L(w).",
    paper: { text: 'Zhuang et al., ICLR 2022', url: 'https://arxiv.org/abs/2203.08065' },
  },
  fsam: {
    name: 'F-SAM (friendly)', params: ['rho', 'sigma', 'lambda'], passes: 2, sharpness: 'always',
    about: 'Ascends along g0 minus σ times an EMA (decay λ) of past gradients, leaving out the full-gradient part of the perturbation.',
    paper: { text: 'Li et al., CVPR 2024', url: 'https://arxiv.org/abs/2403.12350' },
  },
  looksam: {
    name: 'LookSAM (SAM every k steps)', params: ['rho', 'k', 'alpha'], passes: null, sharpness: 'some',
    labels: { alpha: 'α (reuse weight)' },
    about: 'A full SAM step every k steps; the steps between take one pass and add α·‖g‖ times the stored SAM direction.',
    paper: { text: 'Liu et al., CVPR 2022', url: 'https://arxiv.org/abs/2203.02714' },
  },
  s2sam: {
    name: 'S2-SAM (single step)', params: ['rho'], passes: 1, sharpness: 'never',
    about: "One pass per step: perturbs along the previous step's gradient, so there is no L(w+ε) read-out.",
    paper: { text: 'Ji et al., NeurIPS 2024 (reference code)', url: 'https://github.com/jjsrf/SSAM-NEURIPS2024' },
  },
  crsam: {
    name: 'CR-SAM (curvature-regularised)', params: ['rho', 'gamma', 'beta'], passes: 3, sharpness: 'always',
    about: 'Gradients at w + ε and w − ε: adds γ times their curvature term (g₊ + g₋ − 2·g0) and β times their difference.',
    paper: { text: 'Wu et al., AAAI 2024', url: 'https://arxiv.org/abs/2312.13555' },
  },
  'sam-linf': {
    name: 'SAM-L∞ (ℓ∞ ball)', params: ['rho'], passes: 2, sharpness: 'always',
    about: 'Moves every weight by ρ·sign(g0): the worst point of an ℓ∞ ball, so ρ is far smaller than SAM\'s.',
    paper: { text: 'the p = ∞ ball of Foret et al., ICLR 2021 (general p-norm form)', url: 'https://arxiv.org/abs/2010.01412' },
  },
  msam: {
    name: 'MSAM (momentum direction)', params: ['rho'], passes: 1, sharpness: 'never',
    about: 'One pass per step: the gradient is taken at w − ρ·v/‖v‖, along the negative SGD momentum v, so it needs SGD with momentum and has no L(w+ε) read-out.',
    paper: { text: 'Becker et al., 2024', url: 'https://arxiv.org/abs/2401.12033' },
  },
  nstep: {
    name: 'n-step SAM (multi-step ascent)', params: ['rho', 'n', 'alpha'], passes: null, sharpness: 'always',
    labels: { alpha: 'α (ascent step)' }, defaults: { alpha: '' }, optional: ['alpha'], placeholders: { alpha: '= ρ' },
    about: 'n normalised ascent steps of size α from w, each projected back into the ρ-ball, then the gradient at the point reached (n = 1 with α = ρ is SAM).',
    paper: { text: 'Andriushchenko & Flammarion, ICML 2022', url: 'https://arxiv.org/abs/2206.06232' },
  },
  sampa: {
    name: 'SAMPa (two parallel gradients)', params: ['rho', 'lambda'], passes: 2, sharpness: 'never',
    labels: { lambda: 'λ (look-ahead weight)' }, defaults: { lambda: '0.2' },
    about: "Two independent gradients per step, at w + ε on the previous batch and at SGD's look-ahead point on this one, mixed 1−λ : λ; plain SGD only, no L(w+ε) read-out.",
    paper: { text: 'Xie, Pethick & Cevher, NeurIPS 2024', url: 'https://github.com/LIONS-EPFL/SAMPa' },
  },
  msharp: {
    name: 'm-sharpness (an ε per m rows)', params: ['rho', 'm'], passes: 2, sharpness: 'always',
    about: 'Splits the batch into sub-batches of m rows, perturbs each by its own ε and steps with the mean of their gradients (m = batch size is SAM).',
    paper: { text: 'Foret et al., ICLR 2021, §4 (m-sharpness)', url: 'https://arxiv.org/abs/2010.01412' },
  },
  ssam: {
    name: 'SSAM (sparse, Fisher mask)', params: ['rho', 'sparsity', 'fisherSamples', 'k'], passes: 2, sharpness: 'always',
    defaults: { k: '100' },
    about: 'SAM with ε = mask ⊙ ρ·g0/‖g0‖; the mask keeps the 1 − s share of parameters with the most Fisher information (Σ g² over N_s single rows), renewed every k steps.',
    paper: { text: 'Mi et al., NeurIPS 2022', url: 'https://arxiv.org/abs/2210.05177' },
  },
  'ssam-d': {
    name: 'SSAM-D (sparse, dynamic mask)', params: ['rho', 'sparsity', 'dropRate', 'k'], passes: 2, sharpness: 'always',
    defaults: { k: '100' },
    about: 'SAM with ε = mask ⊙ ρ·g0/‖g0‖; the mask starts random (1 − s of the parameters) and every k steps the live parameters with the smallest |g0| die and as many dead ones regrow at random; the share replaced, dr·(1 + cos(πt/T))/2, decays over the run.',
    paper: { text: 'Mi et al., NeurIPS 2022', url: 'https://github.com/Mi-Peng/Sparse-Sharpness-Aware-Minimization' },
  },
  esam: {
    name: 'ESAM (efficient SAM)', params: ['rho', 'gamma', 'beta'], passes: null, sharpness: 'always',
    labels: { gamma: 'γ (batch share)', beta: 'β (keep probability)' }, defaults: { gamma: '0.5', beta: '0.5' },
    about: 'SAM on a random subset of tensors (each kept with probability β, ε scaled by 1/β), and the second gradient only on the γ share of the batch whose loss rose most at w + ε.',
    paper: { text: 'Du et al., ICLR 2022', url: 'https://github.com/dydjw9/Efficient_SAM' },
  },
  rsam: {
    name: 'R-SAM (random start)', params: ['rho', 'sigma', 'lambda'], passes: 2, sharpness: 'always',
    labels: { sigma: 'σ (noise scale)', lambda: 'λ (gradient step)' }, defaults: { sigma: '0.001', lambda: '2' },
    about: 'The ascent starts from a random point: δ0 ~ N(0, (σ·‖w_row‖)²) per weight row, g0 = ∇L(w+δ0), ε = ρ·(λ·g0 + δ0)/‖λ·g0 + δ0‖.',
    paper: { text: 'Liu et al., NeurIPS 2022', url: 'https://github.com/RSAM-Optimizer/R-SAM' },
  },
  mup2: {
    name: 'μP² (layer-wise ε scaling)', params: ['rho', 'baseWidth'], passes: 2, sharpness: 'always',
    about: "SAM with each layer's ε rescaled by the width multiplier m = width/base width (input-like layers ×m, hidden ×1, output ×1/m, inside a layer-weighted norm), so every layer stays perturbed as the network widens; m = 1 is SAM. Exponents derived from the paper's tables (docs/sam-variants.md).",
    paper: { text: 'Haas et al., NeurIPS 2024', url: 'https://arxiv.org/abs/2411.00075' },
  },
});

/** Generic field labels of the SAM hyperparameters (SAM_INFO[mode].labels may override). */
export const SAM_PARAM_LABELS = Object.freeze({
  rho: 'ρ (radius)', eta: 'η (ASAM offset)', alpha: 'α', sigma: 'σ (EMA weight)', lambda: 'λ (EMA decay)',
  k: 'k (refresh every)', gamma: 'γ (curvature)', beta: 'β (difference)', rhoMin: 'ρ_min (optional)',
  n: 'n (ascent steps)', m: 'm (rows per ε)', sparsity: 's (sparsity)', fisherSamples: 'N_s (samples)',
  dropRate: 'dr (drop rate)', baseWidth: 'base width',
});
/** What an empty SAM hyperparameter field shows (SAM_INFO[mode].placeholders may override). */
export const SAM_PARAM_PLACEHOLDERS = Object.freeze({ rhoMin: '= ρ' });

/** The hyperparameters a SAM mode takes (ρ first; none for "none" or an unknown mode). */
export function samParams(mode) {
  return SAM_INFO[mode]?.params ?? [];
}

/** Reference default of a SAM hyperparameter for a mode (ρ depends on the mode). */
export function samParamDefault(mode, key) {
  if (key === 'rho') return DEFAULT_RHO[mode] ?? DEFAULT_RHO.sam;
  return SAM_INFO[mode]?.defaults?.[key] ?? SAM_PARAM_DEFAULTS[key];
}

/** May this hyperparameter of this mode stay empty (= ρ, left to the trainer)? */
export function isOptionalParam(mode, key) {
  return key === 'rhoMin' || Boolean(SAM_INFO[mode]?.optional?.includes(key));
}

const isEmpty = (text) => String(text ?? '').trim() === '';

export const DEFAULTS = Object.freeze({
  dataset: 'mnist',
  // CIFAR-10 training images per class (only with dataset cifar10): 500 trains in a browser.
  perClass: '500',
  model: 'mlp',
  hidden: '256,256', // MLP only
  dropout: '0',
  augment: 'off',
  optimizer: 'momentum',
  sam: 'sam',
  rho: DEFAULT_RHO.sam,
  ...SAM_PARAM_DEFAULTS,
  // How any SAM mode runs (not with "none"): ρ schedule, its warm-up steps, late-phase start.
  rhoSchedule: '',
  rhoWarmup: '100',
  samStart: '',
  lr: DEFAULT_LR.momentum,
  batchSize: '128',
  epochs: '2',
  seed: '0',
  labelNoise: '0',
  // MNIST, Fashion-MNIST, own IDX files: a stratified sample of the training split (empty: all).
  trainPerClass: '',
  // Test images shifted on the GPU (MNIST-C style: rotate:30, noise:0.4, blur:1.5, contrast:0.3;
  // empty: as loaded), for out-of-distribution tests. Training images are never shifted.
  testShift: '',
  // Gradual self-training through rotated domains (e.g. 15,30,45,60; empty: off): the source on
  // 2,000 labelled upright images, then per angle 1,500 new images pseudo-labelled by the model,
  // each for `epochs` epochs; tested at the last angle.
  domains: '',
  swaStart: '',
});

/** Settings names (one page input each), in the order they appear in the URL hash. The hash holds
 *  only the settings in use (isActive), and leaves out the optional ones left empty (see toHash). */
export const KEYS = Object.keys(DEFAULTS);

/** Settings of every SAM mode but "none" (rhoWarmup only with the warm-up schedule). */
export const SAM_RUN_KEYS = ['rhoSchedule', 'rhoWarmup', 'samStart'];
/** Settings that may stay empty, which turns them off (or leaves them to the trainer). */
export const OPTIONAL_KEYS = ['rhoSchedule', 'samStart', 'swaStart', 'trainPerClass', 'testShift', 'domains'];

/** Settings the worker can change on a live trainer (everything else needs a new one). */
export const LIVE_KEYS = ['lr', 'rho'];

const CHOICES = { dataset: DATASETS, model: MODELS, augment: AUGMENT, optimizer: OPTIMIZERS, sam: SAM_MODES, rhoSchedule: RHO_SCHEDULES };

const MAX_HIDDEN_LAYERS = 4;
const MAX_WIDTH = 4096;
const MAX_BATCH = 4096;
const MAX_EPOCHS = 1000;
const MAX_SEED = 2 ** 32 - 1;
const MAX_K = 9e15; // the Trainer's limit for whole numbers
const MAX_N = 64; // the Trainer's limit for n-step's ascent steps

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

/** SAM hyperparameters that take any finite number ≥ 0, with the symbol their messages use. */
const NON_NEGATIVE = { rho: 'ρ', eta: 'η', alpha: 'α', sigma: 'σ', gamma: 'γ', beta: 'β', rhoMin: 'ρ_min' };

/** The divisor of `total` nearest to `m` (the smaller one on a tie). */
function nearestDivisor(total, m) {
  let best = 1;
  for (let d = 1; d <= total; d++) {
    if (total % d === 0 && Math.abs(d - m) < Math.abs(best - m)) best = d;
  }
  return best;
}

/** Messages for the SAM hyperparameters of the chosen mode (the others are not checked or sent). */
function validateSamParams(s) {
  const errors = {};
  for (const key of samParams(s.sam)) {
    const v = parseNumber(s[key]);
    const example = samParamDefault(s.sam, key);
    if (isOptionalParam(s.sam, key) && isEmpty(s[key])) continue;
    if (s.sam === 'esam' && (key === 'beta' || key === 'gamma')) {
      // ESAM's β and γ are probabilities and shares: 0 would perturb nothing or use no rows.
      if (!(Number.isFinite(v) && v > 0 && v <= 1)) {
        errors[key] = key === 'beta'
          ? `β is the chance that each tensor is perturbed: above 0 and at most 1 (try ${example}; 1 is SAM).`
          : `γ is the share of the batch used for the second gradient: above 0 and at most 1 (try ${example}; 1 is SAM).`;
      }
    } else if (s.sam === 'rsam' && key === 'lambda') {
      // R-SAM's λ is a step length along ∇L(w+δ0), not a decay rate: any number ≥ 0.
      if (!(Number.isFinite(v) && v >= 0)) errors.lambda = `λ is the step along ∇L(w+δ0): a number of at least 0 (try ${example}).`;
    } else if (NON_NEGATIVE[key]) {
      if (!(Number.isFinite(v) && v >= 0)) {
        const symbol = NON_NEGATIVE[key];
        errors[key] = isOptionalParam(s.sam, key)
          ? `${symbol} must be a number of at least 0, or empty for ${symbol} = ρ.`
          : `${symbol} must be a number of at least 0 (try ${example}).`;
      }
    } else if (key === 'lambda') {
      if (!(Number.isFinite(v) && v >= 0 && v <= 1)) errors.lambda = `λ is a decay rate: a number from 0 to 1 (try ${example}).`;
    } else if (key === 'k') {
      if (parseWholeNumber(s.k, 1, MAX_K) === null) {
        const what = {
          ssam: 'a new Fisher mask every k steps',
          'ssam-d': 'the mask drops and regrows parameters every k steps',
        }[s.sam] ?? 'a SAM step every k steps';
        errors.k = `k must be a whole number of at least 1: ${what} (try ${example}).`;
      }
    } else if (key === 'sparsity') {
      if (!(Number.isFinite(v) && v >= 0 && v < 1)) {
        errors.sparsity = `s is the share of parameters left unperturbed: at least 0 and below 1 (try ${example}; 0 is SAM).`;
      }
    } else if (key === 'dropRate') {
      if (!(Number.isFinite(v) && v >= 0 && v <= 1)) {
        errors.dropRate = `dr is the share of the mask replaced at each refresh (it decays over the run): a number from 0 to 1 (try ${example}).`;
      }
    } else if (key === 'baseWidth') {
      if (parseWholeNumber(s.baseWidth, 1, MAX_K) === null) {
        errors.baseWidth = `The base width must be a whole number of at least 1: the width at which μP² is plain SAM (try ${example}).`;
      }
    } else if (key === 'fisherSamples') {
      const ns = parseWholeNumber(s.fisherSamples, 1, MAX_K);
      const batch = parseWholeNumber(s.batchSize, 1, MAX_BATCH);
      if (ns === null) {
        errors.fisherSamples = `N_s must be a whole number of at least 1: the rows whose gradients make the Fisher information (try ${example}).`;
      } else if (batch !== null && ns > batch) {
        errors.fisherSamples = `N_s must be at most the batch size (${batch}): the Fisher samples are the batch's first rows. Try ${Math.min(batch, Number(example))}.`;
      }
    } else if (key === 'n') {
      if (parseWholeNumber(s.n, 1, MAX_N) === null) {
        errors.n = `n must be a whole number from 1 to ${MAX_N}: the ascent steps of each update (try ${example}; 1 is SAM).`;
      }
    } else if (key === 'm') {
      const m = parseWholeNumber(s.m, 1, MAX_BATCH);
      const batch = parseWholeNumber(s.batchSize, 1, MAX_BATCH);
      if (m === null) {
        errors.m = `m must be a whole number of at least 1: the rows that share one ε (try ${example}).`;
      } else if (batch !== null && batch % m !== 0) {
        errors.m = `m must divide the batch size (${batch}) so that every sub-batch has m rows: try ${nearestDivisor(batch, m)}.`;
      }
    }
  }
  return errors;
}

/** A fraction of the run in [0, 1), or empty for off. */
function isFractionOrEmpty(text) {
  if (isEmpty(text)) return true;
  const v = parseNumber(text);
  return Number.isFinite(v) && v >= 0 && v < 1;
}

/**
 * Check every setting; returns {field: message} for the invalid ones (empty when all are fine).
 * Messages are plain sentences meant to sit beside the field.
 */
export function validate(s) {
  const errors = {};
  for (const [key, choices] of Object.entries(CHOICES)) {
    if (isActive(s, key) && !choices.includes(s[key])) {
      errors[key] = `Choose one of: ${choices.map((c) => c || '(the mode\'s default)').join(', ')}.`;
    }
  }
  // MSAM perturbs along the SGD momentum buffer: it has nothing to follow without one.
  if (s.sam === 'msam' && OPTIMIZERS.includes(s.optimizer) && s.optimizer !== 'momentum') {
    errors.optimizer = 'MSAM perturbs along the SGD momentum buffer: choose "SGD + momentum 0.9" (or another SAM mode).';
  }
  // SAMPa builds its look-ahead point from a plain SGD step.
  if (s.sam === 'sampa' && (s.optimizer === 'adam' || s.optimizer === 'adamw')) {
    errors.optimizer = 'SAMPa looks ahead with an SGD step: choose "SGD" or "SGD + momentum 0.9" (or another SAM mode).';
  }
  const lr = parseNumber(s.lr);
  // No upper limits on lr and ρ: watching a run diverge is part of the lesson (the worker pauses
  // it with a message).
  if (!(Number.isFinite(lr) && lr > 0)) {
    errors.lr = 'The learning rate must be a number above 0 (try 0.05 for SGD, 0.001 for Adam).';
  }
  Object.assign(errors, validateSamParams(s));
  if (isActive(s, 'hidden') && parseHidden(s.hidden) === null) {
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
  if (isActive(s, 'rhoWarmup') && parseWholeNumber(s.rhoWarmup, 1, MAX_K) === null) {
    errors.rhoWarmup = 'The warm-up must be a whole number of steps, at least 1 (e.g. 100).';
  }
  if (isActive(s, 'samStart') && !isFractionOrEmpty(s.samStart)) {
    errors.samStart = 'Late-phase SAM starts at a fraction of the run: at least 0 and below 1 (e.g. 0.5), or empty for SAM from the start.';
  }
  if (!isFractionOrEmpty(s.swaStart)) {
    errors.swaStart = 'SWA starts at a fraction of the run: at least 0 and below 1 (e.g. 0.75), or empty for no averaging.';
  }
  const dropout = parseNumber(s.dropout);
  if (!(Number.isFinite(dropout) && dropout >= 0 && dropout < 1)) {
    errors.dropout = 'Dropout is the share of features dropped before the classifier: at least 0 and below 1 (e.g. 0.25; 0 for none).';
  }
  if (isActive(s, 'perClass') && parseWholeNumber(s.perClass, 1, CIFAR_MAX_PER_CLASS) === null) {
    errors.perClass = `Images per class must be a whole number from 1 to ${CIFAR_MAX_PER_CLASS.toLocaleString('en')} (all of CIFAR-10), e.g. 500.`;
  }
  if (isActive(s, 'trainPerClass') && !isEmpty(s.trainPerClass) && parseWholeNumber(s.trainPerClass, 1, IDX_MAX_PER_CLASS) === null) {
    errors.trainPerClass = 'Training images per class must be a whole number from 1 (e.g. 50: 500 images), or empty for all of them.';
  }
  const shiftError = isActive(s, 'testShift') ? testShiftError(s.testShift) : null;
  if (shiftError) errors.testShift = shiftError;
  if (isActive(s, 'domains') && !isEmpty(s.domains) && parseDomains(s.domains) === null) {
    errors.domains = `Domains are 1 to ${MAX_DOMAINS} rotation angles in degrees, separated by commas (e.g. 15,30,45,60: the last is the target), or empty for none.`;
  }
  return errors;
}

const MAX_DOMAINS = 8;

/** "15, 30,45" → [15, 30, 45]; null when any part is not a finite number or there are too many. */
export function parseDomains(text) {
  const parts = String(text ?? '').split(',').map((p) => p.trim());
  if (parts.length > MAX_DOMAINS) return null;
  const angles = parts.map(parseNumber);
  return angles.every(Number.isFinite) ? angles : null;
}

/** The largest per-class count any IDX data set here could hold (MNIST's biggest class: 6,742). */
const IDX_MAX_PER_CLASS = 6742;

/** The test shifts the trainer knows, with the range of each one's number (blur's window is at
 *  most 17 × 17 pixels, so σ ≤ 8/3). */
const TEST_SHIFTS = {
  rotate: { ok: () => true, range: 'any angle in degrees' },
  noise: { ok: (v) => v >= 0, range: 'σ ≥ 0' },
  blur: { ok: (v) => v > 0 && v <= 8 / 3, range: 'σ above 0 and at most 2.67 pixels' },
  contrast: { ok: (v) => v >= 0, range: 'a factor ≥ 0' },
};

/** Why `text` is not a test shift, or null (empty is none). */
export function testShiftError(text) {
  const t = String(text ?? '').trim();
  if (t === '') return null;
  const usage = 'Test images: rotate:DEGREES, noise:SIGMA, blur:SIGMA or contrast:C (e.g. rotate:30), or empty for the images as loaded.';
  const at = t.indexOf(':');
  const kind = TEST_SHIFTS[at > 0 ? t.slice(0, at).trim() : ''];
  const valueText = t.slice(at + 1).trim();
  const value = Number(valueText);
  if (!kind || valueText === '' || !Number.isFinite(value)) return usage;
  if (!kind.ok(value)) return `${t.slice(0, at)} takes ${kind.range}; got ${valueText}. ${usage}`;
  return null;
}

/**
 * Valid settings → {dataset, perClass?, config, options} for the worker's `create` message
 * (`perClass`: CIFAR-10's images per class, only with dataset cifar10; `options`, only when one
 * is set: trainPerClass and testShift, what the worker does to the data around the Trainer). `config` uses the Trainer's keys and
 * leaves out what does not apply (hidden widths but for the MLP, momentum for Adam, ρ without SAM,
 * the hyperparameters of the other SAM modes, an empty ρ_min or n-step α, an empty ρ schedule,
 * late-phase start or SWA start).
 */
export function toTrainerConfig(s) {
  const sgdFamily = s.optimizer === 'sgd' || s.optimizer === 'momentum';
  const config = {
    model: s.model,
    ...(isActive(s, 'hidden') && { hidden: parseHidden(s.hidden) }),
    dropout: parseNumber(s.dropout),
    augment: s.augment === 'on',
    optimizer: sgdFamily ? 'sgd' : s.optimizer,
    lr: parseNumber(s.lr),
    sam: s.sam,
    batchSize: parseNumber(s.batchSize),
    epochs: parseNumber(s.epochs),
    seed: parseNumber(s.seed),
    labelNoise: parseNumber(s.labelNoise),
  };
  if (sgdFamily) config.momentum = s.optimizer === 'momentum' ? 0.9 : 0;
  for (const key of samParams(s.sam)) {
    // Optional ones (ρ_min, n-step's α) left empty are left to the trainer (= ρ).
    if (isOptionalParam(s.sam, key) && isEmpty(s[key])) continue;
    config[key] = parseNumber(s[key]);
  }
  if (isActive(s, 'rhoSchedule') && !isEmpty(s.rhoSchedule)) {
    config.rhoSchedule = s.rhoSchedule === 'warmup' ? `warmup:${parseNumber(s.rhoWarmup)}` : s.rhoSchedule;
  }
  if (isActive(s, 'samStart') && !isEmpty(s.samStart)) config.samStart = parseNumber(s.samStart);
  if (!isEmpty(s.swaStart)) config.swaStart = parseNumber(s.swaStart);
  // How the worker prepares the data, not part of the Trainer's config.
  const options = {};
  if (isActive(s, 'trainPerClass') && !isEmpty(s.trainPerClass)) options.trainPerClass = parseNumber(s.trainPerClass);
  if (isActive(s, 'testShift') && !isEmpty(s.testShift)) options.testShift = String(s.testShift).trim();
  if (isActive(s, 'domains') && !isEmpty(s.domains)) options.domains = parseDomains(s.domains);
  const data = isActive(s, 'perClass') ? { dataset: s.dataset, perClass: parseNumber(s.perClass) } : { dataset: s.dataset };
  return Object.keys(options).length ? { ...data, config, options } : { ...data, config };
}

/**
 * Is `key` a setting these settings use? Not a hyperparameter of another SAM mode, not the ρ
 * schedule or late-phase start without SAM, not the warm-up steps without the warm-up schedule,
 * not the hidden widths without the MLP, not CIFAR-10's images per class with another data set.
 */
export function isActive(s, key) {
  if (key === 'hidden') return s.model === 'mlp';
  if (key === 'perClass') return s.dataset === 'cifar10';
  // Gradual self-training takes fixed parts of the training split and tests at its last angle.
  if (key === 'trainPerClass') return s.dataset !== 'cifar10' && isEmpty(s.domains);
  if (key === 'testShift') return isEmpty(s.domains) || s.dataset === 'cifar10';
  if (key === 'domains') return s.dataset !== 'cifar10';
  if (SAM_PARAM_KEYS.includes(key)) return samParams(s.sam).includes(key);
  if (SAM_RUN_KEYS.includes(key)) {
    const sam = SAM_MODES.includes(s.sam) && s.sam !== 'none';
    return key === 'rhoWarmup' ? sam && s.rhoSchedule === 'warmup' : sam;
  }
  return true;
}

/** Is the SWA average on (a valid fraction given)? BatchNorm models get the average's statistics
 * recomputed over the training split before each evaluation (the Trainer does it). */
export function swaOn(s) {
  return !isEmpty(s.swaStart) && isFractionOrEmpty(s.swaStart);
}

/**
 * A key for "would these settings build the same trainer?": every setting in use except the ones
 * a live trainer can change (lr, ρ). n-step's empty α is the ρ the trainer was built with, so
 * there ρ is part of the structure too (a change before Start builds a new trainer).
 */
export function structureKey(s) {
  const rhoBuiltIn = s.sam === 'nstep' && isEmpty(s.alpha);
  const live = (k) => LIVE_KEYS.includes(k) && !(k === 'rho' && rhoBuiltIn);
  return JSON.stringify(KEYS.filter((k) => !live(k) && isActive(s, k)).map((k) => [k, s[k]]));
}

/**
 * Forward/backward passes per step of the chosen mode (LookSAM: 1 + 1/k on average; n-step:
 * n + 1; SSAM: 2, its N_s single-row Fisher passes every k-th step not counted; ESAM: 1 + the
 * share of the batch in its second pass, ⌊γ·batch⌋ rows but at least 1, its forward-only pass at
 * w + ε not counted); null while LookSAM's k, n-step's n or ESAM's γ is invalid. The trainer
 * reports the same number (Trainer.passesPerStep) until it has trained (ESAM: 1 + γ, which the
 * page's number equals whenever γ·batch is whole, as at the defaults). Late-phase SAM's plain steps before the switch
 * take 1 pass; this is the number of the SAM steps.
 */
export function passesPerStep(s) {
  const info = SAM_INFO[s.sam];
  if (!info) return null;
  if (s.sam === 'looksam') {
    const k = parseWholeNumber(s.k, 1, MAX_K);
    return k === null ? null : 1 + 1 / k;
  }
  if (s.sam === 'nstep') {
    const n = parseWholeNumber(s.n, 1, MAX_N);
    return n === null ? null : n + 1;
  }
  if (s.sam === 'esam') {
    const gamma = parseNumber(s.gamma);
    if (!(Number.isFinite(gamma) && gamma > 0 && gamma <= 1)) return null;
    // The trainer takes ⌊γ·batch⌋ rows (at least 1), so its own number is that share exactly.
    const batch = parseWholeNumber(s.batchSize, 1, MAX_BATCH);
    return batch === null ? 1 + gamma : 1 + Math.max(1, Math.floor(gamma * batch)) / batch;
  }
  return info.passes;
}

/**
 * Settings with the SAM mode changed to `mode`: its hyperparameters get the mode's defaults, or
 * the values the URL hash `hash` gave them when that hash chose this same mode.
 */
export function withSamMode(s, mode, hash = '') {
  const next = { ...s, sam: mode };
  const link = fromHash(hash);
  const given = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  for (const key of samParams(mode)) {
    next[key] = link.sam === mode && given.has(key) ? link[key] : samParamDefault(mode, key);
  }
  return next;
}

/**
 * Settings from a URL hash such as "#optimizer=sgd&sam=looksam&k=5&alpha=0.2"; unknown keys are
 * ignored, and so are hyperparameters of SAM modes other than the chosen one. A setting the hash
 * leaves out gets its default (ρ and lr: the chosen mode's and optimizer's).
 */
export function fromHash(hash) {
  const s = { ...DEFAULTS };
  const params = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  for (const key of KEYS) {
    if (!params.has(key) || SAM_PARAM_KEYS.includes(key)) continue;
    const value = params.get(key);
    // A choice the page does not offer falls back to the default rather than an empty select.
    if (CHOICES[key] && !CHOICES[key].includes(value)) continue;
    s[key] = value;
  }
  // Values are kept as typed (an invalid one gets its message on the page).
  for (const key of samParams(s.sam)) s[key] = params.has(key) ? params.get(key) : samParamDefault(s.sam, key);
  // Settings these settings do not use (late-phase start without SAM, …) keep their defaults.
  for (const key of KEYS) if (!SAM_PARAM_KEYS.includes(key) && !isActive(s, key)) s[key] = DEFAULTS[key];
  if (!params.has('lr') && params.has('optimizer')) s.lr = DEFAULT_LR[s.optimizer];
  return s;
}

/**
 * What a URL hash holds that fromHash could not use: keys that are no setting (`extraKeys` are
 * the page's own, such as evalEvery) and choices the page does not offer, each as a short phrase
 * ("sam=foo (not one of the choices)"), at most `limit` of them plus "and N more". Values that are
 * merely invalid numbers are kept as typed (they get a message beside their field) and not listed.
 */
export function linkProblems(hash, extraKeys = [], limit = 5) {
  const params = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  const problems = [];
  const seen = new Set();
  const shorten = (text) => (text.length > 60 ? `${text.slice(0, 60)}…` : text);
  for (const [key, value] of params) {
    if (key === '' || seen.has(key) || extraKeys.includes(key)) continue;
    seen.add(key);
    if (key === VS) continue; // compared runs: each row says what is wrong with its own
    if (key === 'embed' || key === 'track') {
      if (key === 'embed' && parseFlag(value) === null) problems.push(`embed=${shorten(value)} (1 or 0)`);
      continue;
    }
    if (key.endsWith(HIDE_SUFFIX)) {
      const name = key.slice(0, -HIDE_SUFFIX.length);
      if (!HIDEABLE.includes(name)) problems.push(`${shorten(key)} (no such control)`);
      else if (parseFlag(value) === null) problems.push(`${key}=${shorten(value)} (true or false)`);
      continue;
    }
    if (!KEYS.includes(key)) problems.push(`${shorten(key)} (no such setting)`);
    else if (CHOICES[key] && !CHOICES[key].includes(value)) problems.push(`${key}=${shorten(value)} (not one of the choices)`);
  }
  if (problems.length <= limit) return problems;
  return [...problems.slice(0, limit), `and ${problems.length - limit} more`];
}

/**
 * The URL hash for settings: every setting in use, so a shared link reproduces the run exactly,
 * of the SAM hyperparameters only the chosen mode's, right after `sam`; optional settings left
 * empty (ρ_min, n-step's α, ρ schedule, late-phase and SWA start) are left out.
 */
export function toHash(s) {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    if (SAM_PARAM_KEYS.includes(key) || !isActive(s, key)) continue;
    if (OPTIONAL_KEYS.includes(key) && isEmpty(s[key])) continue;
    params.set(key, String(s[key] ?? ''));
    if (key !== 'sam') continue;
    for (const p of samParams(s.sam)) {
      const value = String(s[p] ?? '');
      if (isOptionalParam(s.sam, p) && isEmpty(value)) continue;
      params.set(p, value);
    }
  }
  return '#' + params.toString().replace(/%2C/gi, ',').replace(/%3A/gi, ':');
}


// ---------------------------------------------------------------------------------------------
// The link's view: what the page shows (embedding in course pages), besides the settings.

/**
 * Parts of the page a link can hide with `NAME_hide=true`, besides every setting (a setting's key
 * hides its field): the Settings box, the button groups, the status line, each chart, the
 * sharpness panel and its parts, the inspection panel. main.js maps each name to its elements (docs/web.md).
 */
export const PANELS = Object.freeze([
  'settings', 'weights', 'export', 'share', 'status', 'accuracy', 'loss', 'readouts', 'sharpness', 'track', 'measure',
  'landscape', 'compare', 'toy2d', 'inspect',
]);
/** Every name `NAME_hide` accepts: the settings' keys, then the panels. */
export const HIDEABLE = Object.freeze([...KEYS, ...PANELS.filter((p) => !KEYS.includes(p))]);
/** What `embed=1` hides unless the link says `NAME_hide=false`. */
export const EMBED_HIDDEN = Object.freeze(['weights']);
const HIDE_SUFFIX = '_hide';

/** "true"/"1"/"" → true, "false"/"0" → false, anything else → null. */
function parseFlag(value) {
  const v = String(value ?? '').trim().toLowerCase();
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return null;
}

/**
 * The view a URL hash asks for: `{embed, hide: {name: bool}, entries}`. `embed` (`embed=1`) is the
 * chrome-less mode for iframes; `hide` holds what the link said about each name (`lr_hide=true`,
 * `weights_hide=false`); `entries` are these parameters in the link's order, normalised
 * (`embed=1`, `NAME_hide=true|false`), so the page's own link gives them back as they came.
 * Unknown names and unreadable values are left out (linkProblems lists them).
 */
export function viewFromHash(hash) {
  const params = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  const view = { embed: false, hide: {}, entries: [] };
  const seen = new Set();
  for (const [key, value] of params) {
    if (seen.has(key)) continue;
    const flag = parseFlag(value);
    if (key === 'embed') {
      seen.add(key);
      if (flag) {
        view.embed = true;
        view.entries.push(['embed', '1']);
      }
    } else if (key.endsWith(HIDE_SUFFIX) && flag !== null) {
      const name = key.slice(0, -HIDE_SUFFIX.length);
      if (!HIDEABLE.includes(name)) continue;
      seen.add(key);
      view.hide[name] = flag;
      view.entries.push([key, String(flag)]);
    }
  }
  return view;
}

/** Does this view hide `name`? What the link said, else embed's defaults (EMBED_HIDDEN). */
export function isHidden(view, name) {
  if (view && Object.hasOwn(view.hide, name)) return view.hide[name];
  return Boolean(view?.embed) && EMBED_HIDDEN.includes(name);
}

/** The same view with `embed=1` (first, when the view did not have it). */
export function withEmbed(view) {
  if (view.embed) return view;
  return { ...view, embed: true, entries: [['embed', '1'], ...view.entries] };
}

/** The view without `embed` (the full page with the same hidden controls). */
export function withoutEmbed(view) {
  return { ...view, embed: false, entries: view.entries.filter(([key]) => key !== 'embed') };
}

/** The tracking interval a link gives (`track=N`: tracking λ_max and tr(H) on, every N steps), or null. */
export function trackFromHash(hash) {
  return new URLSearchParams(String(hash ?? '').replace(/^#/, '')).get('track');
}

/**
 * The page's own link (its URL hash): the settings as toHash writes them, the compared runs
 * (`compared`: comparedHash's `&vs=…`), then `track=N` while
 * tracking is on (N as typed), then the view's parameters in the order the link gave them.
 */
export function linkHash(s, { track = null, view = null, compared = '' } = {}) {
  let hash = toHash(s) + compared;
  if (track !== null && track !== undefined) hash += `&track=${encodeURIComponent(String(track))}`;
  for (const [key, value] of view?.entries ?? []) hash += `&${key}=${value}`;
  return hash;
}


// ---------------------------------------------------------------------------------------------
// Paired runs (A/B): runs compared with the one the settings describe. Each compared run is the
// first run's settings with a few overrides; the link carries one `vs=KEY:VALUE,KEY:VALUE` per run.

/**
 * What every run of a comparison shares, so that all start from the same initial weights (model,
 * widths and seed) and see the same batches in the same order (data set, subset, batch size, seed,
 * epochs): a compared run cannot override these.
 */
export const SHARED_KEYS = Object.freeze(['dataset', 'perClass', 'trainPerClass', 'model', 'hidden', 'batchSize', 'epochs', 'seed']);
/** Compared runs besides the first (each has its own worker and GPU device). */
export const MAX_COMPARED = 3;
const VS = 'vs';

/** "sam:none,rho:0.5" → {sam: 'none', rho: '0.5'}; null when it is not KEY:VALUE pairs. */
export function parseOverrides(text) {
  const overrides = {};
  const t = String(text ?? '').trim();
  if (t === '') return null;
  let last = null;
  for (const pair of t.split(',')) {
    const at = pair.indexOf(':');
    // A piece without a colon continues the value before it: a list such as domains:15,30,45.
    if (at < 0 && last !== null) {
      overrides[last] += `,${pair.trim()}`;
      continue;
    }
    if (at <= 0) return null;
    last = pair.slice(0, at).trim();
    overrides[last] = pair.slice(at + 1).trim();
  }
  return overrides;
}

/** {sam: 'none', rho: '0.5'} → "sam:none,rho:0.5" (the order of the settings). */
export function overridesText(overrides) {
  const keys = Object.keys(overrides).sort((a, b) => KEYS.indexOf(a) - KEYS.indexOf(b));
  return keys.map((k) => `${k}:${overrides[k]}`).join(',');
}

/**
 * A compared run's settings: the first run's with the overrides. A new SAM mode brings its own
 * hyperparameter defaults and a new optimizer its learning rate, unless the overrides give them.
 */
export function comparedSettings(base, overrides) {
  let s = { ...base };
  if (overrides.sam !== undefined && overrides.sam !== base.sam) s = withSamMode(s, overrides.sam);
  if (overrides.optimizer !== undefined && overrides.optimizer !== base.optimizer && overrides.lr === undefined) {
    s.lr = DEFAULT_LR[overrides.optimizer] ?? s.lr;
  }
  for (const [key, value] of Object.entries(overrides)) s[key] = value;
  return s;
}

/**
 * What is wrong with one compared run: {key?, message} or null. A key that is no setting, one the
 * runs must share, or a value the settings' own checks refuse (with that field's message).
 */
export function comparedProblem(base, overrides) {
  if (overrides === null) return { message: 'A compared run is written KEY:VALUE pairs separated by commas, e.g. sam:none or sam:asam,rho:0.5.' };
  for (const key of Object.keys(overrides)) {
    if (!KEYS.includes(key)) return { key, message: `"${key}" is no setting.` };
    if (SHARED_KEYS.includes(key)) {
      return { key, message: `${key} is shared by all compared runs (so they start from the same weights and see the same batches); change it above.` };
    }
  }
  const s = comparedSettings(base, overrides);
  const errors = validate(s);
  const key = Object.keys(errors).find((k) => isActive(s, k));
  return key ? { key, message: errors[key] } : null;
}

/** The compared runs a URL hash gives: [{overrides, text}] (overrides null when unreadable). */
export function comparedFromHash(hash) {
  const params = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  return params.getAll(VS).slice(0, MAX_COMPARED).map((text) => ({ text, overrides: parseOverrides(text) }));
}

/** The `&vs=…` part of a link for these compared runs (their overrides, as typed). */
export function comparedHash(list) {
  return list.map((overrides) => `&${VS}=${encodeURIComponent(overridesText(overrides)).replace(/%3A/gi, ':').replace(/%2C/gi, ',')}`).join('');
}

const OPTIMIZER_LABELS = { sgd: 'SGD', momentum: 'SGD+momentum', adam: 'Adam', adamw: 'AdamW' };
const LABEL_NAMES = { rho: 'ρ', lr: 'lr', eta: 'η', alpha: 'α', sigma: 'σ', lambda: 'λ', gamma: 'γ', beta: 'β', labelNoise: 'label noise' };

/** A SAM mode's short name: "SAM", "ASAM", "LookSAM", …; "no SAM" for none. */
function samLabel(mode) {
  if (mode === 'none') return 'no SAM';
  return (SAM_INFO[mode]?.name ?? mode).replace(/\s*\(.*$/, '');
}

/**
 * Labels for runs (their whole settings), naming only what differs between them: e.g.
 * ["SAM ρ=0.05", "no SAM", "ASAM ρ=0.5"]. Identical runs are "run 1", "run 2", ….
 */
export function runLabels(runs) {
  // A key differs when the runs that use it do not all have the same value (a hyperparameter of
  // one run's SAM mode only is not a difference: the mode's name says it).
  const differs = KEYS.filter((key) => new Set(runs.filter((s) => isActive(s, key)).map((s) => String(s[key]))).size > 1);
  return runs.map((s, i) => {
    const parts = [];
    for (const key of differs) {
      if (!isActive(s, key)) continue;
      if (key === 'sam') parts.push(samLabel(s.sam));
      else if (key === 'optimizer') parts.push(OPTIMIZER_LABELS[s.optimizer] ?? s.optimizer);
      else if (isEmpty(s[key])) continue; // an optional setting left empty: the default
      else if (key === 'samStart') parts.push(`from ${s[key]} of the run`);
      else parts.push(`${LABEL_NAMES[key] ?? key}=${s[key]}`);
    }
    return parts.length ? parts.join(' ') : `run ${i + 1}`;
  });
}

/**
 * One-click experiments for the compared runs (the page's side of `samlab reproduce`, issue
 * "reproduce"; docs/reproductions.md has the CLI's tables): each is a link hash, the first run's
 * settings plus the compared runs. Choosing one replaces the settings and the compared runs.
 */
export const PRESETS = Object.freeze([
  {
    id: 'label-noise', name: 'Label noise 40%: SGD vs SAM vs ASAM',
    hash: '#dataset=mnist&hidden=128&optimizer=momentum&sam=none&lr=0.05&epochs=20&labelNoise=0.4&vs=sam:sam,rho:0.05&vs=sam:asam,rho:0.5',
    about: 'Foret et al. 2021: SAM resists noisy labels far better than SGD; watch the test accuracy of SGD fall as it memorises the noise.',
  },
  {
    id: 'rho-sweep', name: 'ρ sweep: SAM at ρ 0.01, 0.05, 0.2, 0.5',
    hash: '#dataset=fashion-mnist&hidden=128&optimizer=momentum&sam=sam&rho=0.01&lr=0.05&epochs=10&vs=rho:0.05&vs=rho:0.2&vs=rho:0.5',
    about: 'Accuracy peaks at an intermediate ρ: too small is plain SGD, too large ascends out of the basin.',
  },
  {
    id: 'late-phase', name: 'Late-phase SAM vs SAM throughout vs SGD',
    hash: '#dataset=fashion-mnist&hidden=128&optimizer=momentum&sam=none&lr=0.05&epochs=10&vs=sam:sam,samStart:0.5&vs=sam:sam',
    about: 'Zhou et al. 2025: SAM for the last half of training generalises about as well as SAM throughout, at 1.5 instead of 2 passes per step.',
  },
  {
    id: 'curvature', name: 'Curvature: SGD vs SAM (λ_max tracked for A)',
    hash: '#dataset=mnist&hidden=128&optimizer=momentum&sam=none&lr=0.05&epochs=10&vs=sam:sam,rho:0.05&track=100',
    about: 'SAM ends in flatter regions: compare λ_max in the sharpness panel with a SAM run (set A to SAM), or run samlab reproduce curvature.',
  },
  {
    id: 'efficiency', name: 'Efficient variants: SAM vs LookSAM vs MSAM vs S2-SAM',
    hash: '#dataset=fashion-mnist&hidden=128&optimizer=momentum&sam=sam&rho=0.05&lr=0.05&epochs=10&vs=sam:looksam&vs=sam:msam&vs=sam:s2sam',
    about: 'Switch the x-axis to gradient evaluations: the one-pass variants cost about half of SAM.',
  },
  {
    id: 'm-sharpness', name: 'm-sharpness: m = 8 vs 32 vs SAM (m = batch)',
    hash: '#dataset=fashion-mnist&hidden=128&optimizer=momentum&sam=msharp&rho=0.05&m=8&lr=0.05&epochs=10&vs=m:32&vs=sam:sam,rho:0.05',
    about: 'Foret et al. 2021, Andriushchenko & Flammarion 2022: perturbing per small sub-batch (small m) generalises better.',
  },
  {
    id: 'asam-invariance', name: 'ASAM scale invariance: rescale a layer, measure sharpness',
    hash: '#dataset=mnist&hidden=128&optimizer=momentum&sam=none&lr=0.05&epochs=3',
    // No compared runs: the test rescales one trained network; this fills the sharpness panel.
    measureScale: '4',
    about: 'Kwon et al. 2021: an MLP with layer 1 × a and layer 2 × 1/a computes the same function. Train, then in the sharpness panel Measure now with "at layer 1 ×" at 4, empty (1) and 0.25: SAM\'s worst-case sharpness moves with a, ASAM\'s adaptive one (η = 0) stays.',
  },
  {
    id: 'ood', name: 'Shifted test images: SGD vs SAM on rotated and noisy digits',
    hash: '#dataset=mnist&hidden=128&optimizer=momentum&sam=none&lr=0.05&epochs=10&testShift=rotate:30&vs=sam:sam,rho:0.05&vs=testShift:noise:0.4&vs=sam:sam,rho:0.05,testShift:noise:0.4',
    about: 'Trained on clean digits, tested on digits rotated by 30° or with Gaussian noise (σ 0.4), made on the GPU in the style of MNIST-C. The claim: SAM keeps more accuracy under shift. samlab reproduce ood measured no such gain with this MLP (docs/reproductions.md).',
  },
  {
    id: 'repetition', name: 'Repetition: 500 images for 40 epochs, SGD vs SAM',
    hash: '#dataset=fashion-mnist&hidden=128&optimizer=momentum&sam=none&lr=0.05&epochs=40&trainPerClass=50&vs=sam:sam,rho:0.05',
    about: 'The same budget as the one-pass preset (about 20,000 samples) spent on a small set seen 40 times: SAM\'s gain appears where examples repeat.',
  },
  {
    id: 'gradual-da', name: 'Gradual domain adaptation: rotating digits, SGD vs SAM',
    hash: '#dataset=mnist&hidden=128&optimizer=momentum&sam=none&lr=0.05&epochs=5&domains=15,30,45,60&vs=sam:sam,rho:0.05&vs=domains:60,60,60,60',
    about: 'Kumar et al. 2020: self-training through domains rotated by 15°, 30°, 45° and 60° (pseudo-labels from the model so far) adapts better than self-training at 60° directly (the third run). The test digits are rotated by 60°. samlab reproduce gradual-da found no such gain with this MLP.',
  },
  {
    id: 'one-pass', name: 'One pass: 20,000 images once, SGD vs SAM',
    hash: '#dataset=fashion-mnist&hidden=128&optimizer=momentum&sam=none&lr=0.05&epochs=1&trainPerClass=2000&vs=sam:sam,rho:0.05',
    about: 'Each image seen once: the seed notes little gain from SAM here. Compare with the repetition preset.',
  },
]);
