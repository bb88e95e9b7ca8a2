// The page's settings logic (www/settings.js) in Node: validation messages, the URL hash and the
// Trainer config. No browser needed.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  AUGMENT, DATASETS, DEFAULTS, DEFAULT_RHO, KEYS, MODELS, MODEL_INFO, RHO_SCHEDULES, SAM_INFO, SAM_MODES, SAM_PARAM_KEYS, fromHash, isActive,
  parseHidden, parseNumber, passesPerStep, samParams, structureKey, swaOn, toHash, toTrainerConfig,
  validate, withSamMode,
} from '../../www/settings.js';

test('the defaults are valid and build momentum SGD with SAM', () => {
  assert.deepEqual(validate(DEFAULTS), {});
  assert.deepEqual(toTrainerConfig(DEFAULTS), {
    dataset: 'mnist',
    config: {
      model: 'mlp', hidden: [256, 256], dropout: 0, augment: false, optimizer: 'sgd', momentum: 0.9, lr: 0.05, sam: 'sam',
      rho: 0.05, batchSize: 128, epochs: 2, seed: 0, labelNoise: 0,
    },
  });
});

test('numbers are parsed strictly: no empty text, words, commas or trailing junk', () => {
  assert.equal(parseNumber('0.05'), 0.05);
  assert.equal(parseNumber(' 1e-3 '), 0.001);
  assert.equal(parseNumber('.5'), 0.5);
  for (const bad of ['', 'abc', '1,5', '0.05x', 'NaN', 'Infinity', '--1', null, undefined]) {
    assert.ok(Number.isNaN(parseNumber(bad)), `${bad} should not parse`);
  }
});

test('a negative, zero or non-numeric learning rate gets a message naming the fix', () => {
  for (const lr of ['-1', '0', 'abc', '', 'NaN']) {
    const errors = validate({ ...DEFAULTS, lr });
    assert.match(errors.lr ?? '', /learning rate must be a number above 0/, `lr=${lr}`);
  }
  assert.equal(validate({ ...DEFAULTS, lr: '1e-4' }).lr, undefined);
});

test('ρ must be a number ≥ 0, and is not checked (or sent) without SAM', () => {
  assert.match(validate({ ...DEFAULTS, rho: '-0.1' }).rho, /ρ must be a number of at least 0/);
  assert.match(validate({ ...DEFAULTS, rho: 'x' }).rho, /ρ/);
  assert.equal(validate({ ...DEFAULTS, rho: '0' }).rho, undefined);
  const none = { ...DEFAULTS, sam: 'none', rho: 'x' };
  assert.deepEqual(validate(none), {});
  assert.equal('rho' in toTrainerConfig(none).config, false);
});

test('hidden widths, batch size, epochs, seed and label noise are range-checked', () => {
  assert.deepEqual(parseHidden(' 64, 32 '), [64, 32]);
  for (const hidden of ['', '0', '64,,32', '1.5', '1,2,3,4,5', '99999']) {
    assert.ok(validate({ ...DEFAULTS, hidden }).hidden, `hidden=${hidden}`);
  }
  assert.ok(validate({ ...DEFAULTS, batchSize: '0' }).batchSize);
  assert.ok(validate({ ...DEFAULTS, batchSize: '12.5' }).batchSize);
  assert.ok(validate({ ...DEFAULTS, epochs: '0' }).epochs);
  assert.ok(validate({ ...DEFAULTS, seed: '-1' }).seed);
  assert.ok(validate({ ...DEFAULTS, labelNoise: '1' }).labelNoise);
  assert.equal(validate({ ...DEFAULTS, labelNoise: '0.2' }).labelNoise, undefined);
});

test('optimizers map onto the Trainer: SGD has momentum 0, Adam sends no momentum', () => {
  assert.equal(toTrainerConfig({ ...DEFAULTS, optimizer: 'sgd' }).config.momentum, 0);
  const adam = toTrainerConfig({ ...DEFAULTS, optimizer: 'adamw', lr: '0.001' }).config;
  assert.equal(adam.optimizer, 'adamw');
  assert.equal('momentum' in adam, false);
});

test('the URL hash round-trips, ignores unknown keys and falls back on unknown choices', () => {
  const s = { ...DEFAULTS, optimizer: 'adam', lr: '0.001', sam: 'asam', rho: '0.5', hidden: '128,64', seed: '7' };
  const hash = toHash(s);
  assert.match(hash, /^#dataset=mnist&model=mlp&hidden=128,64&dropout=0&augment=off&optimizer=adam&sam=asam&rho=0.5&eta=0.01&lr=0.001/);
  assert.deepEqual(fromHash(hash), s);
  const odd = fromHash('#optimizer=rmsprop&colour=blue&lr=abc');
  assert.equal(odd.optimizer, DEFAULTS.optimizer);
  assert.equal(odd.lr, 'abc'); // kept as typed, so the page shows the message beside the field
  assert.equal(fromHash('#sam=asam-davda54').rho, '2.0'); // a mode without ρ gets its default ρ
  assert.equal(fromHash('#optimizer=adam').lr, '0.001');
});

test('lr and ρ changes keep the same trainer structure; other changes do not', () => {
  const key = structureKey(DEFAULTS);
  assert.equal(structureKey({ ...DEFAULTS, lr: '0.1', rho: '0.2' }), key);
  assert.notEqual(structureKey({ ...DEFAULTS, seed: '1' }), key);
  assert.notEqual(structureKey({ ...DEFAULTS, hidden: '64' }), key);
});

// ---------------------------------------------------------------------------------------------
// The SAM variants and their hyperparameters (docs/sam-variants.md)

/** Each mode's hyperparameters with the reference defaults (the Trainer's own). */
const MODE_DEFAULTS = {
  none: {},
  sam: { rho: '0.05' },
  asam: { rho: '0.5', eta: '0.01' },
  'asam-davda54': { rho: '2.0' },
  gsam: { rho: '0.05', alpha: '0.2', rhoMin: '' },
  fsam: { rho: '0.1', sigma: '1', lambda: '0.95' },
  looksam: { rho: '0.3', k: '5', alpha: '0.2' },
  s2sam: { rho: '0.05' },
  crsam: { rho: '0.1', gamma: '0.1', beta: '0.01' },
  'sam-linf': { rho: '0.005' },
  msam: { rho: '0.3' },
  nstep: { rho: '0.05', n: '2', alpha: '' }, // an empty α is α = ρ (left to the trainer)
  msharp: { rho: '0.05', m: '32' },
  sampa: { rho: '0.1', lambda: '0.2' },
  ssam: { rho: '0.05', sparsity: '0.5', fisherSamples: '16', k: '100' }, // k: its mask period (LookSAM's is 5)
  'ssam-d': { rho: '0.05', sparsity: '0.5', dropRate: '0.5', k: '100' },
  esam: { rho: '0.05', gamma: '0.5', beta: '0.5' }, // its own β and γ (CR-SAM's are 0.01 and 0.1)
  rsam: { rho: '0.05', sigma: '0.001', lambda: '2' }, // its own σ and λ (F-SAM's are 1 and 0.95)
  mup2: { rho: '0.05', baseWidth: '64' },
};

test('all nineteen SAM modes: their hyperparameters, reference defaults and passes per step', () => {
  assert.deepEqual(SAM_MODES, Object.keys(MODE_DEFAULTS));
  const passes = {
    none: 1, sam: 2, asam: 2, 'asam-davda54': 2, gsam: 2, fsam: 2, looksam: 1.2, s2sam: 1, crsam: 3, 'sam-linf': 2,
    msam: 1, nstep: 3, msharp: 2, sampa: 2, ssam: 2, 'ssam-d': 2, esam: 1.5, rsam: 2, mup2: 2,
  };
  for (const mode of SAM_MODES) {
    const s = withSamMode(DEFAULTS, mode);
    assert.deepEqual(samParams(mode), Object.keys(MODE_DEFAULTS[mode]), mode);
    assert.deepEqual(Object.fromEntries(samParams(mode).map((k) => [k, s[k]])), MODE_DEFAULTS[mode], mode);
    assert.deepEqual(validate(s), {}, `${mode} defaults are valid`);
    assert.equal(passesPerStep(s), passes[mode], mode);
    // Every mode explains itself, and every mode but none cites its paper with a link.
    const info = SAM_INFO[mode];
    assert.ok(info.name && info.about, mode);
    if (mode === 'none') assert.equal(info.paper, null);
    else assert.match(info.paper.url, /^https:\/\//, mode);
    if (mode !== 'none') assert.equal(s.rho, DEFAULT_RHO[mode]);
  }
  assert.equal(passesPerStep({ ...withSamMode(DEFAULTS, 'looksam'), k: '4' }), 1.25);
  assert.equal(passesPerStep({ ...withSamMode(DEFAULTS, 'looksam'), k: '0' }), null, 'no number while k is invalid');
  assert.equal(passesPerStep({ ...withSamMode(DEFAULTS, 'nstep'), n: '5' }), 6, 'n-step: n + 1');
  assert.equal(passesPerStep({ ...withSamMode(DEFAULTS, 'nstep'), n: '0' }), null, 'no number while n is invalid');
  assert.equal(passesPerStep({ ...withSamMode(DEFAULTS, 'msharp'), m: '8' }), 2, 'm-sharpness: 2 whatever m');
  assert.equal(passesPerStep({ ...withSamMode(DEFAULTS, 'msharp'), samStart: '0.5' }), 2, 'late-phase SAM: the SAM steps\' number');
  assert.equal(passesPerStep({ ...withSamMode(DEFAULTS, 'ssam'), k: '10', fisherSamples: '4' }), 2, 'SSAM: 2 (the Fisher passes are extra)');
  const arxiv = {
    sam: '2010.01412', asam: '2102.11600', gsam: '2203.08065', fsam: '2403.12350', looksam: '2203.02714', crsam: '2312.13555',
    'sam-linf': '2010.01412', msam: '2401.12033', nstep: '2206.06232', msharp: '2010.01412', ssam: '2210.05177',
    mup2: '2411.00075',
  };
  for (const [mode, id] of Object.entries(arxiv)) assert.equal(SAM_INFO[mode].paper.url, `https://arxiv.org/abs/${id}`, mode);
  assert.match(SAM_INFO['asam-davda54'].paper.url, /davda54\/sam/);
  assert.match(SAM_INFO.sampa.paper.url, /LIONS-EPFL\/SAMPa/);
  assert.equal(SAM_INFO['ssam-d'].paper.url, 'https://github.com/Mi-Peng/Sparse-Sharpness-Aware-Minimization');
  assert.equal(SAM_INFO.esam.paper.url, 'https://github.com/dydjw9/Efficient_SAM');
  assert.equal(SAM_INFO.rsam.paper.url, 'https://github.com/RSAM-Optimizer/R-SAM');
});

test('the page offers every mode by their readable names (index.html matches SAM_INFO)', () => {
  const html = readFileSync(new URL('../../www/index.html', import.meta.url), 'utf8');
  const select = html.slice(html.indexOf('<select id="sam"'), html.indexOf('</select>', html.indexOf('<select id="sam"')));
  const options = [...select.matchAll(/<option value="([^"]+)">([^<]+)<\/option>/g)].map((m) => [m[1], m[2]]);
  assert.deepEqual(options, SAM_MODES.map((mode) => [mode, SAM_INFO[mode].name]));
  for (const key of SAM_PARAM_KEYS) {
    assert.match(html, new RegExp(`<input id="${key}"`), `an input for ${key}`);
    assert.match(html, new RegExp(`id="${key}-error"`), `a message slot for ${key}`);
  }
  for (const key of KEYS) {
    assert.match(html, new RegExp(`<(input|select) id="${key}"`), `a control for ${key}`);
    assert.match(html, new RegExp(`<label for="${key}">`), `a label for ${key}`);
    assert.match(html, new RegExp(`id="${key}-error"`), `a message slot for ${key}`);
  }
  // The ρ schedule select offers exactly RHO_SCHEDULES; the late-phase and SWA fields cite their papers.
  const schedule = html.slice(html.indexOf('<select id="rhoSchedule"'), html.indexOf('</select>', html.indexOf('<select id="rhoSchedule"')));
  assert.deepEqual([...schedule.matchAll(/<option value="([^"]*)">/g)].map((m) => m[1]), RHO_SCHEDULES);
  assert.match(html, /<label for="samStart">Late-phase SAM: start at fraction<\/label>/);
  assert.match(html, /<label for="swaStart">SWA: average from fraction<\/label>/);
  assert.match(html, /href="https:\/\/arxiv\.org\/abs\/2410\.10373"/);
  assert.match(html, /href="https:\/\/arxiv\.org\/abs\/2202\.00661"/);
});

test('SAM hyperparameters: finite numbers ≥ 0, λ in [0, 1], k a whole number ≥ 1, ρ_min optional', () => {
  const mode = (m, over = {}) => ({ ...withSamMode(DEFAULTS, m), ...over });
  for (const [m, key, symbol] of [['asam', 'eta', 'η'], ['gsam', 'alpha', 'α'], ['looksam', 'alpha', 'α'], ['fsam', 'sigma', 'σ'], ['crsam', 'gamma', 'γ'], ['crsam', 'beta', 'β']]) {
    for (const bad of ['-0.1', 'abc', '', '1e999', 'Infinity']) {
      assert.match(validate(mode(m, { [key]: bad }))[key] ?? '', new RegExp(`^${symbol} must be a number of at least 0 \\(try `), `${m} ${key}=${bad}`);
    }
    assert.equal(validate(mode(m, { [key]: '0' }))[key], undefined, `${m} ${key}=0`);
    assert.equal(validate(mode(m, { [key]: '3.5' }))[key], undefined, `${m} ${key}=3.5`);
  }
  for (const bad of ['2', '-0.1', '1.0001', 'x', '']) {
    assert.match(validate(mode('fsam', { lambda: bad })).lambda ?? '', /λ is a decay rate: a number from 0 to 1/, `λ=${bad}`);
  }
  for (const ok of ['0', '1', '0.5']) assert.equal(validate(mode('fsam', { lambda: ok })).lambda, undefined, `λ=${ok}`);
  for (const bad of ['0', '-1', '2.5', '', 'k', '1e999']) {
    assert.match(validate(mode('looksam', { k: bad })).k ?? '', /k must be a whole number of at least 1/, `k=${bad}`);
  }
  for (const ok of ['1', '10', '1e3']) assert.equal(validate(mode('looksam', { k: ok })).k, undefined, `k=${ok}`);
  assert.equal(validate(mode('gsam', { rhoMin: '' })).rhoMin, undefined, 'empty ρ_min = ρ');
  assert.equal(validate(mode('gsam', { rhoMin: '0.01' })).rhoMin, undefined);
  assert.match(validate(mode('gsam', { rhoMin: '-1' })).rhoMin, /ρ_min must be a number of at least 0, or empty/);
  // Only the chosen mode's hyperparameters are checked.
  assert.deepEqual(validate({ ...DEFAULTS, k: '0', lambda: '2', eta: 'x', rhoMin: '-1', n: '0', m: '7' }), {});
  assert.deepEqual(validate({ ...mode('none'), rho: 'x', k: '0' }), {});
});

test("the config carries exactly the chosen mode's hyperparameters, as numbers", () => {
  const config = (m, over = {}) => toTrainerConfig({ ...withSamMode(DEFAULTS, m), ...over }).config;
  const pick = (c) => Object.fromEntries(SAM_PARAM_KEYS.filter((k) => k in c).map((k) => [k, c[k]]));
  assert.deepEqual(pick(config('none')), {});
  assert.deepEqual(pick(config('sam')), { rho: 0.05 });
  assert.deepEqual(pick(config('asam')), { rho: 0.5, eta: 0.01 });
  assert.deepEqual(pick(config('asam-davda54')), { rho: 2 });
  assert.deepEqual(pick(config('gsam')), { rho: 0.05, alpha: 0.2 }, 'an empty ρ_min is left to the trainer');
  assert.deepEqual(pick(config('gsam', { rhoMin: '0.02' })), { rho: 0.05, alpha: 0.2, rhoMin: 0.02 });
  assert.deepEqual(pick(config('fsam', { lambda: '0.9' })), { rho: 0.1, sigma: 1, lambda: 0.9 });
  assert.deepEqual(pick(config('looksam', { k: '10' })), { rho: 0.3, k: 10, alpha: 0.2 });
  assert.deepEqual(pick(config('s2sam')), { rho: 0.05 });
  assert.deepEqual(pick(config('crsam')), { rho: 0.1, gamma: 0.1, beta: 0.01 });
  assert.deepEqual(pick(config('sam-linf')), { rho: 0.005 });
  assert.deepEqual(pick(config('msam')), { rho: 0.3 });
  assert.deepEqual(pick(config('nstep')), { rho: 0.05, n: 2 }, 'an empty α is left to the trainer (α = ρ)');
  assert.deepEqual(pick(config('nstep', { n: '4', alpha: '0.02' })), { rho: 0.05, n: 4, alpha: 0.02 });
  assert.deepEqual(pick(config('msharp', { m: '16' })), { rho: 0.05, m: 16 });
  assert.deepEqual(pick(config('ssam')), { rho: 0.05, sparsity: 0.5, fisherSamples: 16, k: 100 });
  assert.deepEqual(pick(config('ssam', { sparsity: '0', fisherSamples: '1e2', k: '1' })), { rho: 0.05, sparsity: 0, fisherSamples: 100, k: 1 });
  assert.deepEqual(pick(config('looksam')), { rho: 0.3, k: 5, alpha: 0.2 }, 'no SSAM keys for LookSAM');
  assert.deepEqual(pick(config('ssam-d')), { rho: 0.05, sparsity: 0.5, dropRate: 0.5, k: 100 });
  assert.deepEqual(pick(config('esam')), { rho: 0.05, gamma: 0.5, beta: 0.5 });
  assert.deepEqual(pick(config('rsam')), { rho: 0.05, sigma: 0.001, lambda: 2 });
  assert.deepEqual(pick(config('mup2', { baseWidth: '1e2' })), { rho: 0.05, baseWidth: 100 });
  for (const m of SAM_MODES) assert.equal(config(m).sam, m);
});

test("the URL hash carries the chosen mode's hyperparameters and fills the ones it omits", () => {
  // Every mode with non-default values round-trips.
  const typed = {
    rho: '0.07', eta: '0.02', alpha: '0.4', sigma: '0.5', lambda: '0.6', k: '7', gamma: '0.3', beta: '0.02', rhoMin: '0.01', n: '3', m: '16',
    sparsity: '0.8', fisherSamples: '32', dropRate: '0.3', baseWidth: '32',
  };
  for (const m of SAM_MODES) {
    const s = withSamMode(DEFAULTS, m);
    for (const key of samParams(m)) s[key] = typed[key];
    assert.deepEqual(fromHash(toHash(s)), s, m);
  }
  const look = withSamMode(DEFAULTS, 'looksam');
  assert.match(toHash(look), /&sam=looksam&rho=0\.3&k=5&alpha=0\.2&lr=0\.05&/);
  assert.doesNotMatch(toHash(DEFAULTS), /eta|alpha|sigma|lambda|&k=|gamma|beta|rhoMin/, 'plain SAM: only ρ');
  assert.doesNotMatch(toHash(withSamMode(DEFAULTS, 'none')), /rho/, 'no ρ without SAM');
  assert.doesNotMatch(toHash(withSamMode(DEFAULTS, 'gsam')), /rhoMin/, 'an empty ρ_min is left out');
  assert.match(toHash({ ...withSamMode(DEFAULTS, 'gsam'), rhoMin: '0.01' }), /sam=gsam&rho=0\.05&alpha=0\.2&rhoMin=0\.01&lr=/);

  // The brief's example: given values are kept, the rest (ρ) gets the mode's default.
  const s = fromHash('#sam=looksam&k=5&alpha=0.2');
  assert.deepEqual([s.sam, s.rho, s.k, s.alpha], ['looksam', '0.3', '5', '0.2']);
  assert.deepEqual([fromHash('#sam=looksam&k=9').k, fromHash('#sam=looksam&k=9').alpha], ['9', '0.2']);
  const f = fromHash('#sam=fsam');
  assert.deepEqual([f.rho, f.sigma, f.lambda], ['0.1', '1', '0.95']);
  assert.equal(fromHash('#sam=crsam&gamma=0.3').beta, '0.01');
  assert.equal(fromHash('#sam=gsam').rhoMin, '');
  // Invalid values are kept as typed (the page shows the message); another mode's are ignored.
  assert.equal(fromHash('#sam=looksam&k=0').k, '0');
  assert.match(validate(fromHash('#sam=fsam&lambda=2')).lambda, /from 0 to 1/);
  assert.equal(fromHash('#sam=sam&k=0&lambda=2').k, '5');
  assert.deepEqual(validate(fromHash('#sam=sam&k=0&lambda=2')), {});
});

test('changing the mode brings its defaults, or the values the link gave that mode', () => {
  const link = '#sam=looksam&rho=0.25&k=7';
  const loaded = fromHash(link);
  assert.deepEqual([loaded.rho, loaded.k, loaded.alpha], ['0.25', '7', '0.2']);
  // A typed value does not survive a change of mode: each mode has its own scale.
  const fsam = withSamMode({ ...loaded, k: '3' }, 'fsam', link);
  assert.deepEqual([fsam.rho, fsam.sigma, fsam.lambda], ['0.1', '1', '0.95']);
  const gsam = withSamMode({ ...fsam, lambda: '0.5' }, 'gsam', link);
  assert.deepEqual([gsam.rho, gsam.alpha, gsam.rhoMin], ['0.05', '0.2', ''], "the link's values belong to its mode (looksam)");
  const back = withSamMode({ ...gsam, alpha: '0.9' }, 'looksam', link);
  assert.deepEqual([back.rho, back.k, back.alpha], ['0.25', '7', '0.2'], 'back to the link\'s mode: its values, defaults for the rest');
  assert.deepEqual([withSamMode(back, 'looksam').k, withSamMode(back, 'sam').rho], ['5', '0.05'], 'without a link: the defaults');
  // A link without `sam` chose the default mode (SAM), so its ρ comes back with SAM.
  assert.equal(withSamMode(withSamMode(fromHash('#rho=0.02'), 'asam', '#rho=0.02'), 'sam', '#rho=0.02').rho, '0.02');
});

test("the chosen mode's hyperparameters are part of the trainer's structure; the others are not", () => {
  const look = withSamMode(DEFAULTS, 'looksam');
  const key = structureKey(look);
  assert.notEqual(structureKey({ ...look, k: '6' }), key);
  assert.notEqual(structureKey({ ...look, alpha: '0.3' }), key);
  assert.equal(structureKey({ ...look, sigma: '2', lambda: '0.5' }), key, 'F-SAM values do not matter to LookSAM');
  assert.equal(structureKey({ ...look, rho: '0.2' }), key, 'ρ is live');
  assert.notEqual(structureKey(withSamMode(DEFAULTS, 'fsam')), structureKey(withSamMode(DEFAULTS, 'sam')));
});

// ---------------------------------------------------------------------------------------------
// MSAM, n-step SAM, m-sharpness; late-phase SAM, SWA and the ρ schedule

test('n-step SAM: n a whole number from 1 to 64, α optional (empty = ρ)', () => {
  const nstep = (over = {}) => ({ ...withSamMode(DEFAULTS, 'nstep'), ...over });
  for (const bad of ['0', '-1', '2.5', '', 'x', '65', '1e999']) {
    assert.match(validate(nstep({ n: bad })).n ?? '', /^n must be a whole number from 1 to 64/, `n=${bad}`);
  }
  for (const ok of ['1', '2', '64']) assert.equal(validate(nstep({ n: ok })).n, undefined, `n=${ok}`);
  assert.equal(validate(nstep({ alpha: '' })).alpha, undefined, 'empty α = ρ');
  assert.equal(validate(nstep({ alpha: '0.01' })).alpha, undefined);
  for (const bad of ['-0.1', 'x']) {
    assert.match(validate(nstep({ alpha: bad })).alpha, /^α must be a number of at least 0, or empty for α = ρ\./, `α=${bad}`);
  }
  // GSAM's and LookSAM's α are not optional.
  assert.match(validate({ ...withSamMode(DEFAULTS, 'gsam'), alpha: '' }).alpha, /α must be a number of at least 0 \(try 0\.2\)/);
  // With an empty α the trainer takes α from the ρ it is built with: ρ is then part of its structure.
  const s = nstep();
  assert.notEqual(structureKey({ ...s, rho: '0.1' }), structureKey(s), 'α = ρ: a new ρ needs a new trainer');
  assert.equal(structureKey({ ...s, alpha: '0.05', rho: '0.1' }), structureKey({ ...s, alpha: '0.05' }), 'an explicit α: ρ is live');
});

test('m-sharpness: m must divide the batch size, with the nearest divisor as the suggestion', () => {
  const msharp = (over = {}) => ({ ...withSamMode(DEFAULTS, 'msharp'), ...over });
  assert.equal(validate(msharp()).m, undefined, 'm 32 divides 128');
  for (const ok of ['1', '8', '64', '128']) assert.equal(validate(msharp({ m: ok })).m, undefined, `m=${ok}`);
  assert.equal(validate(msharp({ m: '30' })).m, 'm must divide the batch size (128) so that every sub-batch has m rows: try 32.');
  assert.match(validate(msharp({ m: '256' })).m, /divide the batch size \(128\).*try 128\./);
  assert.match(validate(msharp({ m: '32', batchSize: '100' })).m, /divide the batch size \(100\).*try 25\./, 'a new batch size re-checks m');
  for (const bad of ['0', '2.5', '', 'x']) {
    assert.match(validate(msharp({ m: bad })).m ?? '', /^m must be a whole number of at least 1/, `m=${bad}`);
  }
  // An invalid batch size gets its own message only.
  const errors = validate(msharp({ batchSize: '0' }));
  assert.ok(errors.batchSize);
  assert.equal(errors.m, undefined);
  assert.equal(validate({ ...DEFAULTS, m: '30' }).m, undefined, 'not checked for SAM');
});

test('MSAM needs "SGD + momentum 0.9": any other optimizer gets a message beside the optimizer', () => {
  const msam = withSamMode(DEFAULTS, 'msam');
  assert.deepEqual(validate(msam), {});
  for (const optimizer of ['sgd', 'adam', 'adamw']) {
    assert.match(validate({ ...msam, optimizer, lr: '0.001' }).optimizer ?? '', /MSAM perturbs along the SGD momentum buffer: choose "SGD \+ momentum 0\.9"/, optimizer);
  }
  assert.equal(validate({ ...DEFAULTS, optimizer: 'adam', lr: '0.001' }).optimizer, undefined, 'other modes take any optimizer');
  assert.deepEqual(toTrainerConfig(msam).config.optimizer, 'sgd');
  assert.equal(toTrainerConfig(msam).config.momentum, 0.9);
});

test('late-phase SAM and SWA: empty (off) or a fraction in [0, 1)', () => {
  for (const [key, pattern] of [['samStart', /^Late-phase SAM starts at a fraction of the run/], ['swaStart', /^SWA starts at a fraction of the run/]]) {
    for (const ok of ['', ' ', '0', '0.5', '0.999']) assert.equal(validate({ ...DEFAULTS, [key]: ok })[key], undefined, `${key}="${ok}"`);
    for (const bad of ['1', '1.5', '-0.1', 'x', 'NaN', '50%']) {
      assert.match(validate({ ...DEFAULTS, [key]: bad })[key] ?? '', pattern, `${key}="${bad}"`);
    }
  }
  // Late-phase SAM needs a SAM mode; SWA works with any.
  const none = withSamMode(DEFAULTS, 'none');
  assert.equal(isActive(none, 'samStart'), false);
  assert.equal(validate({ ...none, samStart: 'x' }).samStart, undefined, 'not checked without SAM');
  assert.equal('samStart' in toTrainerConfig({ ...none, samStart: '0.5' }).config, false, 'not sent without SAM');
  assert.equal(toTrainerConfig({ ...none, swaStart: '0.5' }).config.swaStart, 0.5);
  assert.equal(swaOn(DEFAULTS), false);
  assert.equal(swaOn({ ...DEFAULTS, swaStart: '0.5' }), true);
  assert.equal(swaOn({ ...DEFAULTS, swaStart: '2' }), false);
});

test('the ρ schedule: the mode\'s default, constant, tied to lr, or a warm-up of whole steps ≥ 1', () => {
  assert.equal(validate({ ...DEFAULTS, rhoSchedule: 'cosine' }).rhoSchedule, "Choose one of: (the mode's default), constant, lr, warmup.");
  assert.equal(isActive(DEFAULTS, 'rhoWarmup'), false, 'warm-up steps only with the warm-up schedule');
  assert.equal(validate({ ...DEFAULTS, rhoWarmup: 'x' }).rhoWarmup, undefined);
  for (const bad of ['0', '-5', '2.5', '', 'x']) {
    assert.match(validate({ ...DEFAULTS, rhoSchedule: 'warmup', rhoWarmup: bad }).rhoWarmup ?? '', /warm-up must be a whole number of steps, at least 1/, `"${bad}"`);
  }
  assert.deepEqual(validate({ ...DEFAULTS, rhoSchedule: 'warmup', rhoWarmup: '1' }), {});
  const none = withSamMode(DEFAULTS, 'none');
  assert.deepEqual(validate({ ...none, rhoSchedule: 'bogus', rhoWarmup: 'x' }), {}, 'not checked without SAM');
});

test('the new settings map onto the Trainer config only when set', () => {
  const config = (over = {}) => toTrainerConfig({ ...DEFAULTS, ...over }).config;
  for (const key of ['rhoSchedule', 'samStart', 'swaStart', 'rhoWarmup', 'n', 'm']) assert.equal(key in config(), false, key);
  assert.equal(config({ rhoSchedule: 'constant' }).rhoSchedule, 'constant');
  assert.equal(config({ rhoSchedule: 'lr' }).rhoSchedule, 'lr');
  assert.equal(config({ rhoSchedule: 'warmup', rhoWarmup: '250' }).rhoSchedule, 'warmup:250');
  assert.equal(config({ rhoSchedule: 'warmup', rhoWarmup: '1e3' }).rhoSchedule, 'warmup:1000');
  assert.equal('rhoWarmup' in config({ rhoSchedule: 'warmup' }), false, 'folded into rhoSchedule');
  assert.equal(config({ samStart: '0.6' }).samStart, 0.6);
  assert.equal(config({ samStart: '0' }).samStart, 0);
  assert.equal(config({ swaStart: '0.75' }).swaStart, 0.75);
  assert.deepEqual(
    toTrainerConfig({ ...withSamMode(DEFAULTS, 'msharp'), batchSize: '128', swaStart: '0.5' }).config,
    {
      model: 'mlp', hidden: [256, 256], dropout: 0, augment: false, optimizer: 'sgd', momentum: 0.9, lr: 0.05, sam: 'msharp',
      rho: 0.05, m: 32, batchSize: 128, epochs: 2, seed: 0, labelNoise: 0, swaStart: 0.5,
    },
  );
  // Each of them is part of the trainer's structure (a change builds a new trainer).
  const key = structureKey(DEFAULTS);
  for (const over of [{ samStart: '0.5' }, { swaStart: '0.5' }, { rhoSchedule: 'lr' }]) assert.notEqual(structureKey({ ...DEFAULTS, ...over }), key);
  assert.equal(structureKey({ ...DEFAULTS, rhoWarmup: '7' }), key, 'warm-up steps matter only with the warm-up schedule');
  assert.notEqual(structureKey({ ...DEFAULTS, rhoSchedule: 'warmup', rhoWarmup: '7' }), structureKey({ ...DEFAULTS, rhoSchedule: 'warmup' }));
});

test('the URL hash carries the new settings when set, and defaults fill the ones it omits', () => {
  // Defaults: nothing new in the hash.
  assert.equal(toHash(DEFAULTS), '#dataset=mnist&model=mlp&hidden=256,256&dropout=0&augment=off&optimizer=momentum&sam=sam&rho=0.05&lr=0.05&batchSize=128&epochs=2&seed=0&labelNoise=0');
  const s = { ...withSamMode(DEFAULTS, 'nstep'), n: '3', alpha: '0.02', rhoSchedule: 'warmup', rhoWarmup: '40', samStart: '0.6', swaStart: '0.75' };
  const hash = toHash(s);
  assert.equal(hash, '#dataset=mnist&model=mlp&hidden=256,256&dropout=0&augment=off&optimizer=momentum&sam=nstep&rho=0.05&n=3&alpha=0.02&rhoSchedule=warmup&rhoWarmup=40&samStart=0.6&lr=0.05&batchSize=128&epochs=2&seed=0&labelNoise=0&swaStart=0.75');
  assert.deepEqual(fromHash(hash), s);
  for (const over of [{ rhoSchedule: 'lr' }, { rhoSchedule: 'constant', samStart: '0' }, { swaStart: '0' }]) {
    const t = { ...withSamMode(DEFAULTS, 'msharp'), m: '64', ...over };
    assert.deepEqual(fromHash(toHash(t)), t, JSON.stringify(over));
  }
  assert.match(toHash(withSamMode(DEFAULTS, 'msharp')), /&sam=msharp&rho=0\.05&m=32&lr=/);
  assert.match(toHash(withSamMode(DEFAULTS, 'msam')), /&sam=msam&rho=0\.3&lr=/);
  assert.match(toHash(withSamMode(DEFAULTS, 'nstep')), /&sam=nstep&rho=0\.05&n=2&lr=/, 'an empty α is left out');
  assert.doesNotMatch(toHash({ ...DEFAULTS, rhoSchedule: 'lr' }), /rhoWarmup/, 'warm-up steps only with the warm-up schedule');

  // What the hash omits gets its default: off, the mode's ρ schedule, 100 warm-up steps, α = ρ.
  const omitted = fromHash('#sam=nstep&rhoSchedule=warmup');
  assert.deepEqual([omitted.n, omitted.alpha, omitted.rhoWarmup, omitted.samStart, omitted.swaStart], ['2', '', '100', '', '']);
  assert.deepEqual(fromHash('#sam=msharp&batchSize=64').m, '32');
  // Kept as typed, so the page shows the message; an unknown schedule falls back to the default.
  assert.equal(fromHash('#swaStart=2').swaStart, '2');
  assert.match(validate(fromHash('#sam=msharp&m=30')).m, /divide the batch size/);
  assert.equal(fromHash('#rhoSchedule=cosine').rhoSchedule, '');
  // Settings without SAM are ignored with sam=none (and left out of its hash).
  const none = fromHash('#sam=none&samStart=0.5&rhoSchedule=lr&swaStart=0.5');
  assert.deepEqual([none.samStart, none.rhoSchedule, none.swaStart], ['', '', '0.5']);
  assert.doesNotMatch(toHash({ ...withSamMode(DEFAULTS, 'none'), samStart: '0.5', rhoSchedule: 'lr' }), /samStart|rhoSchedule/);
  // They belong to the run, not to one mode: a change of mode keeps them.
  const kept = withSamMode({ ...DEFAULTS, samStart: '0.5', rhoSchedule: 'lr', swaStart: '0.7' }, 'msharp');
  assert.deepEqual([kept.samStart, kept.rhoSchedule, kept.swaStart], ['0.5', 'lr', '0.7']);
});

test('SAMPa needs an SGD optimizer and sends λ', () => {
  const sampa = withSamMode(DEFAULTS, 'sampa');
  assert.deepEqual(validate(sampa), {});
  for (const optimizer of ['adam', 'adamw']) {
    assert.match(validate({ ...sampa, optimizer, lr: '0.001' }).optimizer ?? '', /SAMPa looks ahead with an SGD step/, optimizer);
  }
  assert.deepEqual(validate({ ...sampa, optimizer: 'sgd' }), {});
  const config = toTrainerConfig(sampa).config;
  assert.equal(config.sam, 'sampa');
  assert.equal(config.lambda, 0.2);
  assert.equal(config.rho, 0.1);
});

test('SSAM: s in [0, 1), N_s a whole number ≥ 1 and at most the batch size, k its mask period (default 100)', () => {
  const ssam = (over = {}) => ({ ...withSamMode(DEFAULTS, 'ssam'), ...over });
  assert.deepEqual(validate(ssam()), {});
  for (const bad of ['1', '-0.1', '1.5', '', 'x', '1e999']) {
    assert.match(validate(ssam({ sparsity: bad })).sparsity ?? '', /^s is the share of parameters left unperturbed: at least 0 and below 1 \(try 0\.5; 0 is SAM\)\./, `s=${bad}`);
  }
  for (const ok of ['0', '0.5', '0.99']) assert.equal(validate(ssam({ sparsity: ok })).sparsity, undefined, `s=${ok}`);
  for (const bad of ['0', '2.5', '-1', '', 'x', '1e999']) {
    assert.match(validate(ssam({ fisherSamples: bad })).fisherSamples ?? '', /^N_s must be a whole number of at least 1: .*\(try 16\)\./, `N_s=${bad}`);
  }
  for (const ok of ['1', '16', '128']) assert.equal(validate(ssam({ fisherSamples: ok })).fisherSamples, undefined, `N_s=${ok} (batch 128)`);
  // The Fisher samples are the batch's first rows: no more of them than the batch has.
  assert.equal(validate(ssam({ fisherSamples: '129' })).fisherSamples,
    "N_s must be at most the batch size (128): the Fisher samples are the batch's first rows. Try 16.");
  assert.match(validate(ssam({ batchSize: '8' })).fisherSamples ?? '', /at most the batch size \(8\).*Try 8\./, 'a new batch size re-checks N_s');
  assert.deepEqual(Object.keys(validate(ssam({ batchSize: '8' }))), ['fisherSamples'], 'beside N_s, not the batch size');
  const badBatch = validate(ssam({ batchSize: '0' }));
  assert.ok(badBatch.batchSize);
  assert.equal(badBatch.fisherSamples, undefined, 'an invalid batch size gets its own message only');
  // k: SSAM's own default and words; LookSAM keeps its own.
  assert.equal(ssam().k, '100');
  assert.equal(validate(ssam({ k: '0' })).k, 'k must be a whole number of at least 1: a new Fisher mask every k steps (try 100).');
  assert.equal(validate({ ...withSamMode(DEFAULTS, 'looksam'), k: '0' }).k, 'k must be a whole number of at least 1: a SAM step every k steps (try 5).');
  // Not checked, sent or linked for the other modes.
  assert.deepEqual(validate({ ...DEFAULTS, sparsity: '1', fisherSamples: '0' }), {});
  assert.deepEqual(validate({ ...withSamMode(DEFAULTS, 'looksam'), fisherSamples: '999' }), {});
  assert.equal(isActive(DEFAULTS, 'sparsity'), false);
  assert.equal(isActive(ssam(), 'fisherSamples'), true);
  // The Trainer config and the structure key.
  const config = toTrainerConfig(ssam()).config;
  assert.deepEqual([config.sam, config.rho, config.sparsity, config.fisherSamples, config.k], ['ssam', 0.05, 0.5, 16, 100]);
  const key = structureKey(ssam());
  for (const over of [{ sparsity: '0.8' }, { fisherSamples: '8' }, { k: '50' }]) assert.notEqual(structureKey(ssam(over)), key, JSON.stringify(over));
  assert.equal(structureKey(ssam({ rho: '0.1' })), key, 'ρ is live');
  assert.equal(structureKey({ ...DEFAULTS, sparsity: '0.9' }), structureKey(DEFAULTS), 'SSAM values do not matter to SAM');
});

test('SSAM in the URL hash: its hyperparameters after sam, its own k, defaults for what the hash omits', () => {
  const s = withSamMode(DEFAULTS, 'ssam');
  assert.match(toHash(s), /&sam=ssam&rho=0\.05&sparsity=0\.5&fisherSamples=16&k=100&lr=0\.05&/);
  assert.deepEqual(fromHash(toHash(s)), s);
  const typed = { ...s, rho: '0.1', sparsity: '0.9', fisherSamples: '4', k: '20', batchSize: '64' };
  assert.deepEqual(fromHash(toHash(typed)), typed);
  const omitted = fromHash('#sam=ssam&sparsity=0.75');
  assert.deepEqual([omitted.rho, omitted.sparsity, omitted.fisherSamples, omitted.k], ['0.05', '0.75', '16', '100']);
  // Kept as typed, so the page shows the message beside the field.
  assert.equal(fromHash('#sam=ssam&fisherSamples=2.5').fisherSamples, '2.5');
  assert.match(validate(fromHash('#sam=ssam&fisherSamples=256')).fisherSamples, /at most the batch size \(128\)/);
  assert.match(validate(fromHash('#sam=ssam&sparsity=1')).sparsity, /below 1/);
  // Another mode's link ignores SSAM's keys, and the shared k gets each mode's own default.
  const look = fromHash('#sam=looksam&sparsity=0.9&fisherSamples=0');
  assert.deepEqual([look.sparsity, look.fisherSamples, look.k], ['0.5', '16', '5']);
  assert.doesNotMatch(toHash(look), /sparsity|fisherSamples/);
  assert.equal(withSamMode(fromHash('#sam=ssam&k=40'), 'looksam', '#sam=ssam&k=40').k, '5', "SSAM's k is not LookSAM's");
  assert.equal(withSamMode(withSamMode(fromHash('#sam=ssam&k=40'), 'sam'), 'ssam', '#sam=ssam&k=40').k, '40', "back to the link's mode: its k");
});

test('SSAM-D, ESAM, R-SAM and μP²: dr in [0, 1], base width a whole number ≥ 1, ESAM β and γ in (0, 1], R-SAM λ any number ≥ 0', () => {
  const mode = (m, over = {}) => ({ ...withSamMode(DEFAULTS, m), ...over });
  for (const m of ['ssam-d', 'esam', 'rsam', 'mup2']) assert.deepEqual(validate(mode(m)), {}, `${m} defaults are valid`);
  // SSAM-D's drop rate (a new key) and its own k (the mask period, like SSAM's).
  for (const bad of ['1.5', '-0.1', '', 'x', '1e999']) {
    assert.equal(validate(mode('ssam-d', { dropRate: bad })).dropRate,
      'dr is the share of the mask replaced at each refresh (it decays over the run): a number from 0 to 1 (try 0.5).', `dr=${bad}`);
  }
  for (const ok of ['0', '0.25', '1']) assert.equal(validate(mode('ssam-d', { dropRate: ok })).dropRate, undefined, `dr=${ok}`);
  assert.match(validate(mode('ssam-d', { sparsity: '1' })).sparsity, /^s is the share of parameters left unperturbed/);
  assert.equal(validate(mode('ssam-d', { k: '0' })).k, 'k must be a whole number of at least 1: the mask drops and regrows parameters every k steps (try 100).');
  // μP²'s base width (a new key).
  for (const bad of ['0', '-64', '2.5', '', 'x']) {
    assert.equal(validate(mode('mup2', { baseWidth: bad })).baseWidth,
      'The base width must be a whole number of at least 1: the width at which μP² is plain SAM (try 64).', `base width ${bad}`);
  }
  for (const ok of ['1', '256', '1e3']) assert.equal(validate(mode('mup2', { baseWidth: ok })).baseWidth, undefined, `base width ${ok}`);
  // ESAM: β and γ are a probability and a share, so 0 is out (CR-SAM's β and γ take any number ≥ 0).
  for (const bad of ['0', '1.5', '-0.5', '', 'x']) {
    assert.equal(validate(mode('esam', { beta: bad })).beta, 'β is the chance that each tensor is perturbed: above 0 and at most 1 (try 0.5; 1 is SAM).', `β=${bad}`);
    assert.equal(validate(mode('esam', { gamma: bad })).gamma, 'γ is the share of the batch used for the second gradient: above 0 and at most 1 (try 0.5; 1 is SAM).', `γ=${bad}`);
  }
  for (const ok of ['1', '0.01']) assert.deepEqual(validate(mode('esam', { beta: ok, gamma: ok })), {}, `β = γ = ${ok}`);
  assert.deepEqual(validate(mode('crsam', { beta: '0', gamma: '1.5' })), {}, "CR-SAM's β and γ may be 0 or above 1");
  assert.deepEqual([mode('crsam').gamma, mode('crsam').beta], ['0.1', '0.01'], "CR-SAM keeps its own defaults");
  // R-SAM's λ is a step, not a decay rate: 2 (its default) is fine there and not for F-SAM or SAMPa.
  assert.equal(validate(mode('rsam', { lambda: '2' })).lambda, undefined);
  assert.equal(validate(mode('rsam', { lambda: '10' })).lambda, undefined);
  assert.match(validate(mode('fsam', { lambda: '2' })).lambda, /^λ is a decay rate: a number from 0 to 1/);
  assert.match(validate(mode('sampa', { lambda: '2' })).lambda, /from 0 to 1/);
  for (const bad of ['-1', '', 'x']) {
    assert.equal(validate(mode('rsam', { lambda: bad })).lambda, 'λ is the step along ∇L(w+δ0): a number of at least 0 (try 2).', `λ=${bad}`);
  }
  assert.match(validate(mode('rsam', { sigma: '-0.001' })).sigma, /^σ must be a number of at least 0 \(try 0\.001\)\./);
  // Not checked for the other modes.
  assert.deepEqual(validate({ ...DEFAULTS, dropRate: '7', baseWidth: '0' }), {});
  assert.deepEqual(validate({ ...withSamMode(DEFAULTS, 'ssam'), dropRate: '7' }), {});
  // ESAM's passes: 1 + the share of the batch in its second pass (⌊γ·batch⌋ rows, at least 1).
  assert.equal(passesPerStep(mode('esam')), 1.5);
  assert.equal(passesPerStep(mode('esam', { gamma: '1' })), 2);
  assert.equal(passesPerStep(mode('esam', { gamma: '0.3', batchSize: '10' })), 1.3);
  assert.equal(passesPerStep(mode('esam', { gamma: '0.01', batchSize: '10' })), 1.1, 'at least one row');
  assert.equal(passesPerStep(mode('esam', { gamma: '0.25', batchSize: 'x' })), 1.25, 'γ alone while the batch size is invalid');
  assert.equal(passesPerStep(mode('esam', { gamma: '0' })), null, 'no number while γ is invalid');
});

test('SSAM-D, ESAM, R-SAM and μP² in the URL hash and the structure key', () => {
  const cases = {
    'ssam-d': [/&sam=ssam-d&rho=0\.05&sparsity=0\.5&dropRate=0\.5&k=100&lr=/, { dropRate: '0.2', k: '20' }],
    esam: [/&sam=esam&rho=0\.05&gamma=0\.5&beta=0\.5&lr=/, { gamma: '0.25', beta: '0.75' }],
    rsam: [/&sam=rsam&rho=0\.05&sigma=0\.001&lambda=2&lr=/, { sigma: '0.01', lambda: '3' }],
    mup2: [/&sam=mup2&rho=0\.05&baseWidth=64&lr=/, { baseWidth: '16' }],
  };
  for (const [m, [pattern, over]] of Object.entries(cases)) {
    const s = withSamMode(DEFAULTS, m);
    assert.match(toHash(s), pattern, m);
    assert.deepEqual(fromHash(toHash(s)), s, m);
    const typed = { ...s, ...over };
    assert.deepEqual(fromHash(toHash(typed)), typed, `${m} with typed values`);
    assert.notEqual(structureKey(typed), structureKey(s), `${m}: its hyperparameters build a new trainer`);
    assert.equal(structureKey({ ...s, rho: '0.1' }), structureKey(s), `${m}: ρ is live`);
  }
  // What a link omits gets the mode's own default; another mode's link ignores these keys.
  const esam = fromHash('#sam=esam&beta=0.3');
  assert.deepEqual([esam.beta, esam.gamma], ['0.3', '0.5']);
  assert.deepEqual([fromHash('#sam=crsam').beta, fromHash('#sam=crsam').gamma], ['0.01', '0.1']);
  assert.deepEqual([fromHash('#sam=rsam').sigma, fromHash('#sam=rsam').lambda], ['0.001', '2']);
  assert.equal(fromHash('#sam=sam&dropRate=0.9&baseWidth=8').dropRate, '0.5');
  assert.doesNotMatch(toHash(fromHash('#sam=sam&dropRate=0.9&baseWidth=8')), /dropRate|baseWidth/);
  assert.equal(fromHash('#sam=mup2&baseWidth=0').baseWidth, '0', 'kept as typed: the page shows the message');
  assert.match(validate(fromHash('#sam=mup2&baseWidth=0')).baseWidth, /whole number of at least 1/);
  // Switching modes brings each mode's own β/γ, σ/λ and k.
  const fromEsam = withSamMode(withSamMode(DEFAULTS, 'esam'), 'crsam');
  assert.deepEqual([fromEsam.gamma, fromEsam.beta], ['0.1', '0.01']);
  assert.equal(withSamMode(withSamMode(DEFAULTS, 'looksam'), 'ssam-d').k, '100');
  assert.equal(withSamMode(withSamMode(DEFAULTS, 'rsam'), 'fsam').lambda, '0.95');
});

// ---------------------------------------------------------------------------------------------
// Models, dropout, augmentation and CIFAR-10

test('the page offers every model, data set and augmentation choice (index.html matches settings.js)', () => {
  const html = readFileSync(new URL('../../www/index.html', import.meta.url), 'utf8');
  const options = (id) => {
    const select = html.slice(html.indexOf(`<select id="${id}"`), html.indexOf('</select>', html.indexOf(`<select id="${id}"`)));
    return [...select.matchAll(/<option value="([^"]*)">([^<]+)<\/option>/g)].map((m) => [m[1], m[2]]);
  };
  assert.deepEqual(MODELS, ['mlp', 'lenet', 'tfjs-convnet', 'resnet8']);
  assert.deepEqual(options('model'), MODELS.map((m) => [m, MODEL_INFO[m].name]));
  assert.deepEqual(options('dataset').map(([value]) => value), DATASETS);
  assert.deepEqual(options('dataset').slice(-2), [['cifar10', 'CIFAR-10 (from your disk)'], ['idx', 'Your IDX files (from your disk)']]);
  assert.deepEqual(options('augment').map(([value]) => value), AUGMENT);
  for (const m of MODELS.filter((m) => m !== 'mlp')) assert.match(MODEL_INFO[m].hint, /Try /, `${m} suggests settings`);
  // The CIFAR-10 file control has its message slot, and the page says how to get the file.
  assert.match(html, /<button type="button" id="cifarFile"/);
  assert.match(html, /id="cifarFile-error"/);
  assert.match(html, /<input type="file" id="cifar-file-input" multiple/);
  assert.match(html, /href="https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar-10-binary\.tar\.gz"/);
  assert.match(html, /npm run fetch-data -- --dataset cifar10/);
  // So do own IDX files, and the data set's progress bar has its label.
  assert.match(html, /<button type="button" id="idxFile"/);
  assert.match(html, /id="idxFile-error"/);
  assert.match(html, /<input type="file" id="idx-file-input" multiple/);
  assert.match(html, /<label for="data-progress" id="data-progress-label">/);
  assert.match(html, /<progress id="data-progress" aria-labelledby="data-progress-label">/);
});

test('models: hidden widths only for the MLP (checked, sent and linked), dropout and augmentation for all', () => {
  for (const model of MODELS) {
    const s = { ...DEFAULTS, model, hidden: 'x' };
    assert.equal(isActive(s, 'hidden'), model === 'mlp', model);
    assert.equal(Boolean(validate(s).hidden), model === 'mlp', `${model}: hidden checked only for the MLP`);
    const config = toTrainerConfig({ ...DEFAULTS, model }).config;
    assert.equal(config.model, model);
    assert.equal('hidden' in config, model === 'mlp', `${model}: hidden sent only for the MLP`);
  }
  const lenet = { ...DEFAULTS, model: 'lenet', dropout: '0.25', augment: 'on' };
  assert.deepEqual(validate(lenet), {});
  assert.deepEqual(toTrainerConfig(lenet).config, {
    model: 'lenet', dropout: 0.25, augment: true, optimizer: 'sgd', momentum: 0.9, lr: 0.05, sam: 'sam', rho: 0.05,
    batchSize: 128, epochs: 2, seed: 0, labelNoise: 0,
  });
  for (const bad of ['1', '-0.1', 'x', '', '1.5']) {
    assert.match(validate({ ...DEFAULTS, dropout: bad }).dropout ?? '', /^Dropout is the share of features dropped before the classifier: at least 0 and below 1/, `dropout=${bad}`);
  }
  for (const ok of ['0', '0.5', '0.999']) assert.equal(validate({ ...DEFAULTS, dropout: ok }).dropout, undefined, ok);
  assert.equal(validate({ ...DEFAULTS, augment: 'maybe' }).augment, 'Choose one of: off, on.');
  // Each is part of the trainer's structure; the widths only for the MLP.
  const key = structureKey(DEFAULTS);
  for (const over of [{ model: 'lenet' }, { dropout: '0.1' }, { augment: 'on' }]) assert.notEqual(structureKey({ ...DEFAULTS, ...over }), key);
  assert.equal(structureKey({ ...lenet, hidden: '64' }), structureKey(lenet), 'LeNet has no hidden widths');
});

test('SWA works with every model (BatchNorm models get the average\'s statistics recomputed)', () => {
  const resnet = { ...DEFAULTS, model: 'resnet8' };
  assert.deepEqual(validate(resnet), {});
  assert.match(validate({ ...resnet, swaStart: '2' }).swaStart, /^SWA starts at a fraction of the run/, 'a bad fraction gets the usual message');
  for (const model of ['mlp', 'lenet', 'tfjs-convnet', 'resnet8']) {
    assert.deepEqual(validate({ ...DEFAULTS, model, swaStart: '0.5' }), {}, model);
    assert.equal(swaOn({ ...DEFAULTS, model, swaStart: '0.5' }), true, model);
  }
});

test('CIFAR-10: images per class only with CIFAR-10, a whole number from 1 to 5000, sent beside the config', () => {
  const cifar = { ...DEFAULTS, dataset: 'cifar10' };
  assert.equal(DEFAULTS.perClass, '500');
  assert.deepEqual(validate(cifar), {});
  assert.deepEqual(toTrainerConfig(cifar), { dataset: 'cifar10', perClass: 500, config: toTrainerConfig(DEFAULTS).config });
  assert.equal('perClass' in toTrainerConfig(DEFAULTS), false, 'not for MNIST');
  for (const bad of ['0', '5001', '2.5', '', 'x']) {
    assert.match(validate({ ...cifar, perClass: bad }).perClass ?? '', /^Images per class must be a whole number from 1 to 5,000/, `perClass=${bad}`);
  }
  for (const ok of ['1', '5000', '50']) assert.equal(validate({ ...cifar, perClass: ok }).perClass, undefined, ok);
  assert.deepEqual(validate({ ...DEFAULTS, perClass: 'x' }), {}, 'not checked for MNIST');
  assert.notEqual(structureKey({ ...cifar, perClass: '100' }), structureKey(cifar));
  assert.equal(structureKey({ ...DEFAULTS, perClass: '100' }), structureKey(DEFAULTS));
});

test('training subset and test shift: checked, sent beside the config, in links only when set, shared or not', () => {
  const S = { DEFAULTS, validate, toTrainerConfig, toHash, fromHash, structureKey };
  assert.equal('options' in S.toTrainerConfig(DEFAULTS), false, 'nothing set: no options');
  const small = { ...DEFAULTS, trainPerClass: '50', testShift: 'rotate:30' };
  assert.deepEqual(S.validate(small), {});
  assert.deepEqual(S.toTrainerConfig(small).options, { trainPerClass: 50, testShift: 'rotate:30' });
  for (const bad of ['0', '2.5', 'x', '-3', '7000']) {
    assert.match(S.validate({ ...DEFAULTS, trainPerClass: bad }).trainPerClass ?? '', /whole number from 1/, `trainPerClass=${bad}`);
  }
  // CIFAR-10 has its own per-class setting.
  assert.deepEqual(S.validate({ ...DEFAULTS, dataset: 'cifar10', trainPerClass: 'x' }), {});
  assert.equal(S.toTrainerConfig({ ...DEFAULTS, dataset: 'cifar10', trainPerClass: '50' }).options, undefined);
  for (const ok of ['rotate:-45', 'noise:0', 'blur:2.5', 'contrast:0.3', ' rotate : 30 ']) assert.equal(S.validate({ ...DEFAULTS, testShift: ok }).testShift, undefined, ok);
  for (const bad of ['rotate', 'rotate:', 'spin:30', 'noise:-1', 'blur:0', 'blur:3', 'contrast:x', 'rotate:NaN']) {
    assert.match(S.validate({ ...DEFAULTS, testShift: bad }).testShift ?? '', /rotate:DEGREES, noise:SIGMA, blur:SIGMA or contrast:C/, `testShift=${bad}`);
  }
  const hash = S.toHash(small);
  assert.match(hash, /&trainPerClass=50&testShift=rotate:30/);
  assert.deepEqual(S.fromHash(hash), small);
  assert.doesNotMatch(S.toHash(DEFAULTS), /trainPerClass|testShift/);
  assert.notEqual(S.structureKey(small), S.structureKey(DEFAULTS));
});

test('gradual domains: angles checked and sent as numbers; they take over the test shift and the training subset', async () => {
  const S = await import('../../www/settings.js');
  const g = { ...DEFAULTS, domains: '15, 30,45,60' };
  assert.deepEqual(S.validate(g), {});
  assert.deepEqual(S.toTrainerConfig(g).options, { domains: [15, 30, 45, 60] });
  // The test images are rotated to the last angle, the training split is cut in fixed parts.
  assert.equal(S.isActive(g, 'testShift'), false);
  assert.equal(S.isActive(g, 'trainPerClass'), false);
  assert.deepEqual(S.toTrainerConfig({ ...g, testShift: 'noise:0.4', trainPerClass: '5' }).options, { domains: [15, 30, 45, 60] });
  for (const bad of ['15,,30', 'a', '1,2,3,4,5,6,7,8,9', '15;30']) {
    assert.match(S.validate({ ...DEFAULTS, domains: bad }).domains ?? '', /rotation angles in degrees/, `domains=${bad}`);
  }
  assert.equal(S.isActive({ ...DEFAULTS, dataset: 'cifar10' }, 'domains'), false);
  // A compared run's list value keeps its commas.
  assert.deepEqual(S.parseOverrides('domains:60,60,60,sam:sam,rho:0.05'), { domains: '60,60,60', sam: 'sam', rho: '0.05' });
  assert.equal(S.parseOverrides('60,sam:sam'), null);
  const back = S.parseOverrides(S.overridesText({ sam: 'sam', domains: '15,30' }));
  assert.deepEqual(back, { sam: 'sam', domains: '15,30' });
});

test('the URL hash carries the model, dropout, augmentation and CIFAR-10 subset, and only what is in use', () => {
  const s = { ...DEFAULTS, dataset: 'cifar10', perClass: '200', model: 'resnet8', dropout: '0.1', augment: 'on' };
  const hash = toHash(s);
  assert.equal(hash, '#dataset=cifar10&perClass=200&model=resnet8&dropout=0.1&augment=on&optimizer=momentum&sam=sam&rho=0.05&lr=0.05&batchSize=128&epochs=2&seed=0&labelNoise=0');
  assert.deepEqual(fromHash(hash), s);
  // Unused settings are left out of links, and links that give them are not listened to.
  assert.doesNotMatch(toHash({ ...DEFAULTS, perClass: '7' }), /perClass/);
  assert.equal(fromHash('#perClass=7').perClass, '500');
  assert.equal(fromHash('#model=lenet&hidden=64').hidden, '256,256');
  assert.equal(fromHash('#model=lenet&hidden=64').model, 'lenet');
  // Unknown choices fall back; values are kept as typed.
  assert.deepEqual([fromHash('#model=vgg16').model, fromHash('#augment=yes').augment, fromHash('#dataset=imagenet').dataset], ['mlp', 'off', 'mnist']);
  assert.equal(fromHash('#dataset=cifar10&perClass=abc').perClass, 'abc');
  assert.equal(fromHash('#dropout=0.3').dropout, '0.3');
  // What the hash omits gets its default.
  const omitted = fromHash('#dataset=cifar10');
  assert.deepEqual([omitted.perClass, omitted.model, omitted.dropout, omitted.augment], ['500', 'mlp', '0', 'off']);
});

test('compared runs: overrides round-trip through the link, shared settings and bad values are refused, labels name what differs', async () => {
  const S = await import('../../www/settings.js');
  const base = S.fromHash('');
  const list = [{ sam: 'none' }, { sam: 'asam', rho: '0.5' }, { optimizer: 'adam' }];
  const hash = S.linkHash(base, { compared: S.comparedHash(list) });
  assert.match(hash, /&vs=sam:none&vs=sam:asam,rho:0\.5&vs=optimizer:adam$/);
  assert.deepEqual(S.comparedFromHash(hash).map((r) => r.overrides), list);
  assert.deepEqual(S.linkProblems(hash), [], 'vs is no problem for the link');
  // At most MAX_COMPARED runs from a link.
  assert.equal(S.comparedFromHash(`${hash}&vs=sam:gsam`).length, S.MAX_COMPARED);
  // A new mode brings its own ρ; a new optimizer its lr (unless given).
  assert.equal(S.comparedSettings(base, { sam: 'looksam' }).rho, S.DEFAULT_RHO.looksam);
  assert.equal(S.comparedSettings(base, { optimizer: 'adam' }).lr, S.DEFAULT_LR.adam);
  assert.equal(S.comparedSettings(base, { optimizer: 'adam', lr: '0.01' }).lr, '0.01');
  for (const key of S.SHARED_KEYS) assert.match(S.comparedProblem(base, { [key]: '1' }).message, /shared by all compared runs/);
  assert.equal(S.comparedProblem(base, { rho: '-1' }).key, 'rho');
  assert.equal(S.comparedProblem(base, { sam: 'msam', optimizer: 'adam' }).key, 'optimizer');
  assert.match(S.comparedProblem(base, { nope: '1' }).message, /no setting/);
  assert.match(S.comparedProblem(base, S.parseOverrides('sam')).message, /KEY:VALUE/);
  assert.equal(S.comparedProblem(base, { sam: 'none', lr: '0.1' }), null);
  const labels = S.runLabels([base, ...list.map((o) => S.comparedSettings(base, o))]);
  assert.deepEqual(labels, ['SGD+momentum SAM ρ=0.05 lr=0.05', 'SGD+momentum no SAM lr=0.05', 'SGD+momentum ASAM ρ=0.5 lr=0.05', 'Adam SAM ρ=0.05 lr=0.001']);
  assert.deepEqual(S.runLabels([base, S.comparedSettings(base, { sam: 'none' })]), ['SAM', 'no SAM']);
  assert.deepEqual(S.runLabels([base, base]), ['run 1', 'run 2']);
});

test('every experiment preset is a valid link: its settings, its compared runs, nothing ignored', async () => {
  const S = await import('../../www/settings.js');
  assert.ok(S.PRESETS.length >= 5);
  for (const preset of S.PRESETS) {
    const base = S.fromHash(preset.hash);
    assert.deepEqual(S.validate(base), {}, preset.id);
    assert.deepEqual(S.linkProblems(preset.hash), [], preset.id);
    const compared = S.comparedFromHash(preset.hash);
    // Every preset fills the A/B view, but for the one test that measures a single trained run.
    assert.ok(compared.length >= (preset.measureScale ? 0 : 1) && compared.length <= S.MAX_COMPARED, preset.id);
    for (const { overrides } of compared) assert.equal(S.comparedProblem(base, overrides), null, `${preset.id}: ${JSON.stringify(overrides)}`);
    // Labels tell the runs apart.
    const labels = S.runLabels([base, ...compared.map((c) => S.comparedSettings(base, c.overrides))]);
    assert.equal(new Set(labels).size, labels.length, `${preset.id}: ${labels}`);
  }
});
