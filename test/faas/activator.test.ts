import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { ActivationError, createActivator, type ActivatorHandle, type ActivatorOptions } from '../../src/faas/activator/index.js';
import type { FunctionDeployment, FunctionRecord } from '../../src/faas/types.js';
import { FixtureProvider } from './activator-fixture.js';

function setup(fns: Record<string, Partial<FunctionDeployment>>, opts: Partial<ActivatorOptions> = {}) {
  const records = new Map<string, FunctionRecord>();
  for (const [name, spec] of Object.entries(fns)) {
    records.set(name, { name, spec: { service: name, ...spec }, createdAt: '', updatedAt: '', replicas: 0, version: 1 });
  }
  const provider = new FixtureProvider((n) => records.get(n));
  const registry = new Registry();
  const act = createActivator({ provider, functions: (n) => records.get(n), registry, ...opts });
  return { provider, act, registry, close: async () => { await act.close(); await provider.close(); } };
}

async function invoke(act: ActivatorHandle, fn: string, path = '/'): Promise<string> {
  const lease = await act.acquire(fn);
  let ok = false;
  try {
    const res = await fetch(`http://${lease.host}:${lease.port}${path}`);
    const body = await res.text();
    assert.equal(res.status, 200);
    ok = true;
    return body;
  } finally {
    lease.release({ ok, durationMs: 0 });
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('burst of 200 to a function at zero: all succeed, scales out to max-scale, back to zero', async (t) => {
  const { provider, act, registry, close } = setup(
    { burst: { concurrency: 10, envVars: { DELAY_MS: '30' }, annotations: { 'autoscaling.knative.dev/max-scale': '4' } } },
    { autoscaler: { stableWindowMs: 1000, scaleToZeroGracePeriodMs: 300, tickIntervalMs: 100 } },
  );
  t.after(close);
  const bodies = await Promise.all(Array.from({ length: 200 }, () => invoke(act, 'burst')));
  assert.equal(bodies.length, 200);
  // 200 held / 10 per instance wants 20 instances; max-scale caps it at 4.
  assert.equal(provider.peak.get('burst'), 4);
  assert.equal(new Set(bodies).size, 4, 'work spread over all 4 instances');
  const metrics = await registry.metrics();
  assert.match(metrics, /trellis_function_cold_starts_total\{function_name="burst",source="fresh"\} 4/);
  assert.match(metrics, /trellis_function_cold_start_seconds_count\{function_name="burst",source="fresh"\} 4/);
  // No traffic: stable window (1 s) empties, then the grace period (0.3 s) passes → zero.
  await until('scale to zero', () => provider.instances('burst').length === 0);
  assert.equal(act.activity('burst').ready, 0);
  assert.match(await registry.metrics(), /trellis_function_desired_instances\{function_name="burst"\} 0/);
  // And it comes back from zero.
  assert.match(await invoke(act, 'burst'), /^burst-/);
});

test('scale-down drains in-flight requests; a request racing scale-to-zero is served', async (t) => {
  let offset = 0;
  const { provider, act, close } = setup(
    { race: { annotations: { 'autoscaling.knative.dev/initial-scale': '2', 'autoscaling.knative.dev/window': '6s' } } },
    { autoReconcile: false, clock: { now: () => Date.now() + offset }, autoscaler: { scaleToZeroGracePeriodMs: 0 } },
  );
  t.after(close);
  await invoke(act, 'race');          // cold start of the first instance
  act.reconcile();                    // initial-scale 2 → one more
  await until('2 ready', () => act.activity('race').ready === 2);
  // One slow request on each instance (P2C with 2 instances picks the idle one).
  const [a, b] = [await act.acquire('race'), await act.acquire('race')];
  assert.notEqual(a.instanceId, b.instanceId);
  const slow = [a, b].map(async (l) => {
    const res = await fetch(`http://${l.host}:${l.port}/?ms=400`);
    const text = await res.text();
    l.release();
    return [res.status, text] as const;
  });
  await sleep(50);
  act.reconcile();                    // concurrency 2 / target 70 → 1; rate floor(2/2) = 1 → drain one
  const act1 = act.activity('race');
  assert.equal(act1.ready, 1);
  assert.equal(act1.draining, 1);
  assert.equal(provider.instances('race').length, 2, 'the draining instance keeps running its request');
  const mid = await invoke(act, 'race');  // a new request goes to the instance that stays
  for (const [status] of await Promise.all(slow)) assert.equal(status, 200);
  await until('drained instance stopped', () => provider.instances('race').length === 1);
  assert.equal(provider.instances('race')[0].id, mid);
  // Skip far ahead: no traffic for a whole window → 0 → last instance stops now (grace 0) ...
  offset += 120_000;
  act.reconcile();
  assert.equal(act.activity('race').ready, 0);
  // ... and a request arriving in that very moment is held, gets a new instance, and is served.
  const racer = await invoke(act, 'race');
  assert.match(racer, /^race-/);
  assert.notEqual(racer, mid);
});

test('queue full → 503 with Retry-After; a client abort drops a held request; close fails held', async (t) => {
  const { act, close } = setup({ stuck: { envVars: { NEVER_READY: '1' }, timeout: '30s' } }, { queueDepth: 3, autoReconcile: false });
  t.after(close);
  const ac = new AbortController();
  const aborted = act.acquire('stuck', ac.signal);
  const held = [act.acquire('stuck'), act.acquire('stuck')];
  for (const p of held) p.catch(() => {});
  assert.equal(act.held('stuck'), 3);
  await assert.rejects(act.acquire('stuck'), (e: unknown) =>
    e instanceof ActivationError && e.status === 503 && e.retryAfter === 1
    && e.message === 'function "stuck": 3 requests are already held waiting for an instance (queue full)');
  ac.abort();
  await assert.rejects(aborted, (e: unknown) => e instanceof ActivationError && e.status === 499);
  assert.equal(act.held('stuck'), 2);
  const again = act.acquire('stuck');   // the freed slot takes a new request
  again.catch(() => {});
  assert.equal(act.held('stuck'), 3);
  await assert.rejects(act.acquire('nope'), (e: unknown) => e instanceof ActivationError && e.status === 404);
  await act.close();
  for (const p of [...held, again]) await assert.rejects(p, (e: unknown) => e instanceof ActivationError && e.status === 503 && /shutting down/.test(e.message));
  assert.equal(act.held('stuck'), 0);
});

test('an instance that never becomes ready fails held requests after the function timeout', async (t) => {
  const { act, close } = setup({
    hang: { envVars: { NEVER_READY: '1' }, timeout: '700ms' },
    crash: { envVars: { EXIT_AT_START: '1' }, timeout: '700ms' },
  }, { autoReconcile: false });
  t.after(close);
  const t0 = Date.now();
  const results = await Promise.allSettled([act.acquire('hang'), act.acquire('hang'), act.acquire('crash')]);
  assert.ok(Date.now() - t0 >= 650);
  for (const r of results.slice(0, 2)) {
    assert.equal(r.status, 'rejected');
    const e = (r as PromiseRejectedResult).reason as ActivationError;
    assert.equal(e.status, 503);
    assert.equal(e.message, 'function "hang": no instance could take the request within 0.7s (an instance is still starting)');
  }
  const crash = (results[2] as PromiseRejectedResult).reason as ActivationError;
  assert.match(crash.message, /^function "crash": no instance could take the request within 0\.7s \(last start failed: instance crash-\w+ exited with code 3 before it was ready\)$/);
  assert.equal(act.held('hang'), 0);
});

test('per-instance concurrency: requests queue instead of overloading, first-available for CC=1', async (t) => {
  const { provider, act, close } = setup({ one: { concurrency: 1, envVars: { DELAY_MS: '50' }, annotations: { 'autoscaling.knative.dev/max-scale': '2' } } }, { autoReconcile: false });
  t.after(close);
  const leases = await Promise.all([act.acquire('one'), act.acquire('one')]);
  assert.notEqual(leases[0].instanceId, leases[1].instanceId, 'CC=1: one request per instance');
  let third = false;
  const p3 = act.acquire('one').then((l) => { third = true; return l; });
  await sleep(100);
  assert.equal(third, false, 'both instances full and max-scale reached: the third waits');
  assert.equal(act.held('one'), 1);
  leases[1].release();
  const l3 = await p3;
  assert.equal(l3.instanceId, leases[1].instanceId);
  assert.equal(l3.coldStart, false);
  leases[0].release();
  l3.release();
  assert.equal(provider.peak.get('one'), 2);
});
