/**
 * Downstream and upstream authentication through the proxy, against real redis-servers
 * (some with --requirepass / ACL users), with ioredis and raw RESP clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedis, startRedisMany } from '../helpers/servers.js';
import { parseProxyConfigText, startRedisProxy, type RedisProxy } from '../../src/redis/index.js';
import { raw, waitFor } from './governance-helpers.js';

async function proxyWith(t: { after(fn: () => unknown): void }, backends: string[], governance: Record<string, unknown>): Promise<{ proxy: RedisProxy; port: number }> {
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends, governance });
  t.after(() => proxy.close(0));
  return { proxy, port: proxy.address().port };
}

test('downstream auth: NOAUTH before AUTH, WRONGPASS, password and ACL-style users, HELLO AUTH', async (t) => {
  const [a, b] = await startRedisMany(2, t);
  const { port, proxy } = await proxyWith(t, [a.address, b.address], {
    auth: { users: [{ username: 'default', password: 'sekrit' }, { username: 'svc-a', password: 'pa' }] },
  });
  const r1 = await raw(port, [['GET', 'k'], ['PING'], ['AUTH', 'nope'], ['AUTH', 'sekrit'], ['SET', 'k', 'v'], ['GET', 'k']]);
  assert.deepEqual(r1, [
    '-NOAUTH Authentication required.', '-NOAUTH Authentication required.',
    '-WRONGPASS invalid username-password pair or user is disabled.', '+OK', '+OK', 'v',
  ]);
  const r2 = await raw(port, [['AUTH', 'svc-a', 'sekrit'], ['AUTH', 'svc-a', 'pa'], ['GET', 'k'], ['QUIT']]);
  assert.deepEqual(r2, ['-WRONGPASS invalid username-password pair or user is disabled.', '+OK', 'v', '+OK']);
  const r3 = await raw(port, [['HELLO', '2'], ['HELLO', '2', 'AUTH', 'svc-a', 'bad']]);
  assert.match(r3[0], /^-NOAUTH HELLO must be called/);
  assert.equal(r3[1], '-WRONGPASS invalid username-password pair or user is disabled.');

  // ioredis with username/password (it sends AUTH user pass, then commands).
  const c = new Redis({ port, host: '127.0.0.1', username: 'svc-a', password: 'pa', lazyConnect: true, maxRetriesPerRequest: 0 });
  t.after(() => c.disconnect());
  await c.connect();
  await c.set('x', '1');
  assert.equal(await c.get('x'), '1');
  // Wrong password via ioredis: the connection errors with Redis' text.
  const bad = new Redis({ port, host: '127.0.0.1', password: 'not-the-password-xyz', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  const errors: string[] = [];
  bad.on('error', (e: Error) => errors.push(e.message));
  t.after(() => bad.disconnect());
  await bad.connect().catch(() => {});
  await waitFor(() => errors.length > 0);
  assert.match(errors[0], /WRONGPASS/);

  const st = proxy.stats().governance!;
  assert.ok((st.rejected.noauth ?? 0) >= 3);
  assert.ok((st.rejected.wrongpass ?? 0) >= 3);
  // Credentials never appear in stats.
  assert.doesNotMatch(JSON.stringify(proxy.stats()), /sekrit|"pa"|not-the-password-xyz/);
});

test('per-user permissions: read-only users cannot write, key prefixes are enforced', async (t) => {
  const [a, b] = await startRedisMany(2, t);
  const { port } = await proxyWith(t, [a.address, b.address], {
    auth: { users: [
      { username: 'admin', password: 'a' },
      { username: 'reader', password: 'r', read_only: true },
      { username: 'reports', password: 'p', key_prefixes: ['report:'] },
    ] },
  });
  await raw(port, [['AUTH', 'admin', 'a'], ['SET', 'report:1', 'x'], ['SET', 'other', 'y']]);
  const r = await raw(port, [['AUTH', 'reader', 'r'], ['GET', 'other'], ['SET', 'other', 'z'], ['DEL', 'other'], ['FLUSHALL'], ['CONFIG', 'SET', 'maxmemory', '1']]);
  assert.deepEqual(r.slice(0, 2), ['+OK', 'y']);
  assert.equal(r[2], "-NOPERM User reader has no permissions to run the 'set' command");
  assert.equal(r[3], "-NOPERM User reader has no permissions to run the 'del' command");
  assert.match(r[4], /^-NOPERM User reader has no permissions to run the 'flushall' command/);
  assert.match(r[5], /^-NOPERM .*'config\|set'/);
  const p = await raw(port, [['AUTH', 'reports', 'p'], ['GET', 'report:1'], ['GET', 'other'], ['MSET', 'report:2', 'a', 'x', 'b'], ['SET', 'report:2', 'ok'], ['KEYS', '*']]);
  assert.deepEqual(p.slice(0, 2), ['+OK', 'x']);
  assert.equal(p[2], '-NOPERM this user has no permissions to access one of the keys used as arguments');
  assert.equal(p[3], '-NOPERM this user has no permissions to access one of the keys used as arguments');
  assert.equal(p[4], '+OK');
  assert.match(p[5], /^-NOPERM User reports has no permissions to run the 'keys' command/);
  const check = await raw(port, [['AUTH', 'admin', 'a'], ['GET', 'other'], ['GET', 'report:2']]);
  assert.deepEqual(check, ['+OK', 'y', 'ok']);
});

test('upstream auth: password and ACL user per pool, per-backend override; a wrong one is reported unhealthy without leaking it', async (t) => {
  const a = await startRedis(t, { args: ['--requirepass', 'pool-pass'] });
  const b = await startRedis(t, { args: ['--user', 'proxy', 'on', '>acl-pass', '~*', '&*', '+@all', '--user', 'default', 'off'] });
  const { port, proxy } = await proxyWith(t, [a.address, b.address], {
    upstream_auth: { password: 'pool-pass', backends: { [b.address]: { username: 'proxy', password: 'acl-pass' } } },
  });
  const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  t.after(() => c.disconnect());
  await c.connect();
  // fnv1a_64 barely mixes a key's last bytes, so the varying part goes first: the keys then
  // spread over both backends whatever ports they got.
  const keys = Array.from({ length: 40 }, (_, i) => `${i}:k`);
  for (let i = 0; i < keys.length; i++) await c.set(keys[i], String(i));
  const vals = await c.mget(...keys);
  assert.deepEqual(vals, keys.map((_, i) => String(i)));
  const directA = new Redis({ port: a.port, password: 'pool-pass', lazyConnect: true });
  const directB = new Redis({ port: b.port, username: 'proxy', password: 'acl-pass', lazyConnect: true });
  await directA.connect();
  await directB.connect();
  const [onA, onB] = [await directA.dbsize(), await directB.dbsize()];
  directA.disconnect();
  directB.disconnect();
  assert.equal(onA + onB, keys.length);
  assert.ok(onA > 0 && onB > 0, `keys on a: ${onA}, on b: ${onB}`);

  // A backend whose password does not match: requests fail with a clear error, the backend is unhealthy.
  const bad = await startRedis(t, { args: ['--requirepass', 'other'] });
  const { port: p2, proxy: proxy2 } = await proxyWith(t, [bad.address], { upstream_auth: { password: 'pool-pass' } });
  const c2 = new Redis({ port: p2, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, enableReadyCheck: false });
  t.after(() => c2.disconnect());
  await c2.connect();
  await assert.rejects(c2.get('k'), /rejected the proxy's credentials \(WRONGPASS|unhealthy|unavailable/);
  await waitFor(() => proxy2.stats().governance!.backends[0].healthy === false);
  const st = proxy2.stats().governance!.backends[0];
  assert.ok(st.auth_failures >= 1);
  assert.match(st.reason, /upstream auth rejected/);
  assert.match(st.last_auth_error, /WRONGPASS/);
  assert.doesNotMatch(JSON.stringify(proxy2.stats()) + JSON.stringify(proxy.stats()), /pool-pass|acl-pass/);
  await assert.rejects(c2.get('k'), /unhealthy \(upstream auth rejected: WRONGPASS invalid username-password pair/);
});

test("twemproxy's redis_auth: clients AUTH with it and the proxy sends it to every server", async (t) => {
  const [a, b] = await startRedisMany(2, t, { args: ['--requirepass', 'twem-pass'] });
  const cfg = parseProxyConfigText(`alpha:\n  listen: 127.0.0.1:0\n  redis: true\n  redis_auth: twem-pass\n  servers:\n    - ${a.address}:1\n    - ${b.address}:1\n`);
  const proxy = await startRedisProxy(cfg.pools[0]);
  t.after(() => proxy.close(0));
  const r = await raw(proxy.address().port, [['SET', 'k', 'v'], ['AUTH', 'twem-pass'], ['SET', 'k', 'v'], ['GET', 'k']]);
  assert.deepEqual(r, ['-NOAUTH Authentication required.', '+OK', '+OK', 'v']);
});
