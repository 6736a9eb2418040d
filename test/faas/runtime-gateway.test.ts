/**
 * The process provider behind the real gateway and activator: PUT /system/functions rolls
 * over under continuous invocations with zero failed requests; crash state shows in
 * GET /system/function/{name}; remove → 404.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { buildFunction, packDir } from '../../src/faas/build/index.js';
import { createGateway } from '../../src/faas/gateway/index.js';
import { ProcessProvider } from '../../src/faas/runtime/index.js';

test('through the gateway: rolling update under traffic loses nothing; crash loop visible; remove → 404', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-rtgw-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const gw = await createGateway({
    listen: '127.0.0.1:0', dataDir: join(root, 'data'), adminPassword: 'pw', log: () => {},
    provider: ({ bundlesDir, secret }) => new ProcessProvider({ bundlesDir, resolveSecret: secret, drainQuietMs: 150 }),
  });
  t.after(() => gw.close());
  const agent = new Agent({ connections: 16 });
  t.after(() => agent.close());
  const auth = { authorization: `Basic ${Buffer.from('admin:pw').toString('base64')}` };

  const upload = async (name: string, handler: string, file = 'handler.js'): Promise<string> => {
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    if (file === 'handler.js') writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    writeFileSync(join(dir, file), handler);
    const built = await buildFunction(dir, { cacheDir: join(root, 'cache') });
    const r = await fetch(`${gw.url()}/system/bundles`, { method: 'POST', headers: auth, body: await packDir(built.bundleDir), dispatcher: agent });
    assert.equal(r.status, 201, await r.clone().text());
    return ((await r.json()) as { image: string }).image;
  };
  const deploy = (method: 'POST' | 'PUT', body: object) =>
    fetch(`${gw.url()}/system/functions`, { method, headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify(body), dispatcher: agent });

  const v1 = await upload('v1', `export default async (req) => { await new Promise((r) => setTimeout(r, 10)); return 'v1:' + req.text(); };`);
  const v2 = await upload('v2', `export default async (req) => { await new Promise((r) => setTimeout(r, 10)); return 'v2:' + req.text(); };`);
  assert.equal((await deploy('POST', { service: 'roll', image: v1, labels: { 'com.openfaas.scale.min': '2' } })).status, 202);

  let stop = false;
  let n = 0;
  const failures: string[] = [];
  const versions = new Map<string, number>();
  const worker = async () => {
    while (!stop) {
      const body = `req-${n++}`;
      try {
        const r = await fetch(`${gw.url()}/function/roll`, { method: 'POST', body, dispatcher: agent });
        const text = await r.text();
        if (r.status !== 200 || !text.endsWith(`:${body}`)) failures.push(`${r.status} ${text}`);
        else versions.set(text.slice(0, 2), (versions.get(text.slice(0, 2)) ?? 0) + 1);
      } catch (e) { failures.push(String((e as Error).cause ?? e)); }
    }
  };
  const workers = Array.from({ length: 6 }, worker);
  await new Promise((r) => setTimeout(r, 400));
  const put = await deploy('PUT', { service: 'roll', image: v2, labels: { 'com.openfaas.scale.min': '2' } });
  assert.equal(put.status, 200, await put.text());
  const deadline = Date.now() + 20_000;
  while (gw.provider.instances('roll').some((i) => i.version === 1)) {
    assert.ok(Date.now() < deadline, 'old version never stopped');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(workers);
  assert.deepEqual(failures, [], `failed: ${failures.slice(0, 5).join('; ')}`);
  assert.ok((versions.get('v1') ?? 0) > 5 && (versions.get('v2') ?? 0) > 5, JSON.stringify([...versions]));

  // a function whose instances die at start: the deploy reports it, the status shows the loop
  const broken = await upload('broken', 'import sys\nsys.exit(4)\n', 'handler.py');
  const bad = await deploy('POST', { service: 'broken', image: broken });
  assert.equal(bad.status, 500);
  assert.match(await bad.text(), /failed to start: .*SystemExit: 4/);
  let health: { restarts: number; crashLoop: boolean; lastError?: string } | undefined;
  const until = Date.now() + 20_000;
  while (!health?.crashLoop) {
    assert.ok(Date.now() < until, `no crash loop reported: ${JSON.stringify(health)}`);
    await new Promise((r) => setTimeout(r, 200));
    const st = await fetch(`${gw.url()}/system/function/broken`, { headers: auth, dispatcher: agent });
    health = ((await st.json()) as { trellis: { health: typeof health } }).trellis.health;
  }
  assert.match(health.lastError ?? '', /SystemExit: 4/);

  const del = await fetch(`${gw.url()}/system/functions`, { method: 'DELETE', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ functionName: 'roll' }), dispatcher: agent });
  assert.equal(del.status, 200);
  assert.equal((await fetch(`${gw.url()}/function/roll`, { dispatcher: agent })).status, 404);
  assert.deepEqual(gw.provider.instances('roll'), []);
});
