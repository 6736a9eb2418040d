/**
 * twemproxy's `redis_db`: every backend connection (shared, dedicated, health check) works in
 * that database, which clients see as database 0; a twemproxy YAML file that sets it is read as
 * it is, and keys written through the real nutcracker with it are found through Trellis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startNutcracker, startRedisMany, type RedisServer } from '../helpers/servers.js';
import { startRedisProxy } from '../../src/redis/index.js';
import { ActiveChecker } from '../../src/redis/health/active-checker.js';
import { parseProxyConfigText, poolFromOptions } from '../../src/config/index.js';
import { selectCommand } from '../../src/redis/auth/upstream-auth.js';
import { RawClient } from './client-commands-raw.js';

async function keysIn(backends: RedisServer[], db: number): Promise<number> {
  let n = 0;
  for (const b of backends) {
    const d = new Redis({ port: b.port, host: '127.0.0.1', db, lazyConnect: true });
    await d.connect();
    n += await d.dbsize();
    d.disconnect();
  }
  return n;
}

test('redis_db: shared, transaction and blocking connections use the database, SELECT n is refused, FLUSHDB stays in it', async (t) => {
  const backends = await startRedisMany(2, t);
  // A key in database 0 of every backend that nothing done through the proxy may touch.
  for (const b of backends) {
    const d = new Redis({ port: b.port, host: '127.0.0.1' });
    await d.set('outside', 'db0');
    d.disconnect();
  }
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address), hashTag: '{}', redisDb: 2 });
  t.after(() => proxy.close(100));
  const c = await RawClient.connect(proxy.address().port);
  t.after(() => c.close());

  for (let i = 0; i < 40; i++) assert.equal(await c.call('SET', `k${i}`, `v${i}`), 'OK');
  assert.equal(await c.call('MSET', 'a', '1', 'b', '2', 'c', '3'), 'OK');
  assert.deepEqual(await c.call('MGET', 'k0', 'k39', 'a', 'c'), ['v0', 'v39', '1', '3']);
  assert.equal(await c.call('GET', 'outside'), null, 'database 0 of the backends is not what clients see');
  assert.equal(await c.call('DBSIZE'), 43);
  assert.equal(await keysIn(backends, 2), 43);
  assert.equal(await keysIn(backends, 0), 2);

  // Transactions (dedicated connections) run in the same database.
  assert.equal(await c.call('MULTI'), 'OK');
  assert.equal(await c.call('INCR', '{t}n'), 'QUEUED');
  assert.equal(await c.call('INCR', '{t}n'), 'QUEUED');
  assert.deepEqual(await c.call('EXEC'), [1, 2]);
  // A blocking call finds a list pushed straight into database 2 of its backend.
  for (const b of backends) {
    const d = new Redis({ port: b.port, host: '127.0.0.1', db: 2 });
    await d.rpush('{q}list', `from-${b.port}`);
    d.disconnect();
  }
  const popped = await c.call('BLPOP', '{q}list', '1') as string[];
  assert.equal(popped[0], '{q}list');
  assert.match(popped[1], /^from-\d+$/);

  // The pool's database is database 0 to its clients.
  assert.equal(await c.call('SELECT', '0'), 'OK');
  assert.deepEqual(await c.call('SELECT', '1'), { error: 'ERR SELECT is not allowed: this pool serves database 2 (redis_db) as database 0' });
  assert.equal(await c.call('GET', 'k1'), 'v1', 'the connection stays usable after the refusal');

  assert.equal(await c.call('FLUSHDB'), 'OK');
  assert.equal(await keysIn(backends, 2), 0);
  assert.equal(await keysIn(backends, 0), 2, 'FLUSHDB reached database 0');
});

test('redis_db: a database the backends do not have is a clear error for the keys, not a hang', async (t) => {
  const backends = await startRedisMany(1, t); // redis-server has 16 databases by default
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address), redisDb: 99 });
  t.after(() => proxy.close(100));
  const c = await RawClient.connect(proxy.address().port);
  t.after(() => c.close());
  const r = await c.call('GET', 'k') as { error: string };
  assert.match(r.error, /^ERR backend 127\.0\.0\.1:\d+ (rejected the proxy's database selection \(ERR DB index is out of range\)|unavailable)$/);
  // Asked again once the connection was refused: still a clear answer, at once.
  const again = await c.call('GET', 'k') as { error: string };
  assert.match(again.error, /^ERR backend 127\.0\.0\.1:\d+ /);
});

test('redis_db: the active health check looks for the drain key in the pool\'s database', async (t) => {
  const [b] = await startRedisMany(1, t);
  const checker = new ActiveChecker({ host: '127.0.0.1', port: b.port, timeoutMs: 2000, key: 'drain', handshake: [selectCommand(3)] });
  t.after(() => checker.close());
  const direct0 = new Redis({ port: b.port, host: '127.0.0.1' });
  const direct3 = new Redis({ port: b.port, host: '127.0.0.1', db: 3 });
  t.after(() => { direct0.disconnect(); direct3.disconnect(); });
  await direct0.set('drain', '1');
  assert.deepEqual(await checker.check(), { ok: true }, 'a drain key in database 0 concerns another pool');
  await direct3.set('drain', '1');
  assert.equal((await checker.check()).ok, false);
});

test('redis_db: config from flags, our YAML and a twemproxy file; refused for Redis Cluster', () => {
  assert.equal(poolFromOptions({ backends: ['127.0.0.1:7001'], redisDb: 4 }).redisDb, 4);
  assert.equal(poolFromOptions({ backends: ['127.0.0.1:7001'] }).redisDb, 0);
  assert.throws(() => poolFromOptions({ backends: ['127.0.0.1:7001'], redisDb: -1 }, 'pool'), /pool\.redis_db/);
  const twem = parseProxyConfigText('alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n  redis_db: 5\n  servers:\n    - 127.0.0.1:7001:1\n');
  assert.equal(twem.pools[0].redisDb, 5);
  const ours = parseProxyConfigText('pools:\n  - listen: 127.0.0.1:6380\n    redis_db: 6\n    backends: ["127.0.0.1:7001"]\n');
  assert.equal(ours.pools[0].redisDb, 6);
  assert.throws(() => poolFromOptions({ backends: ['127.0.0.1:7001'], distribution: 'cluster', redisDb: 1 }, 'pool'),
    /pool\.redis_db: Redis Cluster only has database 0/);
});

test('redis_db: keys written through twemproxy with redis_db are found through Trellis reading the same file', { timeout: 60_000 }, async (t) => {
  const backends = await startRedisMany(3, t);
  const servers = backends.map((b) => `  - 127.0.0.1:${b.port}:1`).join('\n');
  const pool = `redis: true\nredis_db: 7\nhash: fnv1a_64\ndistribution: ketama\nservers:\n${servers}`;
  const nc = await startNutcracker(pool, t);
  const viaTwem = new Redis({ host: '127.0.0.1', port: nc.port, enableReadyCheck: false, disableClientInfo: true, maxRetriesPerRequest: 0 });
  t.after(() => viaTwem.disconnect());
  const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`);
  for (const k of keys) await viaTwem.set(k, `v-${k}`);
  assert.equal(await keysIn(backends, 7), keys.length, 'twemproxy wrote into database 7');

  const cfg = parseProxyConfigText(`alpha:\n  listen: 127.0.0.1:0\n${pool.split('\n').map((l) => `  ${l}`).join('\n')}\n`);
  const proxy = await startRedisProxy(cfg.pools[0]);
  t.after(() => proxy.close(100));
  const viaTrellis = new Redis({ host: '127.0.0.1', port: proxy.address().port, maxRetriesPerRequest: 0 });
  t.after(() => viaTrellis.disconnect());
  const got = await viaTrellis.mget(...keys);
  assert.deepEqual(got, keys.map((k) => `v-${k}`));
});

test('redis_db: mirrored writes land in the same database of the mirror servers', async (t) => {
  const [primary, mirror] = await startRedisMany(2, t);
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: [primary.address], redisDb: 4,
    governance: { mirror: { backends: [mirror.address] } },
  });
  t.after(() => proxy.close(100));
  const c = await RawClient.connect(proxy.address().port);
  t.after(() => c.close());
  for (let i = 0; i < 10; i++) assert.equal(await c.call('SET', `m${i}`, 'v'), 'OK');
  const deadline = Date.now() + 10_000;
  // Mirroring is fire-and-forget: wait for the copies to be applied.
  while (await keysIn([mirror], 4) < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await keysIn([mirror], 4), 10);
  assert.equal(await keysIn([mirror], 0), 0);
});
