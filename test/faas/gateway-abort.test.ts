/**
 * A request held by the activator (function at zero, instance still starting) whose client
 * goes away is dropped from the hold queue: the held count falls at once and the instance,
 * once ready, never sees it. Real gateway, activator, process provider and watchdogs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunction, packDir } from '../../src/faas/build/index.js';
import { createGateway } from '../../src/faas/gateway/index.js';
import { ProcessProvider } from '../../src/faas/runtime/index.js';

/** Loading waits until GO_FILE exists (a start as slow as the test wants); every request is logged to HITS_FILE. */
const GATED = `
import { appendFileSync, existsSync } from 'node:fs';
while (!existsSync(process.env.GO_FILE)) await new Promise((r) => setTimeout(r, 20));
export default async (req) => { appendFileSync(process.env.HITS_FILE, req.path + '\\n'); return 'served ' + req.path; };
`;

async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a held request whose client disconnects leaves the queue and never reaches the instance', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-abort-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const gw = await createGateway({
    listen: '127.0.0.1:0', dataDir: join(root, 'data'), adminPassword: 'pw', log: () => {},
    provider: ({ bundlesDir, secret }) => new ProcessProvider({ bundlesDir, resolveSecret: secret }),
  });
  t.after(() => gw.close());
  const auth = { authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` };
  const src = join(root, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'package.json'), '{"type":"module"}');
  writeFileSync(join(src, 'handler.js'), GATED);
  const built = await buildFunction(src, { cacheDir: join(root, 'cache') });
  const up = await fetch(`${gw.url()}/system/bundles`, { method: 'POST', headers: auth, body: await packDir(built.bundleDir) });
  assert.equal(up.status, 201);
  const { image } = (await up.json()) as { image: string };

  const goFile = join(root, 'go');
  const hitsFile = join(root, 'hits.log');
  writeFileSync(goFile, '');
  const dep = await fetch(`${gw.url()}/system/functions`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify({ service: 'gated', image, envVars: { GO_FILE: goFile, HITS_FILE: hitsFile } }),
  });
  assert.equal(dep.status, 202, await dep.text());
  // To zero, and make the next start hang in its load until we say go.
  const scaled = await fetch(`${gw.url()}/system/scale-function/gated`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ serviceName: 'gated', replicas: 0 }),
  });
  assert.equal(scaled.status, 202, await scaled.text());
  await until('scaled to zero', () => gw.provider.instances('gated').length === 0);
  unlinkSync(goFile);

  // A raw client sends a request, is held (the activator starts an instance), then hangs up.
  const { port } = gw.address();
  const sock = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write('GET /function/gated/abandoned HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('the request is held', () => gw.activator.held('gated') === 1);
  assert.ok(gw.provider.instances('gated').some((i) => i.state === 'starting'), 'a cold start is under way');
  sock.destroy();
  await until('the abandoned request leaves the queue', () => gw.activator.held('gated') === 0);

  // The same on a connection already handed to the management server (the node:http path).
  const mixed = net.connect(port, '127.0.0.1');
  await new Promise<void>((r) => mixed.once('connect', () => r()));
  const health = new Promise<string>((r) => mixed.once('data', (b: Buffer) => r(b.toString('latin1'))));
  mixed.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.match(await health, /^HTTP\/1\.1 200 /);
  mixed.write('GET /function/gated/abandoned-too HTTP/1.1\r\nHost: x\r\n\r\n');
  await until('the second abandoned request is held', () => gw.activator.held('gated') === 1);
  mixed.destroy();
  await until('it leaves the queue too', () => gw.activator.held('gated') === 0);

  // A second client waits for the same cold start and is served once the instance is ready.
  const kept = fetch(`${gw.url()}/function/gated/kept`);
  await until('the second request is held', () => gw.activator.held('gated') === 1);
  writeFileSync(goFile, '');
  const res = await kept;
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'served /kept');
  assert.equal(gw.activator.held('gated'), 0);
  // Give a (wrongly) forwarded abandoned request every chance to arrive before looking.
  const again = await fetch(`${gw.url()}/function/gated/last`);
  assert.equal(await again.text(), 'served /last');
  assert.ok(existsSync(hitsFile));
  assert.deepEqual(readFileSync(hitsFile, 'utf8').trim().split('\n'), ['/kept', '/last']);
  const metrics = await (await fetch(`${gw.url()}/metrics`)).text();
  assert.match(metrics, /^gateway_function_invocation_total\{function_name="gated",code="499"\} 2$/m);
});
