/** The warm pool with real watchdog processes: take + specialise, refill, fresh starts when unsuitable. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WarmPool } from '../../src/faas/runtime/pool/index.js';
import type { RunPlan } from '../../src/faas/runtime/index.js';
import { invoke, platform, until } from './activator-fixture.js';

const ENV_PROBE = `
export default async () => ({ id: process.env.TRELLIS_INSTANCE_ID, greeting: process.env.GREETING,
  pid: process.pid, cwd: process.cwd(), nodeOptions: process.env.NODE_OPTIONS ?? null });
`;
const PY_PROBE = `
import os
def handle(req):
    return {"pid": os.getpid(), "greeting": os.environ.get("GREETING"), "cwd": os.getcwd()}
`;

test('cold starts take a pooled process, specialise it, and the pool refills', async (t) => {
  const p = await platform({
    n: { code: ENV_PROBE, spec: { envVars: { GREETING: 'hi' } } },
    py: { python: PY_PROBE, spec: { envVars: { GREETING: 'hej' } } },
    native: { code: ENV_PROBE + '// native\n' },
    limited: { code: ENV_PROBE + '// limited\n', spec: { limits: { memory: '128Mi' } } },
    classic: { spec: { envProcess: 'cat' } },
  }, { pool: { node: 2, python3: 1 } });
  t.after(() => p.close());
  const pool = p.pool!;
  assert.equal(pool.size('node'), 2);
  assert.equal(pool.size('python3'), 1);
  // A native addon in the bundle forces a fresh process.
  const nativeDir = join(p.bundlesDir, p.records.get('native')!.bundleId!, 'node_modules', 'addon', 'build', 'Release');
  mkdirSync(nativeDir, { recursive: true });
  writeFileSync(join(nativeDir, 'addon.node'), 'not really a shared object');

  const j = JSON.parse(await invoke(p.act, 'n')) as Record<string, unknown>;
  const [inst] = p.provider.instances('n');
  assert.equal(inst.fromPool, true);
  assert.equal(j.id, inst.id);
  assert.equal(j.greeting, 'hi', "the function's environment is applied on specialisation");
  assert.equal(j.nodeOptions, null, 'the warm-up hook does not leak into the function');
  assert.match(j.cwd as string, new RegExp(`${inst.id}/work$`));
  assert.equal(j.pid, inst.pid);
  await until('node pool refilled', () => pool.size('node') === 2);

  const pj = JSON.parse(await invoke(p.act, 'py')) as Record<string, unknown>;
  const [pinst] = p.provider.instances('py');
  assert.equal(pinst.fromPool, true);
  assert.equal(pj.greeting, 'hej');
  assert.equal(pj.pid, pinst.pid);
  await until('python pool refilled', () => pool.size('python3') === 1);

  for (const fresh of ['native', 'limited', 'classic']) {
    const before = pool.size('node');
    await invoke(p.act, fresh);
    assert.equal(p.provider.instances(fresh)[0].fromPool, undefined, `${fresh} starts fresh`);
    assert.equal(pool.size('node'), before, `${fresh} leaves the pool alone`);
  }
  const m = await p.registry.metrics();
  assert.match(m, /trellis_function_cold_starts_total\{function_name="n",source="pool"\} 1/);
  assert.match(m, /trellis_function_cold_starts_total\{function_name="native",source="fresh"\} 1/);
});

test('an idle pooled process that dies is replaced; size 0 disables; bad sizes are rejected', async (t) => {
  const p = await platform({}, { pool: { node: 1, python3: 0 } });
  t.after(() => p.close());
  const pool = p.pool!;
  assert.equal(pool.size('node'), 1);
  assert.equal(pool.size('python3'), 0);
  const plan: RunPlan = { kind: 'python3', mode: 'http', runtime: 'python3', timeoutMs: 0, concurrency: 0, envVars: {}, secrets: [] };
  assert.equal(pool.unsuitable({ ...plan }, '127.0.0.1'), 'the python3 pool is disabled');
  assert.equal(pool.take({ ...plan }, '127.0.0.1'), undefined);
  const taken = pool.take({ ...plan, kind: 'node', runtime: 'node' }, '127.0.0.1')!;
  assert.ok(taken.running);
  await until('refill after take', () => pool.size('node') === 1);
  await taken.stop(500);
  // Kill the idle one behind the pool's back: it notices and starts another.
  const [victim] = pool.idlePids('node');
  process.kill(victim, 'SIGKILL');
  await until('a new idle process', () => pool.size('node') === 1 && pool.idlePids('node')[0] !== victim);
  assert.throws(() => new WarmPool({ runDir: p.root, size: { node: -1 } }), /warm pool size for node must be a whole number in \[0, 64\], got -1/);
});
