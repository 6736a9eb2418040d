import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedisMany } from '../helpers/servers.js';
import { startRedisProxy, type RedisProxy } from '../../src/redis/index.js';
import { RawClient, waitFor } from './client-commands-raw.js';

function shardOf(proxy: RedisProxy, key: string): number {
  return proxy.features.router.shardOf(Buffer.from(key), 0, Buffer.byteLength(key));
}

/** Two keys the proxy puts on different shards. */
function keysOnTwoShards(proxy: RedisProxy, prefix: string): [string, string] {
  const first = `${prefix}0`;
  for (let i = 1; i < 1000; i++) if (shardOf(proxy, `${prefix}${i}`) !== shardOf(proxy, first)) return [first, `${prefix}${i}`];
  throw new Error('no two shards');
}

test('MULTI/EXEC/DISCARD/WATCH on a dedicated connection to the keys\' shard', async (t) => {
  const backends = await startRedisMany(2, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address), hashTag: '{}' });
  t.after(() => proxy.close(100));
  const { port } = proxy.address();
  const c = await RawClient.connect(port);
  const other = await RawClient.connect(port);
  t.after(() => { c.close(); other.close(); });

  // A plain transaction; keyless commands before the first key are held and sent with it.
  assert.equal(await c.call('MULTI'), 'OK');
  assert.equal(await c.call('PING'), 'QUEUED');
  assert.equal(await c.call('SET', '{t}a', '1'), 'QUEUED');
  assert.equal(await c.call('INCR', '{t}a'), 'QUEUED');
  assert.equal(await c.call('GET', '{t}b'), 'QUEUED');
  assert.deepEqual(await c.call('EXEC'), ['PONG', 'OK', 2, null]);
  assert.equal(await other.call('GET', '{t}a'), '2');

  // Keyless only: runs on some shard.
  assert.equal(await c.call('MULTI'), 'OK');
  assert.equal(await c.call('ECHO', 'hi'), 'QUEUED');
  assert.deepEqual(await c.call('EXEC'), ['hi']);
  assert.equal(await c.call('MULTI'), 'OK');
  assert.deepEqual(await c.call('EXEC'), []);

  // Errors Redis gives.
  assert.deepEqual(await c.call('EXEC'), { error: 'ERR EXEC without MULTI' });
  assert.deepEqual(await c.call('DISCARD'), { error: 'ERR DISCARD without MULTI' });
  assert.equal(await c.call('MULTI'), 'OK');
  assert.deepEqual(await c.call('MULTI'), { error: 'ERR MULTI calls can not be nested' });
  assert.deepEqual(await c.call('WATCH', 'x'), { error: 'ERR WATCH inside MULTI is not allowed' });
  assert.equal(await c.call('SET', '{t}d', 'x'), 'QUEUED');
  assert.equal(await c.call('DISCARD'), 'OK');
  assert.equal(await other.call('EXISTS', '{t}d'), 0);

  // Keys across shards: a clear error at the command, then EXECABORT, nothing applied.
  const [k1, k2] = keysOnTwoShards(proxy, 'xs');
  assert.equal(await c.call('MULTI'), 'OK');
  assert.equal(await c.call('SET', k1, 'v'), 'QUEUED');
  const e = await c.call('SET', k2, 'v') as { error: string };
  assert.match(e.error, /^CROSSSHARD /);
  assert.deepEqual(await c.call('EXEC'), { error: 'EXECABORT Transaction discarded because of previous errors.' });
  assert.equal(await other.call('EXISTS', k1), 0);
  // A command with its own keys on two shards, and an unknown command, also abort.
  assert.equal(await c.call('MULTI'), 'OK');
  assert.match((await c.call('MSET', k1, '1', k2, '2') as { error: string }).error, /^CROSSSHARD /);
  assert.deepEqual(await c.call('EXEC'), { error: 'EXECABORT Transaction discarded because of previous errors.' });
  assert.equal(await c.call('MULTI'), 'OK');
  assert.match((await c.call('NOSUCHCMD', 'x') as { error: string }).error, /^ERR unknown command 'NOSUCHCMD'/);
  assert.deepEqual(await c.call('EXEC'), { error: 'EXECABORT Transaction discarded because of previous errors.' });

  // WATCH conflict: another client changes the watched key → EXEC returns nil.
  await other.call('SET', '{w}k', 'start');
  assert.equal(await c.call('WATCH', '{w}k'), 'OK');
  assert.equal(await c.call('GET', '{w}k'), 'start');
  assert.equal(await other.call('SET', '{w}k', 'changed'), 'OK');
  assert.equal(await c.call('MULTI'), 'OK');
  assert.equal(await c.call('SET', '{w}k', 'mine'), 'QUEUED');
  assert.equal(await c.call('EXEC'), null);
  assert.equal(await other.call('GET', '{w}k'), 'changed');
  // No conflict: it applies.
  assert.equal(await c.call('WATCH', '{w}k', '{w}j'), 'OK');
  assert.equal(await c.call('MULTI'), 'OK');
  assert.equal(await c.call('SET', '{w}k', 'mine'), 'QUEUED');
  assert.deepEqual(await c.call('EXEC'), ['OK']);
  assert.equal(await other.call('GET', '{w}k'), 'mine');
  // UNWATCH forgets the watch: a later change does not abort.
  assert.equal(await c.call('WATCH', '{w}k'), 'OK');
  assert.equal(await c.call('UNWATCH'), 'OK');
  await other.call('SET', '{w}k', 'again');
  assert.equal(await c.call('MULTI'), 'OK');
  assert.equal(await c.call('SET', '{w}k', 'after-unwatch'), 'QUEUED');
  assert.deepEqual(await c.call('EXEC'), ['OK']);
  // WATCH over shards, and a transaction on another shard than its WATCH, are refused.
  assert.match((await c.call('WATCH', k1, k2) as { error: string }).error, /^CROSSSHARD /);
  assert.equal(await c.call('WATCH', k1), 'OK');
  assert.equal(await c.call('MULTI'), 'OK');
  assert.match((await c.call('SET', k2, 'v') as { error: string }).error, /^CROSSSHARD /);
  assert.deepEqual(await c.call('EXEC'), { error: 'EXECABORT Transaction discarded because of previous errors.' });

  // A client that leaves inside MULTI releases its dedicated connection.
  const leaver = await RawClient.connect(port);
  assert.equal(await leaver.call('MULTI'), 'OK');
  assert.equal(await leaver.call('SET', '{t}z', '1'), 'QUEUED');
  const before = proxy.features.pool.stats().open.reduce((a, b) => a + b, 0);
  leaver.close();
  await waitFor(() => proxy.features.pool.stats().open.reduce((a, b) => a + b, 0) < before);
  assert.equal(await other.call('EXISTS', '{t}z'), 0);
});

test('transactions through ioredis (multi/exec and watch)', async (t) => {
  const backends = await startRedisMany(3, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address), hashTag: '{}' });
  t.after(() => proxy.close(100));
  const { port } = proxy.address();
  const a = new Redis({ port, host: '127.0.0.1' });
  const b = new Redis({ port, host: '127.0.0.1' });
  t.after(() => { a.disconnect(); b.disconnect(); });
  const res = await a.multi().set('{u}1', 'a').incr('{u}n').incr('{u}n').exec();
  assert.deepEqual(res, [[null, 'OK'], [null, 1], [null, 2]]);
  // Optimistic locking retry loop: 20 concurrent increments through WATCH never lose an update.
  async function incr(c: Redis): Promise<void> {
    for (;;) {
      await c.watch('{u}counter');
      const v = Number((await c.get('{u}counter')) ?? '0');
      const r = await c.multi().set('{u}counter', String(v + 1)).exec();
      if (r !== null) return;
    }
  }
  const clients = Array.from({ length: 4 }, () => new Redis({ port, host: '127.0.0.1' }));
  t.after(() => clients.forEach((c) => c.disconnect()));
  await Promise.all(clients.map(async (c) => { for (let i = 0; i < 5; i++) await incr(c); }));
  assert.equal(await b.get('{u}counter'), '20');
});

test('dedicated connections authenticate upstream like the shared ones (MULTI, BLPOP, SUBSCRIBE, SELECT 1)', async (t) => {
  const { startRedis } = await import('../helpers/servers.js');
  const a = await startRedis(t, { args: ['--requirepass', 'pool-pass'] });
  const b = await startRedis(t, { args: ['--requirepass', 'pool-pass'] });
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: [a.address, b.address], hashTag: '{}', governance: { upstream_auth: { password: 'pool-pass' } },
  } as Parameters<typeof startRedisProxy>[0]);
  t.after(() => proxy.close(100));
  const c = await RawClient.connect(proxy.address().port);
  const d = await RawClient.connect(proxy.address().port);
  t.after(() => { c.close(); d.close(); });
  assert.equal(await c.call('MULTI'), 'OK');
  assert.equal(await c.call('INCR', '{a}n'), 'QUEUED');
  assert.deepEqual(await c.call('EXEC'), [1]);
  await d.call('RPUSH', 'q', 'x');
  assert.deepEqual(await c.call('BLPOP', 'q', '1'), ['q', 'x']);
  assert.deepEqual(await c.call('SUBSCRIBE', 'ch'), ['subscribe', 'ch', 1]);
  assert.ok((await d.call('PUBLISH', 'ch', 'm')) as number >= 1);
  assert.deepEqual(await c.next(), ['message', 'ch', 'm']);
  assert.equal(await d.call('SELECT', '1'), 'OK');
  assert.equal(await d.call('SET', 'k1', 'v'), 'OK');
  assert.equal(await d.call('GET', 'k1'), 'v');
});
