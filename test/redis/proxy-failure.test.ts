/**
 * Backends failing and answering slowly: a dead backend's keys get an immediate clear error
 * while other shards keep working and the proxy reconnects in the background; replies keep
 * the client's order when one shard is slow; request timeouts; a 20 MB value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisServer } from '../helpers/servers.js';
import { keysPerShard, proxyFixture, rawExchange } from './proxy-helpers.js';
import { repliesAwaited } from '../../src/redis/upstream-connection.js';

const DEBUG = ['--enable-debug-command', 'yes'];

async function eventually(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a dead backend: its keys fail at once with a clear error, other shards work, it comes back', async (t) => {
  const f = await proxyFixture(t, 3);
  const c = f.client();
  const [a, b, d] = keysPerShard(f, 'dead', 1);
  await c.mset(a[0], 'A', b[0], 'B', d[0], 'D');
  const victim = f.servers[1];
  const port = victim.port;
  await victim.stop();
  await eventually(async () => !f.proxy.stats().backends[1].connected);

  const started = Date.now();
  await assert.rejects(c.get(b[0]), (e: Error) => e.message === `ERR backend 127.0.0.1:${port} unavailable`);
  assert.ok(Date.now() - started < 5000, 'no hang');
  assert.equal(await c.get(a[0]), 'A');
  assert.equal(await c.get(d[0]), 'D');
  // A split MGET: the dead shard's keys become error elements, the others are values.
  const raw = await rawExchange(f.port, `*4\r\n$4\r\nMGET\r\n$${a[0].length}\r\n${a[0]}\r\n$${b[0].length}\r\n${b[0]}\r\n$${d[0].length}\r\n${d[0]}\r\n`, (s) => s.endsWith('$1\r\nD\r\n'));
  assert.equal(raw.text, `*3\r\n$1\r\nA\r\n-ERR backend 127.0.0.1:${port} unavailable\r\n$1\r\nD\r\n`);
  await assert.rejects(c.dbsize(), /ERR backend 127\.0\.0\.1:\d+ unavailable/);

  // Back on the same port: the background reconnect picks it up.
  const again = await RedisServer.start({ port });
  t.after(() => again.stop());
  await eventually(async () => (await c.set(b[0], 'B2')) === 'OK');
  assert.equal(await c.get(b[0]), 'B2');
  assert.ok(f.proxy.stats().backends[1].connected);
});

test('pipelined replies keep the client order when one shard answers late', async (t) => {
  const f = await proxyFixture(t, 3, {}, DEBUG);
  const c = f.client();
  const [slow, fast1, fast2] = keysPerShard(f, 'ord', 3);
  const keys = [slow[0], fast1[0], fast2[0], slow[1], fast1[1], fast2[1], slow[2], fast1[2], fast2[2]];
  await c.mset(...keys.flatMap((k) => [k, `v:${k}`]));
  const sleeper = f.direct(0);
  const sleeping = sleeper.call('debug', 'sleep', '0.5');
  await new Promise((r) => setTimeout(r, 50));
  const pipe = c.pipeline();
  for (const k of keys) pipe.get(k);
  pipe.ping();
  for (const k of keys) pipe.append(k, '!');
  const res = await pipe.exec();
  await sleeping;
  assert.deepEqual(res!.map(([err, v]) => (err ? err.message : v)), [
    ...keys.map((k) => `v:${k}`), 'PONG', ...keys.map((k) => `v:${k}!`.length),
  ]);
});

test('request timeout: a stalled backend gives its keys an error after timeout; the others keep working', async (t) => {
  const f = await proxyFixture(t, 2, { timeoutMs: 300 }, DEBUG);
  const c = f.client();
  const [stalled, ok] = keysPerShard(f, 'to', 1);
  await c.set(ok[0], 'fine');
  const sleeping = f.direct(0).call('debug', 'sleep', '1.5');
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  await assert.rejects(c.get(stalled[0]), /ERR backend 127\.0\.0\.1:\d+ timed out/);
  assert.ok(Date.now() - started < 1400, 'answered before the backend woke up');
  assert.equal(await c.get(ok[0]), 'fine');
  await sleeping;
  await eventually(async () => (await c.set(stalled[0], 'back')) === 'OK');
  assert.ok(f.proxy.stats().backends[0].server_timedout >= 1);
});

test('requests awaiting replies are counted exactly through load, a timeout and a dead backend', async (t) => {
  // Upstream writes are held an iteration while this count is above zero: a count that drifts
  // up would add that delay for ever, one that drifts down would stop the batching.
  const f = await proxyFixture(t, 3, { timeoutMs: 400 }, DEBUG);
  const clients = Array.from({ length: 8 }, () => f.client());
  const [s0, s1, s2] = keysPerShard(f, 'aw', 20);
  const load = () => Promise.all(clients.map(async (c, i) => {
    const p = c.pipeline();
    for (let j = 0; j < 20; j++) p.set(s0[j], `${i}`).get(s1[j]).mget(s0[j], s1[j], s2[j]).incr(s2[j]);
    await p.exec();
  }));
  await load();
  await eventually(async () => repliesAwaited() === 0);

  // A stalled backend: requests wait on it (counted), then time out (no longer counted).
  const sleeping = f.direct(0).call('debug', 'sleep', '1');
  await new Promise((r) => setTimeout(r, 50));
  const stalled = Promise.allSettled(clients.map((c) => c.get(s0[0])));
  await eventually(async () => repliesAwaited() >= clients.length);
  const results = await stalled;
  assert.ok(results.every((r) => r.status === 'rejected' && /timed out/.test(String(r.reason))));
  await sleeping;
  await eventually(async () => repliesAwaited() === 0);

  // A backend killed while requests wait on it.
  const sleeping2 = f.direct(1).call('debug', 'sleep', '5').catch(() => {});
  await new Promise((r) => setTimeout(r, 50));
  const dying = Promise.allSettled(clients.map((c) => c.get(s1[0])));
  await eventually(async () => repliesAwaited() >= clients.length);
  await f.servers[1].stop();
  await dying;
  await sleeping2;
  await eventually(async () => repliesAwaited() === 0);
  await Promise.all(clients.map((c) => c.set(s2[0], 'still')));
  await eventually(async () => repliesAwaited() === 0);
});

test('a 20 MB value through the proxy', async (t) => {
  const f = await proxyFixture(t, 2);
  const c = f.client();
  const big = Buffer.alloc(20 * 1024 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
  assert.equal(await c.set('big', big), 'OK');
  const back = await c.getBuffer('big');
  assert.ok(back !== null && back.equals(big));
  assert.equal(await c.strlen('big'), big.length);
  assert.deepEqual((await c.mgetBuffer('big', 'nothing'))[1], null);
});
