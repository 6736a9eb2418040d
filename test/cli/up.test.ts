import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { ManagedProcess } from '../../src/util/managed-process.js';
import { getFreePort, waitForPort } from '../../src/util/net.js';
import { startRedisMany } from '../helpers/servers.js';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

function trellis(args: string[]): ManagedProcess {
  return new ManagedProcess(process.execPath, ['--import', 'tsx', MAIN, ...args]);
}

async function waitForOutput(p: ManagedProcess, re: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(p.recentOutput())) {
    if (!p.running) throw new Error(`trellis exited early:\n${p.recentOutput()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${p.recentOutput()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return p.recentOutput();
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

test('trellis up: sharded Redis over 3 managed redis-servers, an admin server, all gone after SIGTERM', async (t) => {
  const port = await getFreePort();
  const adminPort = await getFreePort();
  const up = trellis(['up', '--listen', `127.0.0.1:${port}`, '--no-gateway', '--admin', `127.0.0.1:${adminPort}`]);
  t.after(() => up.stop());
  const out = await waitForOutput(up, /Press Ctrl-C/);
  await waitForPort(port);
  assert.doesNotMatch(out, /gateway/);
  const servers = [...out.matchAll(/redis-server (127\.0\.0\.1):(\d+) pid (\d+)/g)].map((m) => ({ port: Number(m[2]), pid: Number(m[3]) }));
  assert.equal(servers.length, 3, out);
  assert.match(out, new RegExp(`listening on 127\\.0\\.0\\.1:${port} -> 3 backends`));

  const client = new Redis({ host: '127.0.0.1', port });
  const keys = Array.from({ length: 60 }, (_, i) => `${i}:user`);
  await client.set(keys[0], 'v0');
  assert.equal(await client.get(keys[0]), 'v0');
  await client.mset(Object.fromEntries(keys.map((k) => [k, `v-${k}`])));
  assert.deepEqual(await client.mget(...keys), keys.map((k) => `v-${k}`));
  assert.equal(await client.dbsize(), keys.length);
  await client.client('SETNAME', 'checkout');
  await client.get(keys[1]);
  client.disconnect();

  // The admin server of `trellis redis-proxy --admin`: per-caller stats, health, readiness.
  assert.match(out, new RegExp(`trellis up: admin on http://127\\.0\\.0\\.1:${adminPort}`));
  const admin = `http://127.0.0.1:${adminPort}`;
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  assert.match(metrics, /trellis_redis_command_total\{[^}]*command="get"[^}]*caller="checkout"[^}]*\} 1/);
  assert.equal((await fetch(`${admin}/healthz`)).status, 200);
  assert.equal((await fetch(`${admin}/ready`)).status, 200);

  // The keys really are spread over the managed servers.
  let holding = 0;
  for (const s of servers) {
    const direct = new Redis({ host: '127.0.0.1', port: s.port });
    if ((await direct.dbsize()) > 0) holding++;
    direct.disconnect();
  }
  assert.ok(holding >= 2, `only ${holding} of 3 backends hold keys`);

  up.signal('SIGTERM');
  assert.equal(await up.waitExit(), 0, up.recentOutput());
  assert.match(up.recentOutput(), /trellis up: stopped/);
  for (const s of servers) assert.equal(alive(s.pid), false, `redis-server pid ${s.pid} survived`);
});

test('trellis up --config: uses the backends the config names, refuses a bad config', async (t) => {
  const backends = await startRedisMany(2, t);
  const dir = mkdtempSync(join(tmpdir(), 'trellis-up-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const port = await getFreePort();
  const good = join(dir, 'good.yml');
  writeFileSync(good, `redis_proxy:\n  workers: 2\n  listen: 127.0.0.1:${port}\n  hash_tag: "{}"\n  backends:\n${backends.map((b) => `    - ${b.address}\n`).join('')}`);
  const up = trellis(['up', '--config', good, '--no-gateway']);
  t.after(() => up.stop());
  const out = await waitForOutput(up, /Press Ctrl-C/);
  assert.doesNotMatch(out, /managed/);
  assert.match(out, /-> 2 backends \(ketama, fnv1a_64, hash_tag \{\}\)/);
  assert.match(out, /workers: 2 is not used by trellis up/); // said, not silently dropped
  const client = new Redis({ host: '127.0.0.1', port });
  await client.set('{t}a', '1');
  assert.equal(await client.get('{t}a'), '1');
  client.disconnect();
  up.signal('SIGINT');
  assert.equal(await up.waitExit(), 0);

  const bad = join(dir, 'bad.yml');
  writeFileSync(bad, 'redis_proxy:\n  distribution: nosuch\n');
  const refused = trellis(['up', '--config', bad, '--no-gateway']);
  assert.equal(await refused.waitExit(), 1);
  assert.match(refused.recentOutput(), /distribution/);
  assert.doesNotMatch(refused.recentOutput(), /at .*\.ts:\d+/); // a message, not a stack trace
  const badAdmin = trellis(['up', '--config', good, '--no-gateway', '--admin', 'no-port']);
  assert.equal(await badAdmin.waitExit(), 1);
  assert.match(badAdmin.recentOutput(), /--admin: expected host:port, got "no-port"/);

  // The listen address is taken (by a backend): a clear error, and the managed servers are stopped.
  const busy = trellis(['up', '--listen', backends[0].address, '--managed-backends', '1', '--no-gateway']);
  assert.equal(await busy.waitExit(), 1);
  assert.match(busy.recentOutput(), /EADDRINUSE|in use/);
});

test('trellis up: the function gateway with the examples deployed, answering curl-style requests', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-up-gw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [redisPort, gwPort] = [await getFreePort(), await getFreePort()];
  const up = trellis(['up', '--listen', `127.0.0.1:${redisPort}`, '--managed-backends', '1',
    '--gateway-listen', `127.0.0.1:${gwPort}`, '--data-dir', join(dir, 'data')]);
  t.after(() => up.stop());
  const out = await waitForOutput(up, /Press Ctrl-C/, 180_000);
  assert.match(out, new RegExp(`gateway +http://127\\.0\\.0\\.1:${gwPort}`));
  const pwWhere = process.env.TRELLIS_ADMIN_PASSWORD ? 'from TRELLIS_ADMIN_PASSWORD' : `in ${join(dir, 'data', 'admin-password')}`;
  assert.ok(out.includes(`password ${pwWhere})`), out);
  for (const fn of ['hello-node', 'wordcount-python', 'echo']) assert.match(out, new RegExp(`function +${fn}:`));

  const base = `http://127.0.0.1:${gwPort}`;
  const echo = await fetch(`${base}/function/echo`, { method: 'POST', body: 'round trip' });
  assert.equal(echo.status, 200);
  assert.equal(await echo.text(), 'round trip');
  assert.ok(echo.headers.get('x-call-id'));
  const hello = await fetch(`${base}/function/hello-node?name=you`);
  assert.equal(hello.status, 200);
  assert.match(await hello.text(), /you/);
  const missing = await fetch(`${base}/function/nosuch`);
  assert.equal(missing.status, 404);
  await missing.text();

  up.signal('SIGTERM');
  assert.equal(await up.waitExit(), 0, up.recentOutput());
});
