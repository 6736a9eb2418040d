import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedisMany } from '../helpers/servers.js';
import { startRedisProxy } from '../../src/redis/index.js';
import { RawClient, waitFor } from './client-commands-raw.js';

/** n backends behind one proxy, closed after the test; connect() opens a raw client closed likewise. */
async function proxyOver(n: number, t: import('node:test').TestContext) {
  const backends = await startRedisMany(n, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address) });
  t.after(() => proxy.close(100));
  const connect = async (): Promise<RawClient> => {
    const c = await RawClient.connect(proxy.address().port);
    t.after(() => c.close());
    return c;
  };
  return { backends, proxy, connect };
}

test('pub/sub across two proxy instances in front of the same backends', async (t) => {
  const backends = await startRedisMany(3, t);
  const opts = { listen: '127.0.0.1:0', backends: backends.map((b) => b.address), hashTag: '{}' };
  const p1 = await startRedisProxy(opts);
  const p2 = await startRedisProxy(opts);
  t.after(() => Promise.all([p1.close(100), p2.close(100)]));
  const c1 = await RawClient.connect(p1.address().port);
  const c2 = await RawClient.connect(p2.address().port);
  const c3 = await RawClient.connect(p2.address().port);
  const c4 = await RawClient.connect(p1.address().port);
  const pub1 = await RawClient.connect(p1.address().port);
  const pub2 = await RawClient.connect(p2.address().port);
  t.after(() => [c1, c2, c3, c4, pub1, pub2].forEach((c) => c.close()));

  assert.deepEqual(await c1.call('SUBSCRIBE', 'news', 'sport'), ['subscribe', 'news', 1]);
  assert.deepEqual(await c1.next(), ['subscribe', 'sport', 2]);
  assert.deepEqual(await c2.call('SUBSCRIBE', 'news'), ['subscribe', 'news', 1]);
  assert.deepEqual(await c3.call('PSUBSCRIBE', 'n*'), ['psubscribe', 'n*', 1]);
  assert.deepEqual(await c4.call('SSUBSCRIBE', '{s}ch'), ['ssubscribe', '{s}ch', 1]);

  assert.equal(p1.stats().features.pubsub_channels, 2); // news, sport
  assert.equal(p1.stats().features.pubsub_shard_channels, 1);
  assert.equal(p2.stats().features.pubsub_patterns, 1);
  assert.match(await pub1.call('INFO', 'proxy') as string, /^pubsub_channels:2\r?$/m);

  // Published through either proxy, heard by subscribers of both.
  assert.ok((await pub1.call('PUBLISH', 'news', 'hello')) as number >= 2);
  assert.deepEqual(await c1.next(), ['message', 'news', 'hello']);
  assert.deepEqual(await c2.next(), ['message', 'news', 'hello']);
  assert.deepEqual(await c3.next(), ['pmessage', 'n*', 'news', 'hello']);
  await pub2.call('PUBLISH', 'sport', 'goal');
  assert.deepEqual(await c1.next(), ['message', 'sport', 'goal']);
  // Patterns hear channels on every backend.
  const names: string[] = [];
  const shards = new Set<number>();
  for (let i = 0; shards.size < 3 || names.length < 12; i++) {
    const ch = `n:${i}`;
    names.push(ch);
    shards.add(p2.features.router.shardOf(Buffer.from(ch), 0, ch.length));
  }
  for (const ch of names) await pub2.call('PUBLISH', ch, ch);
  for (const ch of names) assert.deepEqual(await c3.next(), ['pmessage', 'n*', ch, ch]);
  assert.equal(await pub2.call('SPUBLISH', '{s}ch', 'sharded'), 1);
  assert.deepEqual(await c4.next(), ['smessage', '{s}ch', 'sharded']);

  // Subscribed RESP2 clients may PING, and only (un)subscribe/PING/QUIT/RESET.
  assert.deepEqual(await c1.call('PING'), ['pong', '']);
  assert.deepEqual(await c1.call('PING', 'x'), ['pong', 'x']);
  assert.deepEqual(await c1.call('GET', 'k'), { error: "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context" });

  // PUBSUB introspection merged across backends (counts are subscriber connections: one per proxy).
  assert.deepEqual((await pub1.call('PUBSUB', 'CHANNELS') as string[]).sort(), ['news', 'sport']);
  assert.deepEqual(await pub1.call('PUBSUB', 'NUMSUB', 'news', 'sport', 'none'), ['news', 2, 'sport', 1, 'none', 0]);
  assert.equal(await pub1.call('PUBSUB', 'NUMPAT'), 1);
  assert.deepEqual(await pub2.call('PUBSUB', 'SHARDCHANNELS'), ['{s}ch']);

  // Unsubscribing: counts go down, messages stop, the subscription leaves the backend with the last client.
  assert.deepEqual(await c1.call('UNSUBSCRIBE', 'sport'), ['unsubscribe', 'sport', 1]);
  assert.deepEqual(await c1.call('UNSUBSCRIBE'), ['unsubscribe', 'news', 0]);
  assert.deepEqual(await c1.call('UNSUBSCRIBE'), ['unsubscribe', null, 0]);
  assert.equal(await c1.call('GET', 'k'), null); // back to normal mode
  await waitFor(async () => (await pub1.call('PUBSUB', 'NUMSUB', 'sport') as unknown[])[1] === 0);
  await pub1.call('PUBLISH', 'news', 'second');
  assert.deepEqual(await c2.next(), ['message', 'news', 'second']);
  assert.deepEqual(await c3.next(), ['pmessage', 'n*', 'news', 'second']);
  assert.equal(c1.pending, 0);
  // A subscriber that disconnects is forgotten (its proxy unsubscribes upstream).
  c2.close();
  await waitFor(async () => (await pub1.call('PUBSUB', 'NUMSUB', 'news') as unknown[])[1] === 0);
  assert.deepEqual(await c3.call('PUNSUBSCRIBE'), ['punsubscribe', 'n*', 0]);
  await waitFor(async () => (await pub1.call('PUBSUB', 'NUMPAT')) === 0);
  assert.equal(await c4.call('RESET'), 'RESET');
  assert.equal(await c4.call('SET', 'after', 'reset'), 'OK');
});

test('RESP3 subscribers get push messages and may run commands while subscribed; ioredis subscribes', async (t) => {
  const backends = await startRedisMany(2, t);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: backends.map((b) => b.address) });
  t.after(() => proxy.close(100));
  const { port } = proxy.address();
  const c = await RawClient.connect(port);
  const pub = await RawClient.connect(port);
  t.after(() => { c.close(); pub.close(); });
  const hello = await c.call('HELLO', '3') as { map: Array<[string, unknown]> };
  assert.deepEqual(hello.map.find(([k]) => k === 'proto'), ['proto', 3]);
  c.write('SUBSCRIBE', 'ch');
  assert.deepEqual(await c.nextPush(), { push: ['subscribe', 'ch', 1] });
  assert.equal(await c.call('SET', 'k', 'v'), 'OK');
  assert.equal(await c.call('GET', 'k'), 'v');
  assert.equal(await c.call('PING'), 'PONG');
  await pub.call('PUBLISH', 'ch', 'm1');
  assert.deepEqual(await c.nextPush(), { push: ['message', 'ch', 'm1'] });

  const sub = new Redis({ port, host: '127.0.0.1' });
  t.after(() => sub.disconnect());
  const got: string[] = [];
  sub.on('message', (ch: string, msg: string) => got.push(`${ch}:${msg}`));
  await sub.subscribe('a', 'b');
  await pub.call('PUBLISH', 'a', '1');
  await pub.call('PUBLISH', 'b', '2');
  await waitFor(() => got.length === 2);
  assert.deepEqual(got, ['a:1', 'b:2']);
});

test('subscriptions follow a hot reload that adds a backend', async (t) => {
  const { poolFromOptions } = await import('../../src/redis/index.js');
  const backends = await startRedisMany(3, t);
  const two = backends.slice(0, 2).map((b) => b.address);
  const three = backends.map((b) => b.address);
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: two });
  const other = await startRedisProxy({ listen: '127.0.0.1:0', backends: three });
  t.after(() => Promise.all([proxy.close(100), other.close(100)]));
  const sub = await RawClient.connect(proxy.address().port);
  const pub = await RawClient.connect(other.address().port);
  t.after(() => { sub.close(); pub.close(); });
  const channels = Array.from({ length: 20 }, (_, i) => `c${i}`);
  sub.write('SUBSCRIBE', ...channels);
  for (let i = 0; i < channels.length; i++) assert.deepEqual(await sub.next(), ['subscribe', channels[i], i + 1]);
  proxy.reload(poolFromOptions({ listen: `127.0.0.1:${proxy.address().port}`, backends: three }));
  // Once re-placed, a publish through the other proxy (same three backends) reaches the subscriber.
  const direct = await Promise.all(backends.map((b) => RawClient.connect(b.port)));
  t.after(() => direct.forEach((d) => d.close()));
  const home = (ch: string) => direct[other.features.router.shardOf(Buffer.from(ch), 0, ch.length)];
  await waitFor(async () => {
    for (const ch of channels) if ((await home(ch).call('PUBSUB', 'NUMSUB', ch) as unknown[])[1] !== 1) return false;
    return true;
  });
  for (const ch of channels) assert.equal(await pub.call('PUBLISH', ch, 'after'), 1);
  for (const ch of channels) assert.deepEqual(await sub.next(), ['message', ch, 'after']);
});

test('keyspace notifications: __keyspace__ channels follow their key, __keyevent__ channels hear every backend', async (t) => {
  const { proxy, connect } = await proxyOver(3, t);
  const c = await connect();
  const sub = await connect();
  assert.equal(await c.call('CONFIG', 'SET', 'notify-keyspace-events', 'KEA'), 'OK');
  // One key per backend.
  const byShard = new Map<number, string>();
  for (let i = 0; byShard.size < 3 && i < 10_000; i++) {
    const k = `notify:${i}`;
    const sh = proxy.features.router.shardOf(Buffer.from(k), 0, k.length);
    if (!byShard.has(sh)) byShard.set(sh, k);
  }
  const keys = [...byShard.values()];
  assert.equal(keys.length, 3);
  sub.write('SUBSCRIBE', '__keyevent@0__:set', ...keys.map((k) => `__keyspace@0__:${k}`));
  for (let i = 0; i <= keys.length; i++) assert.equal((await sub.next() as unknown[])[0], 'subscribe');
  for (const k of keys) await c.call('SET', k, 'v');
  const got: string[] = [];
  for (let i = 0; i < keys.length * 2; i++) {
    const m = await sub.next() as string[];
    got.push(`${m[1]}=${m[2]}`);
  }
  for (const k of keys) {
    assert.ok(got.includes(`__keyspace@0__:${k}=set`), `keyspace ${k}`);
    assert.ok(got.includes(`__keyevent@0__:set=${k}`), `keyevent ${k}`);
  }
});

test('a lost subscriber connection is re-established and re-subscribed', async (t) => {
  const { backends, connect } = await proxyOver(2, t);
  const sub = await connect();
  const pub = await connect();
  assert.deepEqual(await sub.call('PSUBSCRIBE', 'p*'), ['psubscribe', 'p*', 1]);
  const direct = await Promise.all(backends.map((b) => RawClient.connect(b.port)));
  t.after(() => direct.forEach((d) => d.close()));
  // The backends drop the proxy's subscriber connections.
  for (const d of direct) assert.equal(await d.call('CLIENT', 'KILL', 'TYPE', 'pubsub'), 1);
  await waitFor(async () => {
    for (const d of direct) if ((await d.call('PUBSUB', 'NUMPAT')) !== 1) return false;
    return true;
  });
  await pub.call('PUBLISH', 'p1', 'back');
  assert.deepEqual(await sub.next(), ['pmessage', 'p*', 'p1', 'back']);
});

test('SUBSCRIBE to a channel whose backend is down: a clear error, and the client is not left subscribed', async (t) => {
  const { backends, proxy, connect } = await proxyOver(2, t);
  await backends[1].stop();
  let ch = 'down:0';
  for (let i = 1; proxy.features.router.shardOf(Buffer.from(ch), 0, ch.length) !== 1; i++) ch = `down:${i}`;
  const c = await connect();
  const r = await c.call('SUBSCRIBE', ch) as { error: string };
  assert.match(r.error, /^ERR backend 127\.0\.0\.1:\d+ /);
  assert.equal(proxy.stats().features.pubsub_channels, 0);
  assert.equal(await c.call('PING'), 'PONG'); // not in subscribed mode
});

test('a subscriber that stops reading is disconnected past the output limit; others keep receiving', async (t) => {
  const { proxy, connect } = await proxyOver(1, t);
  const slow = await connect();
  const fast = await connect();
  const pub = await connect();
  assert.deepEqual(await slow.call('SUBSCRIBE', 'big'), ['subscribe', 'big', 1]);
  assert.deepEqual(await fast.call('SUBSCRIBE', 'big'), ['subscribe', 'big', 1]);
  slow.sock.pause();
  const payload = Buffer.alloc(1024 * 1024, 120);
  for (let i = 0; i < 60; i++) {
    await pub.call('PUBLISH', 'big', payload);
    assert.deepEqual(((await fast.next()) as string[]).slice(0, 2), ['message', 'big']);
  }
  assert.equal(proxy.stats().features.pubsub_slow_clients_closed, 1);
  assert.deepEqual(await fast.call('PING'), ['pong', '']);
});
