/** The activator over the real ProcessProvider: cold starts, holding, scaling, draining, errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ActivationError } from '../../src/faas/activator/index.js';
import { BROKEN, invoke, NEVER_READY, platform, until } from './activator-fixture.js';

test('burst of 200 to a function at zero: all succeed, scales out to max-scale, back to zero', async (t) => {
  const p = await platform(
    { burst: { spec: { concurrency: 10, envVars: { DELAY_MS: '30' }, annotations: { 'autoscaling.knative.dev/max-scale': '4' } } } },
    { activator: { autoscaler: { stableWindowMs: 1000, scaleToZeroGracePeriodMs: 300, tickIntervalMs: 100 } } },
  );
  t.after(() => p.close());
  const bodies = await Promise.all(Array.from({ length: 200 }, () => invoke(p.act, 'burst')));
  assert.equal(bodies.length, 200);
  // 200 held / 10 per instance wants 20 instances; max-scale caps it at 4.
  assert.equal(p.peak.get('burst'), 4);
  assert.equal(new Set(bodies).size, 4, 'work spread over all 4 instances');
  const metrics = await p.registry.metrics();
  assert.match(metrics, /trellis_function_cold_starts_total\{function_name="burst",source="fresh"\} 4/);
  assert.match(metrics, /trellis_function_cold_start_seconds_count\{function_name="burst",source="fresh"\} 4/);
  // No traffic: the stable window (1 s) empties, the grace period (0.3 s) passes → zero.
  await until('scale to zero', () => p.provider.instances('burst').length === 0);
  assert.equal(p.act.activity('burst').ready, 0);
  assert.match(await p.registry.metrics(), /trellis_function_desired_instances\{function_name="burst"\} 0/);
  // And it comes back from zero.
  assert.match(await invoke(p.act, 'burst'), /^burst-/);
});

test('scale-down drains in-flight requests; a request racing scale-to-zero is served', async (t) => {
  let offset = 0;
  const p = await platform(
    { race: { spec: { annotations: { 'autoscaling.knative.dev/initial-scale': '2', 'autoscaling.knative.dev/window': '6s' } } } },
    { activator: { autoReconcile: false, clock: { now: () => Date.now() + offset }, autoscaler: { scaleToZeroGracePeriodMs: 0 } } },
  );
  t.after(() => p.close());
  await invoke(p.act, 'race');          // cold start of the first instance
  p.act.reconcile();                    // initial-scale 2 → one more
  await until('2 ready', () => p.act.activity('race').ready === 2);
  // One slow request on each instance (power of two choices over 2 picks the idle one).
  const [a, b] = [await p.act.acquire('race'), await p.act.acquire('race')];
  assert.notEqual(a.instanceId, b.instanceId);
  const slow = [a, b].map(async (l) => {
    const res = await fetch(`http://${l.host}:${l.port}/?ms=500`);
    const text = await res.text();
    l.release();
    return [res.status, text] as const;
  });
  await sleep(50);
  p.act.reconcile();                    // concurrency 2 / target 70 → 1; rate floor(2/2) = 1 → drain one
  assert.equal(p.act.activity('race').ready, 1);
  assert.equal(p.act.activity('race').draining, 1);
  assert.equal(p.provider.instances('race').length, 2, 'the draining instance keeps running its request');
  const stays = await invoke(p.act, 'race');  // a new request goes to the instance that stays
  for (const [status, text] of await Promise.all(slow)) {
    assert.equal(status, 200);
    assert.match(text, /^race-/);
  }
  await until('drained instance stopped', () => p.provider.instances('race').length === 1);
  assert.equal(p.provider.instances('race')[0].id, stays);
  // Skip far ahead: no traffic for a whole window → 0 → the last instance stops now (grace 0) ...
  offset += 120_000;
  p.act.reconcile();
  assert.equal(p.act.activity('race').ready, 0);
  // ... and a request arriving in that very moment is held, gets a new instance, and is served.
  const racer = await invoke(p.act, 'race');
  assert.match(racer, /^race-/);
  assert.notEqual(racer, stays);
});

test('queue full → 503 with Retry-After; a client abort drops a held request; close fails held', async (t) => {
  const p = await platform({ stuck: { code: NEVER_READY, spec: { timeout: '30s' } } }, { activator: { queueDepth: 3, autoReconcile: false } });
  t.after(() => p.close());
  const ac = new AbortController();
  const aborted = p.act.acquire('stuck', ac.signal);
  const held = [p.act.acquire('stuck'), p.act.acquire('stuck')];
  for (const h of held) h.catch(() => {});
  assert.equal(p.act.held('stuck'), 3);
  await assert.rejects(p.act.acquire('stuck'), (e: unknown) =>
    e instanceof ActivationError && e.status === 503 && e.retryAfter === 1
    && e.message === 'function "stuck": 3 requests are already held waiting for an instance (queue full)');
  ac.abort();
  await assert.rejects(aborted, (e: unknown) => e instanceof ActivationError && e.status === 499);
  assert.equal(p.act.held('stuck'), 2);
  const again = p.act.acquire('stuck');   // the freed slot takes a new request
  again.catch(() => {});
  assert.equal(p.act.held('stuck'), 3);
  await assert.rejects(p.act.acquire('nope'), (e: unknown) => e instanceof ActivationError && e.status === 404);
  await p.act.close();
  for (const h of [...held, again]) await assert.rejects(h, (e: unknown) => e instanceof ActivationError && e.status === 503 && /shutting down/.test(e.message));
  assert.equal(p.act.held('stuck'), 0);
});

test('cold starts: just enough instances for the held requests, at once', async (t) => {
  const p = await platform({
    ten: { code: NEVER_READY, spec: { concurrency: 10, timeout: '30s' } },
    unlimited: { code: NEVER_READY, spec: { timeout: '30s' } },
  }, { activator: { autoReconcile: false } });
  t.after(() => p.close());
  const ac = new AbortController();
  const held = [
    ...Array.from({ length: 25 }, () => p.act.acquire('ten', ac.signal)),
    ...Array.from({ length: 25 }, () => p.act.acquire('unlimited', ac.signal)),
  ];
  for (const h of held) h.catch(() => {});
  // Synchronously, before any reconcile tick: 25 held / 10 per instance → 3; unlimited → 1.
  assert.equal(p.act.activity('ten').starting, 3);
  assert.equal(p.act.activity('unlimited').starting, 1);
  assert.equal(p.provider.instances('ten').length, 3);
  assert.equal(p.provider.instances('unlimited').length, 1);
  ac.abort();
  for (const h of held) await assert.rejects(h, (e: unknown) => e instanceof ActivationError && e.status === 499);
  assert.equal(p.act.held('ten') + p.act.held('unlimited'), 0);
});

test('an instance that never becomes ready fails held requests after the function timeout', async (t) => {
  const p = await platform({
    hang: { code: NEVER_READY, spec: { timeout: '700ms' } },
    broken: { code: BROKEN, spec: { timeout: '2s' } },
  }, { activator: { autoReconcile: false }, pool: { node: 2, python3: 0 } }); // pooled: starts fail fast even on a busy machine
  t.after(() => p.close());
  const t0 = Date.now();
  const results = await Promise.allSettled([p.act.acquire('hang'), p.act.acquire('hang'), p.act.acquire('broken')]);
  assert.ok(Date.now() - t0 >= 650);
  for (const r of results.slice(0, 2)) {
    assert.equal(r.status, 'rejected');
    const e = (r as PromiseRejectedResult).reason as ActivationError;
    assert.equal(e.status, 503);
    assert.equal(e.message, 'function "hang": no instance could take the request within 0.7s (an instance is still starting)');
  }
  const broken = (results[2] as PromiseRejectedResult).reason as ActivationError;
  assert.equal(broken.status, 503);
  assert.match(broken.message, /^function "broken": no instance could take the request within 2s \(last start failed: .*broken at import/);
  assert.equal(p.act.held('hang'), 0);
});

test('per-instance concurrency: requests queue instead of overloading, first-available for CC=1', async (t) => {
  const p = await platform({ one: { spec: { concurrency: 1, annotations: { 'autoscaling.knative.dev/max-scale': '2' } } } }, { activator: { autoReconcile: false } });
  t.after(() => p.close());
  assert.equal(p.act.tryAcquire('one'), undefined, 'at zero: no synchronous lease');
  const leases = await Promise.all([p.act.acquire('one'), p.act.acquire('one')]);
  assert.equal(p.act.tryAcquire('one'), undefined, 'both instances at their limit');
  assert.notEqual(leases[0].instanceId, leases[1].instanceId, 'CC=1: one request per instance');
  let third = false;
  const p3 = p.act.acquire('one').then((l) => { third = true; return l; });
  await sleep(150);
  assert.equal(third, false, 'both instances full and max-scale reached: the third waits');
  assert.equal(p.act.held('one'), 1);
  leases[1].release();
  const l3 = await p3;
  assert.equal(l3.instanceId, leases[1].instanceId);
  assert.equal(l3.coldStart, false);
  leases[0].release();
  const sync = p.act.tryAcquire('one');
  assert.equal(sync?.instanceId, leases[0].instanceId, 'room again: a lease without a promise');
  sync!.release();
  l3.release();
  assert.equal(p.peak.get('one'), 2);
});

test('listed functions: min-scale instances start before any traffic; others stay at zero', async (t) => {
  const p = await platform({
    kept: { spec: { annotations: { 'autoscaling.knative.dev/min-scale': '1' } } },
    idle: {},
  }, { activator: { autoReconcile: false, listFunctions: () => ['kept', 'idle'] } });
  t.after(() => p.close());
  p.act.reconcile();
  await until('min-scale instance', () => p.provider.instances('kept').some((i) => i.state === 'ready'));
  p.act.reconcile();
  assert.equal(p.act.activity('kept').ready, 1);
  assert.equal(p.provider.instances('idle').length, 0, 'no initial-scale start for a function found already deployed');
  assert.match(await invoke(p.act, 'kept'), /^kept-/);
});
