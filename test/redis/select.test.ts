import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedisMany } from '../helpers/servers.js';
import { startRedisProxy } from '../../src/redis/index.js';
import { RawClient } from './client-commands-raw.js';

test('SELECT n: per-client database on every backend, isolated from database 0', async (t) => {
  const backends = await startRedisMany(2, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address), hashTag: '{}' });
  t.after(() => proxy.close(100));
  const { port } = proxy.address();
  const db0 = await RawClient.connect(port);
  const db1 = await RawClient.connect(port);
  t.after(() => { db0.close(); db1.close(); });
  assert.equal(await db1.call('SELECT', '1'), 'OK');
  // Pipelined right after SELECT: already in database 1.
  db1.write('SET', 'k', 'in-1');
  db1.write('MSET', 'a', '1', 'b', '2', 'c', '3', 'd', '4');
  assert.equal(await db1.next(), 'OK');
  assert.equal(await db1.next(), 'OK');
  assert.equal(await db0.call('SET', 'k', 'in-0'), 'OK');
  assert.equal(await db1.call('GET', 'k'), 'in-1');
  assert.equal(await db0.call('GET', 'k'), 'in-0');
  assert.deepEqual(await db1.call('MGET', 'a', 'b', 'c', 'd'), ['1', '2', '3', '4']);
  assert.deepEqual(await db0.call('MGET', 'a', 'b'), [null, null]);
  assert.equal(await db1.call('DBSIZE'), 5);
  assert.equal(await db0.call('DBSIZE'), 1);
  // Directly on the backends: the keys are in database 1.
  let in1 = 0;
  for (const b of backends) {
    const d = new Redis({ port: b.port, host: '127.0.0.1', db: 1 });
    in1 += await d.dbsize();
    d.disconnect();
  }
  assert.equal(in1, 5);
  // Transactions and blocking calls run in the client's database too.
  assert.equal(await db1.call('MULTI'), 'OK');
  assert.equal(await db1.call('INCR', '{x}n'), 'QUEUED');
  assert.deepEqual(await db1.call('EXEC'), [1]);
  assert.equal(await db0.call('EXISTS', '{x}n'), 0);
  await db1.call('RPUSH', 'q', 'one');
  assert.deepEqual(await db1.call('BLPOP', 'q', '1'), ['q', 'one']);
  // SCAN in database 1.
  const keys: string[] = [];
  let cur = '0';
  do {
    const [next, ks] = await db1.call('SCAN', cur) as [string, string[]];
    keys.push(...ks);
    cur = next;
  } while (cur !== '0');
  assert.deepEqual(keys.sort(), ['a', 'b', 'c', 'd', 'k', '{x}n']);
  // Back to 0; an index the backends refuse is refused and the client stays where it was.
  assert.equal(await db1.call('SELECT', '0'), 'OK');
  assert.equal(await db1.call('GET', 'k'), 'in-0');
  assert.match((await db1.call('SELECT', '99') as { error: string }).error, /DB index is out of range/);
  assert.equal(await db1.call('GET', 'k'), 'in-0');
  assert.deepEqual(await db1.call('SELECT', 'x'), { error: 'ERR value is not an integer or out of range' });

  // MOVE runs on the key's shard, between the client's database and another; SWAPDB on every shard.
  assert.equal(await db0.call('SET', 'mv', 'x'), 'OK');
  assert.equal(await db0.call('MOVE', 'mv', '3'), 1);
  assert.equal(await db0.call('EXISTS', 'mv'), 0);
  assert.equal(await db1.call('SELECT', '3'), 'OK');
  assert.equal(await db1.call('GET', 'mv'), 'x');
  assert.equal(await db1.call('SWAPDB', '3', '4'), 'OK');
  assert.equal(await db1.call('EXISTS', 'mv'), 0);
  assert.equal(await db1.call('SELECT', '4'), 'OK');
  assert.equal(await db1.call('GET', 'mv'), 'x');
});

test('multi-key commands whose keys share a shard: RENAME, COPY, SMOVE, *STORE, OBJECT', async (t) => {
  const backends = await startRedisMany(3, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address), hashTag: '{}' });
  t.after(() => proxy.close(100));
  const c = await RawClient.connect(proxy.address().port);
  t.after(() => c.close());
  await c.call('SET', '{r}a', 'v');
  assert.equal(await c.call('RENAME', '{r}a', '{r}b'), 'OK');
  assert.equal(await c.call('COPY', '{r}b', '{r}c'), 1);
  assert.equal(await c.call('GET', '{r}c'), 'v');
  await c.call('SADD', '{s}1', 'm', 'n');
  await c.call('SADD', '{s}2', 'n', 'o');
  assert.equal(await c.call('SMOVE', '{s}1', '{s}2', 'm'), 1);
  assert.equal(await c.call('SINTERSTORE', '{s}i', '{s}1', '{s}2'), 1);
  assert.equal(await c.call('SUNIONSTORE', '{s}u', '{s}1', '{s}2'), 3);
  await c.call('ZADD', '{z}1', '1', 'a');
  assert.equal(await c.call('ZUNIONSTORE', '{z}d', '1', '{z}1'), 1);
  assert.equal(await c.call('OBJECT', 'ENCODING', '{r}b'), 'embstr');
  assert.equal(await c.call('OBJECT', 'REFCOUNT', '{r}b'), 1);
  // Keys of different shards: a clear error.
  const sh = (k: string) => proxy.features.router.shardOf(Buffer.from(k), 0, k.length);
  let other = 'o0';
  for (let i = 0; sh(other) === sh('{r}b'); i++) other = `o${i}`;
  assert.match((await c.call('RENAME', '{r}b', other) as { error: string }).error, /^CROSSSHARD /);
});
