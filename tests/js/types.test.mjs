// The JS API's TypeScript declarations (www/client.d.ts): a lesson written against them compiles
// with tsc --strict, and its @ts-expect-error lines (wrong keys, wrong types) are errors.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('a lesson type-checks against client.d.ts', () => {
  const tsc = path.join(ROOT, 'node_modules/.bin/tsc');
  const args = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'es2022', '--moduleResolution', 'bundler', '--lib', 'es2022,dom', 'tests/types/lesson.ts'];
  let output = '';
  try {
    output = execFileSync(tsc, args, { cwd: ROOT, encoding: 'utf8' });
  } catch (err) {
    assert.fail(`tsc found errors:\n${err.stdout}${err.stderr}`);
  }
  assert.equal(output.trim(), '');
});
