// The page's settings logic (www/settings.js) in Node: validation messages, the URL hash and the
// Trainer config. No browser needed.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  DEFAULTS, DEFAULT_RHO, SAM_INFO, SAM_MODES, SAM_PARAM_KEYS, fromHash, parseHidden, parseNumber,
  passesPerStep, samParams, structureKey, toHash, toTrainerConfig, validate, withSamMode,
} from '../../www/settings.js';

test('the defaults are valid and build momentum SGD with SAM', () => {
  assert.deepEqual(validate(DEFAULTS), {});
  assert.deepEqual(toTrainerConfig(DEFAULTS), {
    dataset: 'mnist',
    config: {
      model: 'mlp', hidden: [256, 256], optimizer: 'sgd', momentum: 0.9, lr: 0.05, sam: 'sam', rho: 0.05,
      batchSize: 128, epochs: 2, seed: 0, labelNoise: 0,
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
  assert.match(hash, /^#dataset=mnist&model=mlp&hidden=128,64&optimizer=adam&sam=asam&rho=0.5&eta=0.01&lr=0.001/);
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
};

test('all ten SAM modes: their hyperparameters, reference defaults and passes per step', () => {
  assert.deepEqual(SAM_MODES, Object.keys(MODE_DEFAULTS));
  const passes = { none: 1, sam: 2, asam: 2, 'asam-davda54': 2, gsam: 2, fsam: 2, looksam: 1.2, s2sam: 1, crsam: 3, 'sam-linf': 2 };
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
  const arxiv = { sam: '2010.01412', asam: '2102.11600', gsam: '2203.08065', fsam: '2403.12350', looksam: '2203.02714', crsam: '2312.13555', 'sam-linf': '2010.01412' };
  for (const [mode, id] of Object.entries(arxiv)) assert.equal(SAM_INFO[mode].paper.url, `https://arxiv.org/abs/${id}`, mode);
  assert.match(SAM_INFO['asam-davda54'].paper.url, /davda54\/sam/);
});

test('the page offers the ten modes by their readable names (index.html matches SAM_INFO)', () => {
  const html = readFileSync(new URL('../../www/index.html', import.meta.url), 'utf8');
  const select = html.slice(html.indexOf('<select id="sam"'), html.indexOf('</select>', html.indexOf('<select id="sam"')));
  const options = [...select.matchAll(/<option value="([^"]+)">([^<]+)<\/option>/g)].map((m) => [m[1], m[2]]);
  assert.deepEqual(options, SAM_MODES.map((mode) => [mode, SAM_INFO[mode].name]));
  for (const key of SAM_PARAM_KEYS) {
    assert.match(html, new RegExp(`<input id="${key}"`), `an input for ${key}`);
    assert.match(html, new RegExp(`id="${key}-error"`), `a message slot for ${key}`);
  }
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
  assert.deepEqual(validate({ ...DEFAULTS, k: '0', lambda: '2', eta: 'x', rhoMin: '-1' }), {});
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
  for (const m of SAM_MODES) assert.equal(config(m).sam, m);
});

test("the URL hash carries the chosen mode's hyperparameters and fills the ones it omits", () => {
  // Every mode with non-default values round-trips.
  const typed = { rho: '0.07', eta: '0.02', alpha: '0.4', sigma: '0.5', lambda: '0.6', k: '7', gamma: '0.3', beta: '0.02', rhoMin: '0.01' };
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
