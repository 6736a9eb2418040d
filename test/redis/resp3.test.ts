import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startRedisMany } from '../helpers/servers.js';
import { startRedisProxy } from '../../src/redis/index.js';
import { RawClient, type Plain } from './client-commands-raw.js';

/** Lines whose RESP3 reply must be the same through the proxy as from Redis itself. */
const LINES: string[][] = [
  ['HSET', 'h', 'f1', 'v1', 'f2', 'v2'], ['HGETALL', 'h'], ['HGETALL', 'nokey'],
  ['SADD', 's', 'a'], ['SMEMBERS', 's'], ['SMEMBERS', 'nokey'], ['SADD', '{s}1', 'x'], ['SADD', '{s}2', 'x'], ['SINTER', '{s}1', '{s}2'], ['SUNION', '{s}1', '{s}2'],
  ['ZADD', 'z', '1.5', 'a', '2', 'b', '3', 'c'], ['ZSCORE', 'z', 'a'], ['ZSCORE', 'z', 'nope'], ['ZINCRBY', 'z', '1', 'a'],
  ['ZMSCORE', 'z', 'a', 'nope'], ['ZRANGE', 'z', '0', '-1', 'WITHSCORES'], ['ZRANGE', 'z', '0', '-1'],
  ['ZRANGEBYSCORE', 'z', '-inf', '+inf', 'WITHSCORES'], ['ZREVRANGE', 'z', '0', '1', 'WITHSCORES'], ['ZADD', 'z', 'INCR', '1', 'c'],
  ['ZPOPMIN', 'z'], ['ZPOPMAX', 'z', '1'], ['ZADD', 'z2', '5', 'm'], ['BZPOPMIN', 'z2', '1'], ['ZADD', 'z3', '1', 'q'], ['ZMPOP', '1', 'z3', 'MIN'],
  ['GET', 'nokey'], ['SET', 'k', 'v'], ['MGET', 'k', 'nokey'], ['LPOS', 'nolist', 'x'], ['CONFIG', 'GET', 'maxmemory'],
  ['INCRBYFLOAT', 'f', '1.5'], ['EXISTS', 'k'], ['TTL', 'k'], ['LRANGE', 'nokey', '0', '-1'], ['BLPOP', 'nolist', '0.05'],
  ['XADD', 'st', '1-0', 'f', 'v'], ['XREAD', 'STREAMS', 'st', '0'], ['XINFO', 'STREAM', 'st'], ['XGROUP', 'CREATE', 'st', 'g', '0'],
  ['XINFO', 'GROUPS', 'st'], ['XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', 'st', '>'], ['XREAD', 'BLOCK', '10', 'STREAMS', 'st', '$'],
  ['GEOADD', 'geo', '13.361389', '38.115556', 'Palermo', '15.087269', '37.502669', 'Catania'], ['GEOPOS', 'geo', 'Palermo', 'nowhere'],
  ['GEOSEARCH', 'geo', 'FROMMEMBER', 'Palermo', 'BYRADIUS', '200', 'km', 'WITHDIST', 'WITHCOORD', 'ASC'],
  // EXEC's elements are shaped like their commands' replies.
  ['HSET', '{m}h', 'a', '1'], ['SADD', '{m}s', 'x'], ['ZADD', '{m}z', '1', 'a'],
  ['MULTI'], ['HGETALL', '{m}h'], ['SMEMBERS', '{m}s'], ['ZSCORE', '{m}z', 'a'], ['GET', '{m}none'], ['ZRANGE', '{m}z', '0', '-1', 'WITHSCORES'], ['EXEC'],
];

async function run(port: number, lines: string[][]): Promise<Plain[]> {
  const c = await RawClient.connect(port);
  try {
    const hello = await c.call('HELLO', '3');
    assert.ok(typeof hello === 'object' && hello !== null && 'map' in hello, JSON.stringify(hello));
    const out: Plain[] = [];
    for (const l of lines) out.push(await c.call(...l));
    return out;
  } finally {
    c.close();
  }
}

test('RESP3 end to end: HELLO 3, replies shaped like Redis\' RESP3 replies', async (t) => {
  const direct = await startRedis(t);
  const backends = await startRedisMany(2, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address), hashTag: '{}' });
  t.after(() => proxy.close(100));
  const want = await run(direct.port, LINES);
  const got = await run(proxy.address().port, LINES);
  // INFO is a verbatim string in RESP3, as from Redis.
  const ic = await RawClient.connect(proxy.address().port);
  await ic.call('HELLO', '3');
  ic.write('INFO', 'server');
  assert.equal((await ic.nextRaw()).type, 'verbatim');
  ic.close();
  for (let i = 0; i < LINES.length; i++) assert.deepEqual(got[i], want[i], `${LINES[i].join(' ')}`);

  // HELLO: the server map, protocol switches back with HELLO 2, SETNAME, bad versions.
  const c = await RawClient.connect(proxy.address().port);
  t.after(() => c.close());
  const h = await c.call('HELLO', '3', 'SETNAME', 'svc') as { map: Array<[Plain, Plain]> };
  const m = Object.fromEntries(h.map);
  assert.equal(m.proto, 3);
  assert.equal(m.server, 'redis');
  assert.equal(m.id, await c.call('CLIENT', 'ID'));
  assert.equal(await c.call('CLIENT', 'GETNAME'), 'svc');
  assert.deepEqual(await c.call('HGETALL', 'x'), { map: [] });
  const h2 = await c.call('HELLO', '2') as Plain[];
  assert.ok(Array.isArray(h2) && h2.includes('proto'));
  assert.deepEqual(await c.call('HGETALL', 'x'), []);
  assert.deepEqual(await c.call('HELLO', '4'), { error: 'NOPROTO unsupported protocol version' });
});

test('redis-cli -3 against the proxy', async (t) => {
  const backends = await startRedisMany(2, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address) });
  t.after(() => proxy.close(100));
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  // async: the proxy runs in this process
  const cli = async (...args: string[]) => (await promisify(execFile)('redis-cli', ['-3', '-p', String(proxy.address().port), ...args], { encoding: 'utf8' })).stdout;
  await cli('HSET', 'h', 'a', '1');
  assert.equal((await cli('HGETALL', 'h')).trim(), 'a 1'); // a map (an array prints on two lines)
  await cli('ZADD', 'z', '2.5', 'm');
  assert.equal((await cli('ZSCORE', 'z', 'm')).trim(), '2.5');
});

test('HELLO 3 AUTH with downstream auth configured (governance) switches to RESP3', async (t) => {
  const backends = await startRedisMany(2, t);
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: backends.map((b) => b.address),
    governance: { auth: { users: [{ username: 'svc', password: 'pw' }] } },
  } as Parameters<typeof startRedisProxy>[0]);
  t.after(() => proxy.close(100));
  const c = await RawClient.connect(proxy.address().port);
  t.after(() => c.close());
  assert.match((await c.call('HELLO', '3') as { error: string }).error, /^NOAUTH/);
  assert.deepEqual(await c.call('HELLO', '3', 'AUTH', 'svc', 'nope'), { error: 'WRONGPASS invalid username-password pair or user is disabled.' });
  const h = await c.call('HELLO', '3', 'AUTH', 'svc', 'pw', 'SETNAME', 'n1') as { map: Array<[Plain, Plain]> };
  assert.equal(Object.fromEntries(h.map).proto, 3);
  await c.call('HSET', 'h', 'a', 'b');
  assert.deepEqual(await c.call('HGETALL', 'h'), { map: [['a', 'b']] });
  assert.equal(await c.call('CLIENT', 'GETNAME'), 'n1');
});
