/**
 * Health: active checks (PING, EXISTS drain key) with thresholds, passive outlier detection
 * with growing ejection times, auto_eject_hosts ring rebuild vs fail-fast — against real
 * redis-servers that are killed under load and restarted on the same port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { RedisServer, startRedis, startRedisMany } from '../helpers/servers.js';
import { startRedisProxy, type RedisProxy } from '../../src/redis/index.js';
import { waitFor } from './governance-helpers.js';

const health = (p: RedisProxy) => p.stats().governance!.backends;

function client(t: { after(fn: () => unknown): void }, port: number): Redis {
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableReadyCheck: false });
  c.on('error', () => {});
  t.after(() => c.disconnect());
  return c;
}

test('active PING checks + auto_eject_hosts: a killed backend leaves the ring under load and returns when restarted', async (t) => {
  const servers = await startRedisMany(3, t);
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: servers.map((s) => s.address), autoEjectHosts: true, serverFailureLimit: 1000,
    governance: { health_check: { interval: 100, timeout: 500, unhealthy_threshold: 2, healthy_threshold: 2 } },
  });
  t.after(() => proxy.close(0));
  const c = client(t, proxy.address().port);
  let stop = false;
  let ok = 0;
  let failed = 0;
  const load = (async () => {
    for (let i = 0; !stop; i++) {
      try { await c.set(`${i % 500}:load`, String(i)); ok++; } catch { failed++; await new Promise((r) => setTimeout(r, 5)); }
    }
  })();
  await waitFor(() => ok > 200);
  const victim = servers[1];
  await victim.stop();
  await waitFor(() => health(proxy)[1].healthy === false);
  assert.match(health(proxy)[1].reason, /health check failed/);
  assert.deepEqual(proxy.stats().ejected, [victim.address]);
  // With the shard out of the ring every key is served again.
  const before = ok;
  const failedAtEject = failed;
  await waitFor(() => ok > before + 300);
  for (let i = 0; i < 100; i++) assert.equal(await c.set(`${i}:after`, 'x'), 'OK');
  assert.ok(failed - failedAtEject < 5, `few failures after ejection (got ${failed - failedAtEject})`);
  // Restart on the same port: it passes two checks and comes back into the ring.
  const again = await RedisServer.start({ port: victim.port });
  t.after(() => again.stop());
  await waitFor(() => health(proxy)[1].healthy === true);
  assert.deepEqual(proxy.stats().ejected, []);
  assert.equal(health(proxy)[1].ejections, 1);
  for (let i = 0; i < 200; i++) await c.set(`${i}:back`, 'y');
  const direct = new Redis({ port: victim.port, lazyConnect: true });
  await direct.connect();
  assert.ok((await direct.dbsize()) > 0, 'keys map to the restored backend again');
  direct.disconnect();
  stop = true;
  await load;
});

test('auto_eject_hosts off (default): an unhealthy shard fails fast with a clear error; EXISTS drain key ejects and restores', async (t) => {
  const servers = await startRedisMany(2, t);
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: servers.map((s) => s.address),
    governance: { health_check: { interval: 100, timeout: 1000, unhealthy_threshold: 1, healthy_threshold: 1, key: 'maintenance' } },
  });
  t.after(() => proxy.close(0));
  const c = client(t, proxy.address().port);
  const direct = new Redis({ port: servers[0].port, lazyConnect: true });
  await direct.connect();
  t.after(() => direct.disconnect());
  await direct.set('maintenance', '1');
  await waitFor(() => health(proxy)[0].healthy === false);
  assert.match(health(proxy)[0].reason, /drain key "maintenance" present/);
  // Keys of the drained shard fail fast; the other shard keeps serving.
  let refused = 0;
  let served = 0;
  // (Keys that differ only in their last byte cluster on twemproxy's fnv1a_64 ring: vary the middle.)
  for (let i = 0; i < 50; i++) {
    try { await c.set(`user:${i}:k`, 'v'); served++; } catch (e) {
      refused++;
      assert.match((e as Error).message, /backend 127\.0\.0\.1:\d+ is unhealthy \(health check failed: drain key "maintenance" present\); its keys fail fast until it recovers/);
    }
  }
  assert.ok(refused > 0 && served > 0, `refused ${refused}, served ${served}`);
  await direct.del('maintenance');
  await waitFor(() => health(proxy)[0].healthy === true);
  for (let i = 0; i < 50; i++) assert.equal(await c.set(`user:${i}:k`, 'v'), 'OK');
});

test('outlier detection: consecutive connection failures eject for a growing time, capped by max_ejection_percent', async (t) => {
  const servers = await startRedisMany(2, t);
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: servers.map((s) => s.address), timeoutMs: 300,
    governance: { outlier_detection: { consecutive_5xx: 2, base_ejection_time: 300, max_ejection_time: 5000, max_ejection_percent: 50, interval: 60_000 } },
  });
  t.after(() => proxy.close(0));
  const c = client(t, proxy.address().port);
  for (let i = 0; i < 20; i++) await c.set(`k${i}`, 'v');
  const victim = servers[0];
  await victim.stop();
  await waitFor(() => health(proxy)[0].ejections >= 1, 15_000);
  assert.match(health(proxy)[0].reason, /outlier detection: consecutive_5xx, ejected for 300 ms/);
  // Still down: it returns after 300 ms, fails again and is ejected for longer (2 x base).
  await waitFor(() => health(proxy)[0].ejections >= 2, 15_000);
  assert.match(health(proxy)[0].reason, /ejected for 600 ms/);
  // max_ejection_percent 50: the second backend is never ejected too.
  assert.equal(health(proxy)[1].healthy, true);
  const again = await RedisServer.start({ port: victim.port });
  t.after(() => again.stop());
  // Back in service once un-ejected and reconnected (the connection retries with back-off).
  await waitFor(() => health(proxy)[0].healthy && proxy.stats().backends[0].connected, 15_000);
  for (let i = 0; i < 20; i++) assert.equal(await c.set(`k${i}`, 'w'), 'OK');
});

test('health checks authenticate: a backend needing a password is healthy with upstream_auth', async (t) => {
  const s = await startRedis(t, { args: ['--requirepass', 'pw'] });
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', backends: [s.address],
    governance: { upstream_auth: { password: 'pw' }, health_check: { interval: 50, timeout: 50, unhealthy_threshold: 1 } },
  });
  t.after(() => proxy.close(0));
  await waitFor(() => health(proxy)[0].health_checks >= 3);
  assert.equal(health(proxy)[0].healthy, true);
  assert.equal(health(proxy)[0].health_check_failures, 0);
});
