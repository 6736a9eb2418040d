import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadModule } from '../../src/faas/runtime/watchdog/load-module.js';

function dir(t: import('node:test').TestContext, files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'trellis-load-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  for (const [name, body] of Object.entries(files)) writeFileSync(join(d, name), body);
  return d;
}

test('an ES module: its namespace, as import() gives it', async (t) => {
  const d = dir(t, { 'h.mjs': "export default (r) => 'esm ' + r; export const handle = 1;" });
  const m = await loadModule(join(d, 'h.mjs'));
  assert.equal((m.default as (r: string) => string)('x'), 'esm x');
  assert.equal(m.handle, 1);
});

test('a .js ES module under "type": "module", with a relative import', async (t) => {
  const d = dir(t, { 'package.json': '{"type":"module"}', 'dep.js': 'export const word = "dep";', 'h.js': "import { word } from './dep.js'; export default () => word;" });
  const m = await loadModule(join(d, 'h.js'));
  assert.equal((m.default as () => string)(), 'dep');
});

test('CommonJS: default is module.exports; handle/handler exports are offered too', async (t) => {
  const d = dir(t, { 'f.cjs': "module.exports = (r) => 'cjs ' + r;", 'g.cjs': "exports.handle = () => 'named';" });
  const f = await loadModule(join(d, 'f.cjs'));
  assert.equal((f.default as (r: string) => string)('y'), 'cjs y');
  const g = await loadModule(join(d, 'g.cjs'));
  assert.equal((g.handle as () => string)(), 'named');
  assert.equal(typeof g.default, 'object');
});

test('top-level await: falls back to import() and the module runs once', async (t) => {
  const d = dir(t, { 'tla.mjs': "globalThis.__tlaRuns = (globalThis.__tlaRuns ?? 0) + 1; const v = await Promise.resolve(7); export default () => v;" });
  const m = await loadModule(join(d, 'tla.mjs'));
  assert.equal((m.default as () => number)(), 7);
  assert.equal((globalThis as { __tlaRuns?: number }).__tlaRuns, 1);
});

test('a module whose top-level code throws: the error, and its code ran once', async (t) => {
  const d = dir(t, { 'bad.mjs': "globalThis.__badRuns = (globalThis.__badRuns ?? 0) + 1; throw new Error('boom at load');" });
  await assert.rejects(loadModule(join(d, 'bad.mjs')), /boom at load/);
  assert.equal((globalThis as { __badRuns?: number }).__badRuns, 1);
});

test('a syntax error is reported', async (t) => {
  const d = dir(t, { 'syntax.mjs': 'export default (' });
  // SyntaxError from node; a transform error when a require hook (tsx, in this test) compiles it.
  await assert.rejects(loadModule(join(d, 'syntax.mjs')), /Unexpected|Transform failed|SyntaxError/);
});
