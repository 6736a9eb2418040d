/**
 * Stats that name the caller: Prometheus /metrics, /stats JSON, /healthz, /ready from the
 * admin server, and INFO through the proxy, with real backends and named ioredis clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedisMany } from '../helpers/servers.js';
import { startRedisProxy } from '../../src/redis/index.js';
import { startAdminServer } from '../../src/redis/admin/admin-server.js';

function metric(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
  }
  return undefined;
}

test('per-command, per-caller metrics with bounded callers; /stats, /healthz, /ready; INFO', async (t) => {
  const backends = await startRedisMany(2, t);
  const proxy = await startRedisProxy({
    name: 'cache', listen: '127.0.0.1:0', backends: backends.map((b) => b.address),
    governance: { stats: { top_callers: 2, max_callers: 10 } },
  });
  t.after(() => proxy.close(0));
  const admin = await startAdminServer({ host: '127.0.0.1', port: 0 }, () => [proxy]);
  t.after(() => admin.close());
  const port = proxy.address().port;
  const client = async (name: string) => {
    const c = new Redis({ port, host: '127.0.0.1', connectionName: name, lazyConnect: true });
    t.after(() => c.disconnect());
    await c.connect();
    return c;
  };
  const a = await client('checkout');
  const b = await client('search');
  const c = await client('batch');
  for (let i = 0; i < 30; i++) await a.set(`k${i}`, 'v');
  for (let i = 0; i < 20; i++) await b.get(`k${i}`);
  await b.mget('k1', 'k2', 'k3');
  await assert.rejects(b.incr('k1'), /not an integer/);
  for (let i = 0; i < 5; i++) await c.get('k1');

  const base = `http://127.0.0.1:${admin.port}`;
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.equal(metric(text, 'trellis_redis_command_total', { pool: 'cache', command: 'set', caller: 'checkout' }), 30);
  assert.equal(metric(text, 'trellis_redis_command_total', { pool: 'cache', command: 'get', caller: 'search' }), 20);
  assert.equal(metric(text, 'trellis_redis_command_errors_total', { pool: 'cache', command: 'incr', caller: 'search' }), 1);
  assert.equal(metric(text, 'trellis_redis_command_success_total', { pool: 'cache', command: 'mget', caller: 'search' }), 1);
  // Only the two busiest callers keep their names; 'batch' (5 GETs) is folded into "other".
  assert.equal(metric(text, 'trellis_redis_command_total', { command: 'get', caller: 'batch' }), undefined);
  assert.ok((metric(text, 'trellis_redis_command_total', { command: 'get', caller: 'other' }) ?? 0) >= 5);
  assert.equal(metric(text, 'trellis_redis_command_latency_seconds_count', { command: 'set', caller: 'checkout' }), 30);
  assert.equal(metric(text, 'trellis_redis_command_latency_seconds_bucket', { command: 'set', caller: 'checkout', le: '+Inf' }), 30);
  assert.ok((metric(text, 'trellis_redis_backend_requests_total', { pool: 'cache', backend: backends[0].address }) ?? 0) > 0);
  assert.equal(metric(text, 'trellis_redis_backend_healthy', { backend: backends[1].address }), 1);
  assert.equal(metric(text, 'trellis_redis_downstream_connections', { pool: 'cache' }), 3);
  assert.ok((metric(text, 'trellis_redis_downstream_bytes_received_total', { pool: 'cache' }) ?? 0) > 500);
  // The process' own metrics, as Prometheus' client libraries name them.
  assert.ok((metric(text, 'process_resident_memory_bytes', {}) ?? 0) > 1e6);
  assert.ok((metric(text, 'process_cpu_seconds_total', {}) ?? 0) > 0);
  assert.ok((metric(text, 'nodejs_heap_size_used_bytes', {}) ?? 0) > 0);
  assert.match(text, /^# TYPE nodejs_eventloop_lag_p99_seconds gauge$/m);

  const stats = await (await fetch(`${base}/stats`)).json() as { pools: Array<{ pool: string; governance: { callers: Array<{ caller: string }> } }> };
  assert.equal(stats.pools[0].pool, 'cache');
  assert.deepEqual(stats.pools[0].governance.callers.map((x) => x.caller), ['checkout', 'search', 'other']);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/ready`)).status, 200);
  assert.equal((await fetch(`${base}/nope`)).status, 404);

  const info = await a.info();
  assert.match(info, /# Proxy_commandstats\r\ncmdstat_/);
  assert.match(info, /cmdstat_set:calls=30,usec=\d+,usec_per_call=[\d.]+,failed_calls=0/);
  assert.match(info, /caller\d:name=checkout,calls=3\d,failed_calls=0/);

  // All backends gone: /ready turns 503 (nothing can serve), /healthz stays 200.
  await Promise.all(backends.map((x) => x.stop()));
  const until = Date.now() + 10_000;
  while ((await fetch(`${base}/ready`)).status !== 503 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.equal((await fetch(`${base}/ready`)).status, 503);
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
});
