/**
 * Prefix routing (Envoy prefix_routes) against real servers: the longest matching prefix picks
 * the route's backends, placed by their own twemproxy-compatible ring; other keys go to the
 * pool's own backends (catch-all); multi-key commands split across routes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedisMany } from '../helpers/servers.js';
import { startRedisProxy, parseProxyConfigText } from '../../src/redis/index.js';
import { createDistributor } from '../../src/sharding/index.js';

test('longest prefix picks the route; unmatched keys use the pool backends; placement per route is twemproxy ketama', async (t) => {
  const [own, b1, b2, admin] = await startRedisMany(4, t);
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: [own.address],
    governance: { prefix_routes: { case_insensitive: true, routes: [
      { prefix: 'session:', backends: [b1.address, b2.address] },
      { prefix: 'session:admin:', backends: [admin.address] },
    ] } },
  });
  t.after(() => proxy.close(0));
  const c = new Redis({ port: proxy.address().port, lazyConnect: true });
  await c.connect();
  t.after(() => c.disconnect());
  const direct = await Promise.all([own, b1, b2, admin].map(async (s) => {
    const r = new Redis({ port: s.port, lazyConnect: true });
    await r.connect();
    t.after(() => r.disconnect());
    return r;
  }));
  const sessionKeys = Array.from({ length: 40 }, (_, i) => `session:${i}:data`);
  for (const k of sessionKeys) await c.set(k, 'x');
  for (let i = 0; i < 10; i++) await c.set(`user:${i}`, 'u');
  await c.set('SESSION:ADMIN:root', 'a'); // case-insensitive match
  await c.mset('session:admin:1', '1', 'user:x', '2', 'session:7:data', '3');
  assert.deepEqual(await c.mget('session:admin:1', 'user:x', 'session:7:data'), ['1', '2', '3']);

  assert.equal(await direct[0].dbsize(), 11, 'user:* (and nothing else) on the catch-all backend');
  assert.equal(await direct[3].dbsize(), 2, 'session:admin:* on the admin route (longest prefix wins)');
  assert.equal((await direct[1].dbsize()) + (await direct[2].dbsize()), 40);
  // The session route places keys exactly as a twemproxy ketama ring over its two backends.
  const ring = createDistributor({ distribution: 'ketama', hash: 'fnv1a_64', servers: [b1, b2].map((s) => ({ host: s.host, port: s.port, weight: 1 })) });
  for (const k of sessionKeys) {
    const want = ring.serverFor(Buffer.from(k));
    assert.equal(await direct[1 + want].exists(k), 1, `${k} on backend ${want}`);
  }
});

test('prefix_routes config: clear errors', () => {
  assert.throws(() => parseProxyConfigText('backends: [127.0.0.1:7001]\nprefix_routes:\n  routes:\n    - { prefix: "a:", backends: [127.0.0.1:7002], remove_prefix: 1 }\n'), /prefix_routes\.routes\[0\]\.remove_prefix/);
  assert.throws(() => parseProxyConfigText('backends: [127.0.0.1:7001]\nprefix_routes:\n  routes:\n    - { prefix: "a:", backends: [127.0.0.1:7001] }\n'), /duplicate backend "127\.0\.0\.1:7001"/);
  assert.throws(() => parseProxyConfigText('backends: [127.0.0.1:7001]\nprefix_routes:\n  routes:\n    - { prefix: "a:", backends: ["nope"] }\n'), /prefix_routes\.routes\[0\]\.backends\[0\]: expected host:port/);
  const cfg = parseProxyConfigText('backends: [127.0.0.1:7001]\nprefix_routes:\n  routes:\n    - { prefix: "a:", backends: [127.0.0.1:7002, 127.0.0.1:7003] }\n');
  assert.equal(cfg.pools[0].backends.length, 3);
  assert.equal(cfg.pools[0].governance!.prefixRoutes!.routes[0].start, 1);
});

test('remove_prefix: the backend sees the key without the prefix, placed by the stripped key', async (t) => {
  const [own, r1, r2] = await startRedisMany(3, t);
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: [own.address],
    governance: { prefix_routes: { routes: [{ prefix: 'tenant-a/', remove_prefix: true, backends: [r1.address, r2.address] }] } },
  });
  t.after(() => proxy.close(0));
  const c = new Redis({ port: proxy.address().port, lazyConnect: true, maxRetriesPerRequest: 0 });
  await c.connect();
  t.after(() => c.disconnect());
  const direct = await Promise.all([r1, r2].map(async (s) => { const r = new Redis({ port: s.port, lazyConnect: true }); await r.connect(); t.after(() => r.disconnect()); return r; }));
  const ring = createDistributor({ distribution: 'ketama', hash: 'fnv1a_64', servers: [r1, r2].map((s) => ({ host: s.host, port: s.port, weight: 1 })) });
  for (let i = 0; i < 20; i++) {
    const k = `${i}:user`;
    assert.equal(await c.set(`tenant-a/${k}`, String(i)), 'OK');
    assert.equal(await c.get(`tenant-a/${k}`), String(i));
    assert.equal(await direct[ring.serverFor(Buffer.from(k))].get(k), String(i), 'stored without the prefix, on the stripped key\'s backend');
  }
  assert.equal(await c.set('plain', 'x'), 'OK');
  assert.equal(await c.exists('tenant-a/0:user', 'tenant-a/0:user'), 2, 'multi-key on one backend');
  const on = (b: number) => Array.from({ length: 20 }, (_, i) => `${i}:user`).find((k) => ring.serverFor(Buffer.from(k)) === b)!;
  await assert.rejects(c.mget(`tenant-a/${on(0)}`, `tenant-a/${on(1)}`), /CROSSSHARD keys of a remove_prefix route/);
});
