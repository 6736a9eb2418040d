/**
 * Traffic governance against real redis-servers: circuit breakers (a SIGSTOPped backend
 * flooded with requests), connection limit, rate limits per caller and class, faults,
 * mirroring, retries of reads (never writes) and per-class timeouts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Redis } from 'ioredis';
import { startRedis, startRedisMany } from '../helpers/servers.js';
import { startRedisProxy, type RedisProxy } from '../../src/redis/index.js';
import { raw, waitFor } from './governance-helpers.js';

type T = { after(fn: () => unknown): void };

async function proxyWith(t: T, backends: string[], governance: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<{ proxy: RedisProxy; port: number }> {
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends, governance, ...extra });
  t.after(() => proxy.close(0));
  return { proxy, port: proxy.address().port };
}

function client(t: T, port: number, name?: string): Redis {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableReadyCheck: false, connectionName: name });
  c.on('error', () => {});
  t.after(() => c.disconnect());
  return c;
}

test('circuit breaker: a SIGSTOPped backend flooded with requests hits max_pending_requests, not memory; SIGCONT recovers', async (t) => {
  const s = await startRedis(t);
  const { proxy, port } = await proxyWith(t, [s.address], { circuit_breakers: { max_pending_requests: 100 } });
  const c = client(t, port);
  await c.set('k', 'v');
  s.process.signal('SIGSTOP');
  t.after(() => s.process.signal('SIGCONT'));
  const flood = Array.from({ length: 3000 }, () => c.get('k').then(() => 'ok', (e: Error) => e.message));
  await waitFor(() => proxy.stats().governance!.backends[0].pending_overflows >= 2900);
  assert.ok(proxy.stats().backends[0].in_queue <= 100, `pending stays bounded (${proxy.stats().backends[0].in_queue})`);
  s.process.signal('SIGCONT');
  const results = await Promise.all(flood);
  const ok = results.filter((r) => r === 'ok').length;
  const refused = results.filter((r) => /max_pending_requests \(100\): proxy overloaded/.test(r)).length;
  assert.equal(ok, 100);
  assert.equal(refused, 2900);
  assert.equal(await c.get('k'), 'v');
});

test('circuit breaker: max_client_queued_bytes refuses one client\'s excess while the backend is frozen; max_connections', async (t) => {
  const s = await startRedis(t);
  const { proxy, port } = await proxyWith(t, [s.address], { circuit_breakers: { max_client_queued_bytes: 64 * 1024, max_connections: 2 } });
  const c = client(t, port);
  await c.set('k', 'v');
  s.process.signal('SIGSTOP');
  t.after(() => s.process.signal('SIGCONT'));
  const big = 'x'.repeat(4096);
  const sets = Array.from({ length: 40 }, (_, i) => c.set(`big${i}`, big).then(() => 'ok', (e: Error) => e.message));
  await waitFor(() => (proxy.stats().governance!.rejected.client_queue_overflow ?? 0) >= 20);
  s.process.signal('SIGCONT');
  const r = await Promise.all(sets);
  assert.ok(r.filter((x) => x === 'ok').length >= 14);
  assert.ok(r.some((x) => /client has more than 65536 request bytes in flight: proxy overloaded/.test(x)));
  // Two connections are allowed; a third is refused with a clear error and closed.
  const c2 = client(t, port);
  await c2.ping();
  const third = net.connect(port, '127.0.0.1');
  const text = await new Promise<string>((resolve) => { let b = ''; third.on('data', (d) => { b += d; }); third.on('close', () => resolve(b)); third.on('error', () => resolve(b)); });
  assert.match(text, /^-ERR max number of clients reached \(max_connections\): proxy overloaded/);
  c2.disconnect();
  await waitFor(() => proxy.stats().downstream_cx_active === 1);
  const c3 = client(t, port);
  assert.equal(await c3.ping(), 'PONG');
});

test('rate limits: token bucket per caller and command class', async (t) => {
  const [a, b] = await startRedisMany(2, t);
  const { proxy, port } = await proxyWith(t, [a.address, b.address], { rate_limits: [{ class: 'write', requests_per_second: 2, burst: 5 }] });
  const svc = client(t, port, 'svc-a');
  const other = client(t, port, 'svc-b');
  await svc.ping();
  const writes = await Promise.all(Array.from({ length: 12 }, (_, i) => svc.set(`w${i}`, 'v').then(() => 'ok', (e: Error) => e.message)));
  assert.equal(writes.filter((x) => x === 'ok').length, 5);
  assert.match(writes.find((x) => x !== 'ok')!, /^ERR rate limit exceeded for caller 'svc-a' \(write commands, 2\/s\); retry in \d+ ms$/);
  // Reads are another class; another caller has its own bucket.
  for (let i = 0; i < 20; i++) await svc.get('w0');
  assert.equal(await other.set('x', '1'), 'OK');
  assert.equal(proxy.stats().governance!.rejected.rate_limited, 7);
});

test('faults: error and delay for a share of chosen commands (Envoy faults)', async (t) => {
  const s = await startRedis(t);
  const { port } = await proxyWith(t, [s.address], { faults: [
    { type: 'error', percent: 100, commands: ['incr'] },
    { type: 'delay', percent: 100, delay: 150, commands: ['get'] },
  ] });
  const r = await raw(port, [['INCR', 'n'], ['SET', 'k', 'v'], ['PING']]);
  assert.deepEqual(r, ['-ERR Fault Injected: Error', '+OK', '+PONG']);
  const c = client(t, port);
  const t0 = Date.now();
  assert.equal(await c.get('k'), 'v');
  assert.ok(Date.now() - t0 >= 140, 'GET was delayed');
  // Ordering is kept behind a delayed reply.
  const [g, p] = await Promise.all([c.get('k'), c.ping()]);
  assert.deepEqual([g, p], ['v', 'PONG']);
});

test('mirroring: writes are copied to the mirror pool (fire-and-forget), reads are not', async (t) => {
  const [primary, m1, m2] = await startRedisMany(3, t);
  const { proxy, port } = await proxyWith(t, [primary.address], { mirror: { backends: [m1.address, m2.address], exclude_read_commands: true } });
  const c = client(t, port);
  for (let i = 0; i < 30; i++) await c.set(`user:${i}:profile`, String(i));
  for (let i = 0; i < 30; i++) await c.get(`user:${i}:profile`);
  await waitFor(() => proxy.stats().governance!.mirror!.sent === 30);
  const d1 = new Redis({ port: m1.port, lazyConnect: true });
  const d2 = new Redis({ port: m2.port, lazyConnect: true });
  await d1.connect(); await d2.connect();
  t.after(() => { d1.disconnect(); d2.disconnect(); });
  const n1 = await d1.dbsize();
  const n2 = await d2.dbsize();
  assert.equal(n1 + n2, 30);
  assert.ok(n1 > 0 && n2 > 0, 'mirror pool is sharded by its own ring');
  assert.equal(proxy.stats().governance!.mirror!.errors, 0);
  // Default (as Envoy): every keyed command is mirrored, reads included.
  const { proxy: all, port: p2 } = await proxyWith(t, [primary.address], { mirror: { backends: [m1.address, m2.address] } });
  const c2 = client(t, p2);
  await c2.set('user:1:profile', 'a');
  await c2.get('user:1:profile');
  await waitFor(() => all.stats().governance!.mirror!.sent === 2);
});

test('retries: a read that hits a timeout is retried on a fresh connection; a write is not (at-most-once); class timeouts', async (t) => {
  const s = await startRedis(t, { args: ['--enable-debug-command', 'yes'] });
  const { proxy, port } = await proxyWith(t, [s.address], { retry: { retries: 2, backoff_base: 1 } }, { timeoutMs: 250 });
  const c = client(t, port);
  await c.set('k', 'v');
  const blocker = new Redis({ port: s.port, lazyConnect: true });
  await blocker.connect();
  t.after(() => blocker.disconnect());
  const sleep = blocker.debug('SLEEP', '0.35');
  await new Promise((r) => setTimeout(r, 30));
  const [g, w] = await Promise.all([c.get('k').catch((e: Error) => e.message), c.set('k2', 'x').catch((e: Error) => e.message)]);
  await sleep;
  assert.equal(g, 'v');
  assert.match(String(w), /ERR backend 127\.0\.0\.1:\d+ timed out/);
  assert.ok(proxy.stats().governance!.retries!.total >= 1);

  // Per-class timeouts: writes answered with a timeout error at 100 ms; replies stay in order.
  const { port: p2 } = await proxyWith(t, [s.address], { timeouts: { write: 100 } });
  const c2 = client(t, p2);
  await c2.set('k', 'v1');
  const sleep2 = blocker.debug('SLEEP', '0.4');
  await new Promise((r) => setTimeout(r, 30));
  const t0 = Date.now();
  const [w2, g2] = await Promise.all([c2.set('k', 'v2').catch((e: Error) => e.message), c2.get('k')]);
  await sleep2;
  assert.equal(w2, 'ERR command timed out after 100 ms (write timeout)');
  assert.equal(g2, 'v2', 'the write itself may still happen: at-most-once, not never');
  assert.ok(Date.now() - t0 >= 90);
  assert.equal(await c2.get('k'), 'v2');
});
