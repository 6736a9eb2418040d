/**
 * Hot reload: a changed config file (fs.watch) or SIGHUP adds and removes backends and
 * changes users and limits while clients stay connected (same connection, still
 * authenticated); a broken file is refused and the running config kept.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisMany } from '../helpers/servers.js';
import { loadProxyConfig, startRedisProxy } from '../../src/redis/index.js';
import { watchConfig } from '../../src/redis/admin/reload.js';
import { waitFor } from './governance-helpers.js';

function yaml(backends: string[], extra = ''): string {
  return [
    'name: main', 'listen: 127.0.0.1:0', 'backends:', ...backends.map((b) => `  - ${b}`),
    'auth:', '  users:', '    - { username: app, password: app-pass }', extra,
  ].join('\n') + '\n';
}

test('reload adds a backend, then removes one, while a client stays connected and authenticated', async (t) => {
  const [a, b] = await startRedisMany(2, t);
  const dir = mkdtempSync(join(tmpdir(), 'trellis-reload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'proxy.yml');
  writeFileSync(file, yaml([a.address]));
  const proxy = await startRedisProxy(loadProxyConfig(file).pools[0]);
  t.after(() => proxy.close(0));
  const logs: string[] = [];
  const stop = watchConfig(file, [proxy], (l) => logs.push(l));
  t.after(stop);

  const c = new Redis({ port: proxy.address().port, host: '127.0.0.1', username: 'app', password: 'app-pass', lazyConnect: true, maxRetriesPerRequest: 0 });
  t.after(() => c.disconnect());
  await c.connect();
  const id = await c.client('ID');
  for (let i = 0; i < 50; i++) await c.set(`before:${i}:x`, 'v');

  // Add a backend and a rate limit for writes.
  writeFileSync(file, yaml([a.address, b.address], 'rate_limits:\n  - { class: write, requests_per_second: 1000, burst: 1000 }'));
  await waitFor(() => proxy.config.backends.length === 2);
  assert.match(logs.join('\n'), /pool main reloaded \(file changed\): 2 backends \(1 added, 0 removed\)/);
  for (let i = 0; i < 100; i++) assert.equal(await c.set(`after:${i}:x`, 'v'), 'OK');
  assert.equal(await c.client('ID'), id, 'same client connection');
  const direct = new Redis({ port: b.port, lazyConnect: true });
  await direct.connect();
  t.after(() => direct.disconnect());
  assert.ok((await direct.dbsize()) > 0, 'keys now land on the added backend');
  assert.ok(proxy.stats().governance!.commands.some((x) => x.command === 'set' && x.total >= 150), 'stats continue across the reload');

  // A broken file is refused; the running config stays.
  writeFileSync(file, 'name: main\nbackends: []\n');
  await waitFor(() => logs.some((l) => /reload \(file changed\) refused/.test(l)));
  assert.equal(proxy.config.backends.length, 2);

  // SIGHUP: remove the first backend. The connection stays, keys go to the remaining one.
  writeFileSync(file, yaml([b.address]));
  await new Promise((r) => setTimeout(r, 20));
  process.kill(process.pid, 'SIGHUP');
  await waitFor(() => proxy.config.backends.length === 1);
  const n = await direct.dbsize();
  for (let i = 0; i < 20; i++) assert.equal(await c.set(`last:${i}:x`, 'v'), 'OK');
  assert.equal(await direct.dbsize(), n + 20);
  assert.equal(await c.client('ID'), id);
  assert.equal(proxy.stats().downstream_cx_total, 1);
});

test('graceful shutdown: requests in flight are answered before the proxy closes', async (t) => {
  const [a] = await startRedisMany(1, t, { args: ['--enable-debug-command', 'yes'] });
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', backends: [a.address], governance: { stats: {} } });
  const c = new Redis({ port: proxy.address().port, lazyConnect: true, maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  t.after(() => c.disconnect());
  await c.connect();
  await c.set('k', 'v');
  const blocker = new Redis({ port: a.port, lazyConnect: true });
  await blocker.connect();
  t.after(() => blocker.disconnect());
  const sleep = blocker.debug('SLEEP', '0.3');
  await new Promise((r) => setTimeout(r, 30));
  const pending = c.get('k');
  await new Promise((r) => setTimeout(r, 20));
  const closed = proxy.close(5000);
  assert.equal(await pending, 'v', 'the in-flight GET is answered during the drain');
  await closed;
  await sleep;
});
