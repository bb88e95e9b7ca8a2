// The page's settings logic (www/settings.js) in Node: validation messages, the URL hash and the
// Trainer config. No browser needed.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  DEFAULTS, fromHash, parseHidden, parseNumber, structureKey, toHash, toTrainerConfig, validate,
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
  assert.match(hash, /^#dataset=mnist&model=mlp&hidden=128,64&optimizer=adam&sam=asam&rho=0.5&lr=0.001/);
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
