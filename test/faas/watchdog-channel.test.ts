/**
 * The node watchdog's fd 3 channel with a real process: a pooled-style idle process
 * rehearses a cold start with a throwaway handler (and stays generic), then loads the
 * function over the channel and serves it; load errors and a second load are reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WatchdogProcess } from '../../src/faas/runtime/watchdog-process.js';
import { WARMUP_MODULE_SOURCE } from '../../src/faas/runtime/pool/warmup.js';
import type { LoadSpec } from '../../src/faas/runtime/watchdog/protocol.js';

async function get(wp: WatchdogProcess, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://${wp.host}:${wp.port}${path}`);
  return { status: r.status, body: await r.text() };
}

test('an idle node watchdog rehearses with a throwaway handler, stays generic, then loads over its channel', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-chan-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const warmLog = join(root, 'warm.log');
  // The real warm-up handler, plus a line per call so the rehearsal's requests are visible.
  const warmFile = join(root, 'warm.mjs');
  writeFileSync(warmFile, WARMUP_MODULE_SOURCE.replace('export default async (req) => {',
    `import { appendFileSync } from 'node:fs';\nexport default async (req) => {\n  appendFileSync(${JSON.stringify(warmLog)}, req.method + ' ' + req.path + '\\n');`));
  const fnDir = join(root, 'fn');
  mkdirSync(fnDir);
  writeFileSync(join(fnDir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(fnDir, 'handler.js'), "export default async (req) => 'fn ' + req.path + ' ' + process.env.GREETING + ' ' + process.cwd();\n");
  writeFileSync(join(fnDir, 'broken.js'), "throw new Error('broken at import');\n");

  const spawn = () => WatchdogProcess.spawn({ kind: 'node', env: { PATH: process.env.PATH ?? '' }, cwd: root, runDir: root });
  const wp = await spawn();
  t.after(() => wp.stop(1000));

  await wp.warm(warmFile);
  const calls = readFileSync(warmLog, 'utf8').trim().split('\n');
  for (const path of ['/text', '/json', '/bytes', '/shaped']) assert.ok(calls.some((c) => c.endsWith(' ' + path)), `rehearsed ${path}: ${calls.join(', ')}`);
  // Still generic: no function loaded, nothing counted as served.
  assert.equal((await get(wp, '/text')).status, 503);
  const stats = await wp.stats();
  assert.equal(stats.loaded, false);
  assert.equal(stats.served, 0);
  assert.equal(stats.lastRequestAt, 0);

  const spec: LoadSpec = { name: 'fn', instanceId: 'fn-1', mode: 'http', runtime: 'node', handlerPath: join(fnDir, 'handler.js'), env: { GREETING: 'hi' }, cwd: fnDir, timeoutMs: 5000, concurrency: 0 };
  assert.ok(await wp.load(spec) >= 0);
  // The load reply means "loaded and serving": the very next request is the function's.
  assert.deepEqual(await get(wp, '/x'), { status: 200, body: `fn /x hi ${fnDir}` });
  await assert.rejects(wp.load(spec), /load failed: already loaded/);
  await assert.rejects(wp.warm(warmFile), /warm-up failed: already loaded/, 'no rehearsal once loaded');
  assert.equal((await wp.stats()).served, 1);

  // A handler that fails to import: the reason comes back over the channel and on stderr.
  const bad = await spawn();
  t.after(() => bad.stop(1000));
  const lines: string[] = [];
  bad.attachOutput((_s, text) => lines.push(text));
  await assert.rejects(bad.load({ ...spec, handlerPath: join(fnDir, 'broken.js') }), /load failed: broken at import/);
  assert.ok(lines.some((l) => l.includes('load failed')), lines.join('\n'));
  await bad.stop(1000);
  await assert.rejects(bad.load(spec), /load: the watchdog is not running/);
});
