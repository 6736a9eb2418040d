import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedisMany } from '../helpers/servers.js';
import { startRedisProxy } from '../../src/redis/index.js';
import { decodeCursor, encodeCursor } from '../../src/redis/scan/scan.js';
import { mergeInfo } from '../../src/redis/info-merge.js';
import { RawClient } from './client-commands-raw.js';

test('scan cursors encode shard and shard cursor as a decimal uint64', () => {
  assert.deepEqual(decodeCursor('0', 4), [0, 0n]);
  assert.deepEqual(decodeCursor('7', 4), [3, 1n]);
  assert.equal(encodeCursor(3, 1n, 4), '7');
  assert.equal(encodeCursor(1, 0n, 4), '2'); // shard 1 done: shard 2 from its start
  assert.equal(encodeCursor(3, 0n, 4), '0'); // last shard done: complete
  assert.equal(decodeCursor('18446744073709551615', 4)![0], 3);
  assert.equal(decodeCursor('18446744073709551616', 4), null);
  assert.equal(decodeCursor('-1', 4), null);
  assert.equal(decodeCursor('abc', 4), null);
  assert.equal(encodeCursor(0, 1n << 63n, 4), null);
});

test('INFO keyspace merge: counts summed, avg_ttl weighted by expires', () => {
  const merged = mergeInfo([
    '# Keyspace\r\ndb0:keys=10,expires=1,avg_ttl=1000\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n',
    '# Keyspace\r\ndb0:keys=5,expires=3,avg_ttl=3000\r\n',
    '# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\ndb2:keys=2,expires=2,avg_ttl=10\r\n',
  ], '');
  assert.match(merged, /^db0:keys=16,expires=4,avg_ttl=2500\r$/m);
  assert.match(merged, /^db1:keys=1,expires=0,avg_ttl=0\r$/m);
  assert.match(merged, /^db2:keys=2,expires=2,avg_ttl=10\r$/m);
});

test('full SCAN over 10 000 keys on 4 shards while keys are added returns every key present throughout', async (t) => {
  const backends = await startRedisMany(4, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address) });
  t.after(() => proxy.close(100));
  const { port } = proxy.address();
  const c = new Redis({ port, host: '127.0.0.1' });
  const writer = new Redis({ port, host: '127.0.0.1' });
  t.after(() => { c.disconnect(); writer.disconnect(); });
  const initial: string[] = [];
  for (let i = 0; i < 10_000; i++) initial.push(`key:${i}`);
  for (let i = 0; i < initial.length; i += 1000) {
    await c.mset(...initial.slice(i, i + 1000).flatMap((k) => [k, 'v']));
  }
  // Every shard got keys.
  for (const b of backends) {
    const d = new Redis({ port: b.port, host: '127.0.0.1' });
    assert.ok((await d.dbsize()) > 1000);
    d.disconnect();
  }
  // Keys keep being added (which also makes the backends' tables grow and rehash) during the scan.
  let adding = true;
  let added = 0;
  const adder = (async () => {
    while (adding) { await writer.set(`new:${added++}`, 'v'); }
  })();
  const seen = new Set<string>();
  let cursor = '0';
  let calls = 0;
  do {
    const [next, keys] = await c.scan(cursor, 'COUNT', 50);
    for (const k of keys) seen.add(k);
    assert.match(next, /^\d+$/);
    cursor = next;
    calls++;
  } while (cursor !== '0');
  adding = false;
  await adder;
  for (const k of initial) assert.ok(seen.has(k), `missing ${k}`);
  assert.ok(added > 0 && calls > 4);

  // MATCH, COUNT and TYPE pass through.
  await c.rpush('list:1', 'x');
  const matched = new Set<string>();
  let cur = '0';
  do {
    const [next, keys] = await c.scan(cur, 'MATCH', 'key:99*', 'COUNT', 1000);
    keys.forEach((k) => matched.add(k));
    cur = next;
  } while (cur !== '0');
  assert.deepEqual([...matched].sort(), initial.filter((k) => k.startsWith('key:99')).sort());
  const lists: string[] = [];
  cur = '0';
  do {
    const [next, keys] = await c.scan(cur, 'COUNT', 1000, 'TYPE', 'list');
    lists.push(...keys);
    cur = next;
  } while (cur !== '0');
  assert.deepEqual(lists, ['list:1']);

  const raw = await RawClient.connect(port);
  t.after(() => raw.close());
  assert.deepEqual(await raw.call('SCAN', 'nope'), { error: 'ERR invalid cursor' });
  // INFO keyspace summed across shards.
  const total = Number(await c.dbsize());
  await c.expire('key:1', 1000);
  await c.expire('key:2', 1000);
  const info = await c.info('keyspace');
  const m = /^db0:keys=(\d+),expires=(\d+),avg_ttl=\d+/m.exec(info);
  assert.ok(m, info);
  assert.equal(Number(m[1]), total);
  assert.equal(Number(m[2]), 2);
});
