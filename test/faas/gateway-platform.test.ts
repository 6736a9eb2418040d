/**
 * The whole platform as `trellis gateway` runs it: process provider (real watchdogs), the
 * activator, code upload (source build and bundle upload), classic `cat`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunction, packDir } from '../../src/faas/build/index.js';
import { startFunctionPlatform } from '../../src/faas/gateway/platform.js';
import { AUTH, PASSWORD, api } from './gateway-helpers.js';

test('platform: build upload, bundle upload, node and classic functions through the gateway', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-gw-platform-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const gw = await startFunctionPlatform({ listen: '127.0.0.1:0', dataDir: join(root, 'data'), adminPassword: PASSWORD, warmPool: false, log: () => {} });
  t.after(() => gw.close());
  const url = gw.url();

  const src = join(root, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'handler.js'), 'export default async (req) => ({ hello: req.query.name ?? "world", method: req.method });\n');
  const built = await fetch(`${url}/system/builds?name=hello`, { method: 'POST', headers: { authorization: AUTH }, body: await packDir(src) });
  assert.equal(built.status, 200);
  const lines = (await built.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.some((l) => typeof l.log === 'string' && /\[1\/\d\] detect runtime/.test(l.log)), 'build log streamed');
  const result = lines[lines.length - 1];
  assert.match(result.bundleId, /^[a-f0-9]{64}$/, JSON.stringify(result));
  assert.equal(result.image, `bundle:${result.bundleId}`);

  const bad = await fetch(`${url}/system/builds`, { method: 'POST', headers: { authorization: AUTH }, body: 'not a tarball' });
  assert.equal(bad.status, 400);

  assert.equal((await api(url, 'POST', '/system/functions', { service: 'hello', image: result.image })).status, 202);
  const r = await fetch(`${url}/function/hello?name=trellis`);
  assert.equal(r.status, 200);
  assert.match(await r.text(), /"hello":\s*"trellis"/);
  assert.ok(r.headers.get('x-call-id'));

  // a bundle built elsewhere (the CLI's `fn build`) uploaded as it is
  const local = await buildFunction(src, { cacheDir: join(root, 'cache') });
  const up = await fetch(`${url}/system/bundles`, { method: 'POST', headers: { authorization: AUTH }, body: await packDir(local.bundleDir) });
  assert.equal(up.status, 201);
  const upBody = await up.json() as { bundleId: string; runtime: string };
  assert.equal(upBody.bundleId, local.bundleId);
  assert.equal(upBody.runtime, 'node');
  const notBundle = await fetch(`${url}/system/bundles`, { method: 'POST', headers: { authorization: AUTH }, body: await packDir(src) });
  assert.equal(notBundle.status, 400);
  assert.match(await notBundle.text(), /not a Trellis bundle/);

  // classic watchdog: body to stdin, stdout back
  assert.equal((await api(url, 'POST', '/system/functions', { service: 'cat', envProcess: 'cat' })).status, 202);
  const cat = await fetch(`${url}/function/cat`, { method: 'POST', body: 'hello classic' });
  assert.equal(cat.status, 200);
  assert.equal(await cat.text(), 'hello classic');

  const list = JSON.parse((await api(url, 'GET', '/system/functions')).text) as { name: string; image: string }[];
  assert.deepEqual(list.map((f) => f.name).sort(), ['cat', 'hello']);
  assert.equal(list.find((f) => f.name === 'hello')!.image, result.image);
});
