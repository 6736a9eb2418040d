import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedisMany } from '../helpers/servers.js';
import { startRedisProxy, type RedisProxy } from '../../src/redis/index.js';
import { RawClient, waitFor } from './client-commands-raw.js';

function keysOnTwoShards(proxy: RedisProxy, prefix: string): [string, string] {
  const sh = (k: string) => proxy.features.router.shardOf(Buffer.from(k), 0, k.length);
  for (let i = 1; i < 1000; i++) if (sh(`${prefix}${i}`) !== sh(`${prefix}0`)) return [`${prefix}0`, `${prefix}${i}`];
  throw new Error('no two shards');
}

async function infoField(c: RawClient, field: string): Promise<string> {
  const info = await c.call('INFO', 'clients') as string;
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  return m ? m[1].trim() : '';
}

test('blocking commands wait on their own connection with Redis timeout semantics', async (t) => {
  const backends = await startRedisMany(2, t);
  // A short proxy request timeout: blocking calls must not be subject to it.
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address), hashTag: '{}', timeoutMs: 300 });
  t.after(() => proxy.close(100));
  const { port } = proxy.address();
  const waiter = await RawClient.connect(port);
  const pusher = await RawClient.connect(port);
  t.after(() => { waiter.close(); pusher.close(); });

  // Times out (fractional seconds): nil.
  const t0 = Date.now();
  assert.equal(await waiter.call('BLPOP', 'q:none', '0.2'), null);
  assert.ok(Date.now() - t0 >= 150);
  assert.equal(await waiter.call('BZPOPMIN', 'z:none', '0.1'), null);
  assert.equal(await waiter.call('XREAD', 'BLOCK', '100', 'STREAMS', 's:none', '$'), null);

  // Woken by another client's push, after longer than the proxy's request timeout; other
  // clients' requests keep flowing while it waits.
  waiter.write('BLPOP', 'q:1', '0');
  await new Promise((r) => setTimeout(r, 500));
  for (let i = 0; i < 50; i++) assert.equal(await pusher.call('SET', `k${i}`, 'v'), 'OK');
  assert.equal(waiter.pending, 0);
  assert.equal(await pusher.call('RPUSH', 'q:1', 'job'), 1);
  assert.deepEqual(await waiter.next(), ['q:1', 'job']);

  // BLMOVE and BRPOPLPUSH between keys of one shard, XREAD BLOCK woken by XADD.
  waiter.write('BLMOVE', '{l}src', '{l}dst', 'LEFT', 'RIGHT', '0');
  await new Promise((r) => setTimeout(r, 50));
  await pusher.call('RPUSH', '{l}src', 'm');
  assert.equal(await waiter.next(), 'm');
  assert.deepEqual(await pusher.call('LRANGE', '{l}dst', '0', '-1'), ['m']);
  waiter.write('XREAD', 'BLOCK', '0', 'STREAMS', 'st', '$');
  await new Promise((r) => setTimeout(r, 50));
  const id = await pusher.call('XADD', 'st', '*', 'f', 'v') as string;
  assert.deepEqual(await waiter.next(), [['st', [[id, ['f', 'v']]]]]);
  waiter.write('BZMPOP', '0', '1', 'zz', 'MIN');
  await new Promise((r) => setTimeout(r, 50));
  await pusher.call('ZADD', 'zz', '1', 'a');
  assert.deepEqual(await waiter.next(), ['zz', [['a', '1']]]);

  // Like Redis, a blocked client's next commands wait: its own RPUSH does not wake its BLPOP.
  waiter.write('BLPOP', 'q:self', '0.3');
  waiter.write('RPUSH', 'q:self', 'x');
  waiter.write('LPOP', 'q:self');
  assert.equal(await waiter.next(), null);
  assert.equal(await waiter.next(), 1);
  assert.equal(await waiter.next(), 'x');

  // Keys on two shards: a clear error, nothing blocks.
  const [a, b] = keysOnTwoShards(proxy, 'bq');
  assert.match((await waiter.call('BLPOP', a, b, '0') as { error: string }).error, /^CROSSSHARD /);

  // INFO clients counts clients blocked through the proxy.
  assert.equal(await infoField(pusher, 'blocked_clients'), '0');
  assert.equal(await infoField(pusher, 'connected_clients'), '2');
  waiter.write('BRPOP', 'q:2', '0');
  await waitFor(async () => (await infoField(pusher, 'blocked_clients')) === '1');
  await pusher.call('LPUSH', 'q:2', 'x');
  assert.deepEqual(await waiter.next(), ['q:2', 'x']);
  assert.equal(await infoField(pusher, 'blocked_clients'), '0');
});

test('CLIENT UNBLOCK for proxy client ids, and a client leaving while blocked', async (t) => {
  const backends = await startRedisMany(2, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address), hashTag: '{}' });
  t.after(() => proxy.close(100));
  const { port } = proxy.address();
  const waiter = await RawClient.connect(port);
  const ctl = await RawClient.connect(port);
  t.after(() => { waiter.close(); ctl.close(); });
  const id = await waiter.call('CLIENT', 'ID') as number;
  assert.equal(await ctl.call('CLIENT', 'UNBLOCK', String(id)), 0); // not blocked

  waiter.write('BLPOP', 'u:1', '0');
  await waitFor(() => proxy.features.blocking.blocked === 1);
  await waitFor(async () => (await ctl.call('CLIENT', 'UNBLOCK', String(id))) === 1);
  assert.equal(await waiter.next(), null);

  waiter.write('BZPOPMAX', 'u:2', '0');
  await waitFor(() => proxy.features.blocking.blocked === 1);
  await waitFor(async () => (await ctl.call('CLIENT', 'UNBLOCK', String(id), 'ERROR')) === 1);
  assert.deepEqual(await waiter.next(), { error: 'UNBLOCKED client unblocked via CLIENT UNBLOCK' });
  assert.deepEqual(await ctl.call('CLIENT', 'UNBLOCK', String(id), 'BOGUS'), { error: 'ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR' });
  // Unblocked client is usable again.
  assert.equal(await waiter.call('PING'), 'PONG');

  // Leaving while blocked closes the upstream connection: the backend has no blocked client left.
  const leaver = await RawClient.connect(port);
  leaver.write('BLPOP', 'u:3', '0');
  await waitFor(() => proxy.features.blocking.blocked === 1);
  const shard = proxy.features.router.shardOf(Buffer.from('u:3'), 0, 3);
  const direct = new Redis({ port: backends[shard].port, host: '127.0.0.1' });
  direct.on('error', () => {});
  t.after(() => direct.disconnect());
  const blockedOnBackend = async () => Number(/blocked_clients:(\d+)/.exec(await direct.info('clients'))![1]);
  await waitFor(async () => (await blockedOnBackend()) === 1);
  leaver.close();
  await waitFor(async () => (await blockedOnBackend()) === 0);
  await waitFor(() => proxy.features.blocking.blocked === 0);
  assert.equal(proxy.stats().features.blocked_clients, 0);
  assert.ok(proxy.stats().features.blocked_total >= 3);
  // Nothing was popped on its behalf.
  await ctl.call('RPUSH', 'u:3', 'kept');
  assert.deepEqual(await ctl.call('LRANGE', 'u:3', '0', '-1'), ['kept']);
});

test('dedicated connections are bounded per backend with a clear error, and reused when clean', async (t) => {
  const [b] = await startRedisMany(1, t);
  const { poolFromOptions } = await import('../../src/redis/index.js');
  const { Router } = await import('../../src/redis/router.js');
  const { DedicatedPool } = await import('../../src/redis/dedicated/index.js');
  const pool = new DedicatedPool(new Router(poolFromOptions({ listen: '127.0.0.1:0', backends: [b.address] })), poolFromOptions({ listen: '127.0.0.1:0', backends: [b.address] }), 2);
  t.after(() => pool.close());
  const c1 = pool.acquire(0, 0);
  const c2 = pool.acquire(0, 0);
  assert.ok(!Buffer.isBuffer(c1) && !Buffer.isBuffer(c2));
  const c3 = pool.acquire(0, 0);
  assert.ok(Buffer.isBuffer(c3));
  assert.match(c3.toString(), /^-ERR proxy has no dedicated connection left for backend 127\.0\.0\.1:\d+ \(limit 2\)/);
  const pong = await new Promise<string>((r) => c1.send(Buffer.from('*1\r\n$4\r\nPING\r\n'), { onReply: (x) => r(x.toString()) }));
  assert.equal(pong, '+PONG\r\n');
  pool.release(c1, true);
  assert.equal(pool.acquire(0, 0), c1); // the idle one comes back
  pool.release(c2, false); // closed: its slot in the budget is free again
  await waitFor(() => pool.stats().open[0] === 1);
  const c4 = pool.acquire(0, 0);
  assert.ok(!Buffer.isBuffer(c4));
  // A database other than 0 is selected in the handshake.
  const d = pool.create(0, 3);
  assert.ok(Buffer.isBuffer(d)); // budget of 2 in use (c1, c4)
  pool.release(c4, false);
  await waitFor(() => pool.stats().open[0] === 1);
  const d3 = pool.create(0, 3);
  assert.ok(!Buffer.isBuffer(d3));
  await new Promise<void>((r) => d3.send(Buffer.from('*3\r\n$3\r\nSET\r\n$2\r\nk3\r\n$1\r\nv\r\n'), { onReply: () => r() }));
  const direct = new Redis({ port: b.port, host: '127.0.0.1', db: 3 });
  direct.on('error', () => {});
  t.after(() => direct.disconnect());
  assert.equal(await direct.get('k3'), 'v');
});

test('per-class governance timeouts do not cut blocking calls (no popped element is lost)', async (t) => {
  const backends = await startRedisMany(2, t);
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: backends.map((b) => b.address), governance: { timeouts: { write: 100, read: 100 } },
  } as Parameters<typeof startRedisProxy>[0]);
  t.after(() => proxy.close(100));
  const waiter = await RawClient.connect(proxy.address().port);
  const pusher = await RawClient.connect(proxy.address().port);
  t.after(() => { waiter.close(); pusher.close(); });
  waiter.write('BLPOP', 'gq', '0');
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(waiter.pending, 0);
  assert.equal(await pusher.call('RPUSH', 'gq', 'precious'), 1);
  assert.deepEqual(await waiter.next(), ['gq', 'precious']);
});
