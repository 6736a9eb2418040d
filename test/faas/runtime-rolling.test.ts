/**
 * Rolling update and scale-down under continuous real HTTP traffic: new instances become
 * ready before old ones drain, and no request fails. The test routes like the activator
 * does: only to instances in state 'ready', dropping them on 'instance-gone'.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch } from 'undici';
import { buildFunction } from '../../src/faas/build/index.js';
import { ProcessProvider } from '../../src/faas/runtime/index.js';
import type { FunctionRecord } from '../../src/faas/types.js';

async function bundle(root: string, bundlesDir: string, version: string): Promise<string> {
  const dir = join(root, version);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(join(dir, 'handler.js'), `export default async (req) => { await new Promise((r) => setTimeout(r, 5 + Math.random() * 20)); return '${version}:' + req.text(); };`);
  return (await buildFunction(dir, { cacheDir: bundlesDir })).bundleId;
}

function record(bundleId: string, version: number, replicas: number): FunctionRecord {
  const now = new Date().toISOString();
  return { name: 'roll', spec: { service: 'roll' }, bundleId, createdAt: now, updatedAt: now, replicas, version };
}

test('rolling update and scale-down under continuous traffic lose no request', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-roll-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bundlesDir = join(root, 'bundles');
  const [v1, v2] = [await bundle(root, bundlesDir, 'v1'), await bundle(root, bundlesDir, 'v2')];
  const p = new ProcessProvider({ bundlesDir, drainQuietMs: 150 });
  t.after(() => p.close());
  const agent = new Agent({ keepAliveTimeout: 10_000, connections: 16 });
  t.after(() => agent.close());

  await p.deploy(record(v1, 1, 2));
  assert.equal(p.instances('roll').filter((i) => i.state === 'ready').length, 2);

  let rr = 0;
  let stop = false;
  const failures: string[] = [];
  const seen = new Map<string, number>();
  let sent = 0;
  const worker = async (w: number) => {
    while (!stop) {
      const ready = p.instances('roll').filter((i) => i.state === 'ready');
      if (ready.length === 0) { failures.push('no ready instance'); await new Promise((r) => setTimeout(r, 5)); continue; }
      const inst = ready[rr++ % ready.length];
      const body = `w${w}-${sent++}`;
      try {
        const res = await fetch(`http://${inst.host}:${inst.port}/`, { method: 'POST', body, dispatcher: agent });
        const text = await res.text();
        if (res.status !== 200 || !text.endsWith(`:${body}`)) failures.push(`${res.status} ${text}`);
        else seen.set(text.split(':')[0], (seen.get(text.split(':')[0]) ?? 0) + 1);
      } catch (e) {
        failures.push(`${inst.id} v${inst.version}: ${(e as Error).message} ${String((e as Error).cause ?? '')}`);
      }
    }
  };
  const workers = Array.from({ length: 6 }, (_, i) => worker(i));
  await new Promise((r) => setTimeout(r, 300));

  await p.deploy(record(v2, 2, 2));
  // Old instances drain in the background; wait until only version 2 is left.
  const deadline = Date.now() + 20_000;
  while (p.instances('roll').some((i) => i.version === 1)) {
    assert.ok(Date.now() < deadline, 'old instances never stopped');
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 200));
  await p.scale('roll', 1);
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(workers);

  assert.deepEqual(failures, [], `failed requests: ${failures.slice(0, 5).join('; ')}`);
  assert.ok((seen.get('v1') ?? 0) > 10, `v1 served ${seen.get('v1')}`);
  assert.ok((seen.get('v2') ?? 0) > 10, `v2 served ${seen.get('v2')}`);
  const left = p.instances('roll');
  assert.equal(left.length, 1);
  assert.equal(left[0].version, 2);
  const sys = p.logs('roll', {}).filter((l) => l.stream === 'system').map((l) => l.text);
  assert.ok(sys.some((s) => s === 'rolling update: version 1 -> 2'));
  assert.equal(sys.filter((s) => s === 'draining (replaced by version 2)').length, 2);
  assert.ok(sys.some((s) => s === 'draining (scale down)'));
});

test('an update that supersedes one still starting wins without failing either deploy', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'trellis-roll-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const bundlesDir = join(root, 'bundles');
  const ids = [await bundle(root, bundlesDir, 'v1'), await bundle(root, bundlesDir, 'v2'), await bundle(root, bundlesDir, 'v3')];
  const p = new ProcessProvider({ bundlesDir, drainQuietMs: 50 });
  t.after(() => p.close());
  await p.deploy(record(ids[0], 1, 1));
  await Promise.all([p.deploy(record(ids[1], 2, 1)), p.deploy(record(ids[2], 3, 1))]);
  const deadline = Date.now() + 15_000;
  while (p.instances('roll').some((i) => i.version !== 3)) {
    assert.ok(Date.now() < deadline, JSON.stringify(p.instances('roll')));
    await new Promise((r) => setTimeout(r, 50));
  }
  const [only] = p.instances('roll');
  const res = await fetch(`http://${only.host}:${only.port}/`, { method: 'POST', body: 'x' });
  assert.equal(await res.text(), 'v3:x');
});
