/**
 * Routing through the proxy against real redis-servers: keys land where the sharding library
 * says, multi-key commands split per shard and merge in the client's order, whole-keyspace
 * commands fan out, and atomic commands across shards are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { keysPerShard, proxyFixture } from './proxy-helpers.js';

test('single-key commands land on the backend the ring picks (ketama, fnv1a_64, hash tag)', async (t) => {
  const f = await proxyFixture(t, 3, { hashTag: '{}' });
  const c = f.client();
  const keys = Array.from({ length: 300 }, (_, i) => (i % 5 === 0 ? `{user${i % 7}}:k${i}` : `${i}:key`));
  await Promise.all(keys.map((k) => c.set(k, `v-${k}`)));
  const counts = [0, 0, 0];
  for (const k of keys) {
    const s = f.shardOf(k);
    counts[s]++;
    assert.equal(await f.direct(s).get(k), `v-${k}`, `${k} should be on backend ${s}`);
    for (let o = 0; o < 3; o++) if (o !== s) assert.equal(await f.direct(o).exists(k), 0, `${k} must not be on backend ${o}`);
  }
  // Placement depends on the (random) ports in the ring; only require that it is not degenerate.
  assert.ok(counts.filter((n) => n > 0).length >= 2, `keys spread over shards: ${counts}`);
  // Keys sharing a hash tag share a backend, so multi-key atomic commands on them work.
  await c.sadd('{grp}:a', 'x', 'y');
  assert.equal(await c.smove('{grp}:a', '{grp}:b', 'x'), 1);
  assert.deepEqual(await c.smembers('{grp}:b'), ['x']);
});

test('MGET/MSET/DEL/UNLINK/EXISTS/TOUCH: one sub-command per shard, merged in the client order', async (t) => {
  const f = await proxyFixture(t, 3);
  const c = f.client();
  const [a, b, d] = keysPerShard(f, 'mk', 3);
  const keys = [a[0], b[0], d[0], a[1], b[1], d[1], a[2], b[2], d[2]];
  const before = f.proxy.stats().splitter.fragments;
  assert.equal(await c.mset(...keys.flatMap((k) => [k, `val-${k}`])), 'OK');
  assert.equal(f.proxy.stats().splitter.fragments - before, 3, 'MSET of 9 keys on 3 shards is 3 fragments, not 9');
  for (const k of keys) assert.equal(await f.direct(f.shardOf(k)).get(k), `val-${k}`);

  const asked = [d[2], 'missing:1', a[0], b[1], a[0], 'missing:2', d[0]];
  assert.deepEqual(await c.mget(...asked), asked.map((k) => (k.startsWith('missing') ? null : `val-${k}`)));
  assert.equal(await c.exists(a[0], a[0], b[0], 'missing:1', d[1]), 4, 'EXISTS counts repeated keys, like Redis');
  assert.equal(await c.touch(a[1], b[1], d[1], 'missing:3'), 3);
  assert.equal(await c.del(a[0], b[0], 'missing:1', d[0]), 3);
  assert.equal(await c.unlink(a[1], b[1], d[1], a[1]), 3);
  assert.deepEqual(await c.mget(a[0], b[1], a[2]), [null, null, `val-${a[2]}`]);
  // Wrong argument counts are Redis' own errors, before any splitting.
  await assert.rejects(c.call('mset', a[0], 'v', b[0]), /ERR wrong number of arguments for 'mset' command/);
  // A backend error on one shard (WRONGTYPE is per key, so use a list) passes through unchanged.
  await c.rpush('a-list', 'x');
  await assert.rejects(c.call('incr', 'a-list'), /^ReplyError: WRONGTYPE Operation against a key holding the wrong kind of value/);
});

test('atomic commands with keys on different shards get CROSSSHARD; same shard works', async (t) => {
  const f = await proxyFixture(t, 3);
  const c = f.client();
  const [a, b] = keysPerShard(f, 'x', 3);
  await c.set(a[0], '1');
  await c.sadd(a[1], 'm');
  for (const cmd of [
    ['rename', a[0], b[0]], ['smove', a[1], b[1], 'm'], ['rpoplpush', a[0], b[0]], ['msetnx', a[0], '1', b[0], '2'],
    ['sunionstore', a[0], a[1], b[1]], ['eval', "return redis.call('get', KEYS[1])", '2', a[0], b[0]],
  ]) {
    await assert.rejects(c.call(cmd[0], ...cmd.slice(1)), /^ReplyError: CROSSSHARD Keys in request don't hash to the same shard/, cmd.join(' '));
  }
  assert.equal(await c.get(a[0]), '1', 'nothing ran');
  assert.ok(f.proxy.stats().splitter.cross_shard >= 6);
  // Same shard: executed by Redis.
  assert.equal(await c.rename(a[0], a[2]), 'OK');
  assert.equal(await c.call('eval', "return redis.call('get', KEYS[1])", '1', a[2]), '1');
  // EVAL with 0 keys goes to the first live backend.
  assert.equal(await c.call('eval', 'return 40 + 2', '0'), 42);
});

test('whole-keyspace commands fan out and merge', async (t) => {
  const f = await proxyFixture(t, 3);
  const c = f.client();
  const per = keysPerShard(f, 'fan', 4);
  const all = per.flat();
  await c.mset(...all.flatMap((k) => [k, '1']));
  await c.expire(per[0][0], 1000);
  assert.equal(await c.dbsize(), 12);
  assert.deepEqual((await c.keys('fan*')).sort(), [...all].sort());
  assert.ok(all.includes((await c.randomkey())!));

  const info = await c.info();
  assert.match(info, /^db0:keys=12,expires=1,/m, 'keyspace summed over shards');
  assert.match(info, /^# Proxy$/m);
  assert.match(info, /^backends_connected:3$/m);
  assert.match(info, /^redis_version:/m);

  assert.equal(await c.config('SET', 'maxmemory-policy', 'allkeys-lru'), 'OK');
  for (let i = 0; i < 3; i++) assert.deepEqual(await f.direct(i).config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lru']);
  assert.deepEqual(await c.config('GET', 'maxmemory-policy'), ['maxmemory-policy', 'allkeys-lru']);

  const sha = (await c.script('LOAD', "return redis.call('get', KEYS[1])")) as string;
  for (const k of [per[0][0], per[1][0], per[2][0]]) assert.equal(await c.evalsha(sha, 1, k), '1', `script on shard of ${k}`);
  assert.deepEqual(await c.script('EXISTS', sha, 'ffffffffffffffffffffffffffffffffffffffff'), [1, 0]);

  const [sec] = (await c.time()) as unknown as string[];
  assert.ok(Math.abs(Number(sec) - Date.now() / 1000) < 60);

  assert.equal(await c.flushdb(), 'OK');
  assert.equal(await c.dbsize(), 0);
  for (let i = 0; i < 3; i++) assert.equal(await f.direct(i).dbsize(), 0);
  assert.equal(await c.randomkey(), null);
});
