/**
 * Configuration: flags, our YAML and twemproxy YAML as it is; refusals name the field. The CLI
 * runs a real nutcracker file: keys written through twemproxy are found through Trellis.
 * `--workers 2` serves from worker processes sharing the port.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { ConfigError, parseBackendFlag, parseProxyConfigText } from '../../src/config/index.js';
import { configFromFlags } from '../../src/cli/commands/redis-proxy.js';
import { ManagedProcess } from '../../src/util/managed-process.js';
import { getFreePort, startNutcracker, startRedisMany, waitForPort } from '../helpers/servers.js';

function refuses(fn: () => unknown, field: RegExp): void {
  assert.throws(fn, (e: Error) => e instanceof ConfigError && field.test(e.message), `expected a ConfigError matching ${field}`);
}

test('--backend host:port[:weight[:name]] and flag refusals naming the flag', () => {
  assert.deepEqual(parseBackendFlag('127.0.0.1:7001'), { host: '127.0.0.1', port: 7001, weight: 1 });
  assert.deepEqual(parseBackendFlag('127.0.0.1:7002:3:shard-b'), { host: '127.0.0.1', port: 7002, weight: 3, name: 'shard-b' });
  refuses(() => parseBackendFlag('127.0.0.1'), /^--backend: expected host:port/);
  refuses(() => parseBackendFlag('127.0.0.1:0'), /^--backend: port 0 out of range/);
  refuses(() => parseBackendFlag('127.0.0.1:7000:0'), /^--backend: weight must be at least 1/);
  const base = { backend: ['127.0.0.1:7001'] };
  const cfg = configFromFlags({ ...base, distribution: 'modula', hash: 'md5', hashTag: '{}', timeout: '250', workers: '3' });
  assert.equal(cfg.workers, 3);
  assert.deepEqual(
    { d: cfg.pools[0].distribution, h: cfg.pools[0].hash, t: cfg.pools[0].hashTag, to: cfg.pools[0].timeoutMs, l: cfg.pools[0].listen },
    { d: 'modula', h: 'md5', t: '{}', to: 250, l: { host: '127.0.0.1', port: 6380 } },
  );
  refuses(() => configFromFlags({ ...base, distribution: 'ring' }), /^--distribution: /);
  refuses(() => configFromFlags({ ...base, hash: 'sha1' }), /^--hash: /);
  refuses(() => configFromFlags({ ...base, hashTag: '{' }), /^--hash-tag: /);
  refuses(() => configFromFlags({ ...base, timeout: 'soon' }), /^--timeout: /);
  refuses(() => configFromFlags({ ...base, workers: '0' }), /^--workers: /);
  refuses(() => configFromFlags({ ...base, listen: 'nowhere' }), /^--listen: /);
  refuses(() => configFromFlags({ backend: [] }), /^--backend: at least one backend/);
  refuses(() => configFromFlags({ ...base, config: '/x.yml' }), /^--backend: cannot be combined with --config/);
});

test('twemproxy YAML as it is: each pool a listener; our YAML; refusals name the field', () => {
  const twem = parseProxyConfigText(`
alpha:
  listen: 127.0.0.1:22121
  hash: fnv1a_64
  hash_tag: "{}"
  distribution: ketama
  auto_eject_hosts: true
  redis: true
  server_retry_timeout: 2000
  server_failure_limit: 1
  timeout: 400
  backlog: 1024
  preconnect: true
  servers:
   - 127.0.0.1:6379:1 server1
   - 127.0.0.1:6380:2 server2
beta:
  listen: 127.0.0.1:22122
  redis: true
  distribution: modula
  hash: md5
  servers:
   - 127.0.0.1:6381:1
`);
  assert.equal(twem.pools.length, 2);
  const [a, b] = twem.pools;
  assert.equal(a.name, 'alpha');
  assert.deepEqual(a.listen, { host: '127.0.0.1', port: 22121 });
  assert.deepEqual(a.backends, [
    { host: '127.0.0.1', port: 6379, weight: 1, name: 'server1' },
    { host: '127.0.0.1', port: 6380, weight: 2, name: 'server2' },
  ]);
  assert.deepEqual([a.hashTag, a.autoEjectHosts, a.serverRetryTimeoutMs, a.serverFailureLimit, a.timeoutMs], ['{}', true, 2000, 1, 400]);
  assert.deepEqual([b.name, b.distribution, b.hash, b.hashTag, b.timeoutMs], ['beta', 'modula', 'md5', undefined, 0]);

  refuses(() => parseProxyConfigText('alpha:\n  listen: 127.0.0.1:1\n  servers: ["127.0.0.1:6379:1"]\n'), /^alpha\.redis: must be true/);
  refuses(() => parseProxyConfigText('alpha:\n  listen: 127.0.0.1:1\n  redis: true\n  servers: ["127.0.0.1:6379"]\n'), /^alpha\.servers\[0\]: expected "host:port:weight \[name\]"/);
  refuses(() => parseProxyConfigText('alpha:\n  listen: 127.0.0.1:1\n  redis: true\n  hash: sha1\n  servers: ["127.0.0.1:6379:1"]\n'), /^alpha\.hash: /);

  const ours = parseProxyConfigText(`
redis_proxy:
  workers: 2
  pools:
    - name: main
      listen: 127.0.0.1:6390
      hash_tag: "{}"
      server_connections: 2
      backends: [127.0.0.1:7001, "127.0.0.1:7002:1:shard-b", { host: 127.0.0.1, port: 7003, weight: 2 }]
`);
  assert.equal(ours.workers, 2);
  assert.equal(ours.pools[0].serverConnections, 2);
  assert.deepEqual(ours.pools[0].backends.map((x) => x.name ?? `${x.host}:${x.port}:${x.weight}`), ['127.0.0.1:7001:1', 'shard-b', '127.0.0.1:7003:2']);
  refuses(() => parseProxyConfigText('pools:\n  - backends: ["127.0.0.1:7001"]\n    distribution: ring\n'), /^pools\[0\]\.distribution: /);
  refuses(() => parseProxyConfigText('pools:\n  - backends: ["127.0.0.1:70011"]\n'), /^pools\[0\]\.backends\[0\]: /);
  refuses(() => parseProxyConfigText('listen: 127.0.0.1:1\nbackends: []\n'), /^backends: /);
  refuses(() => parseProxyConfigText(': : :'), /invalid YAML|expected a YAML map/);
});

async function cli(args: string[], t: { after(fn: () => unknown): void }): Promise<ManagedProcess> {
  const p = new ManagedProcess(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'redis-proxy', ...args], { cwd: process.cwd() });
  t.after(() => p.stop());
  return p;
}

test('trellis redis-proxy --config <nutcracker.yml>: keys written through twemproxy are found through Trellis', async (t) => {
  const servers = await startRedisMany(3, t);
  const pool = [
    'hash: fnv1a_64', 'hash_tag: "{}"', 'distribution: ketama', 'redis: true', 'servers:',
    ...servers.map((s, i) => ` - ${s.address}:${i + 1}${i === 2 ? ' named-c' : ''}`),
  ].join('\n');
  const twem = await startNutcracker(pool, t);
  // twemproxy closes the connection on ioredis' CLIENT SETINFO.
  const viaTwem = new Redis({ port: twem.port, maxRetriesPerRequest: 0, enableReadyCheck: false, disableClientInfo: true });
  t.after(() => viaTwem.disconnect());
  const keys = Array.from({ length: 500 }, (_, i) => (i % 4 ? `user:${i}` : `{tag${i % 9}}:${i}`));
  await Promise.all(keys.map((k) => viaTwem.set(k, k)));

  const port = await getFreePort();
  const dir = mkdtempSync(join(tmpdir(), 'trellis-cfg-'));
  const file = join(dir, 'nutcracker.yml');
  writeFileSync(file, `alpha:\n  listen: 127.0.0.1:${port}\n${pool.split('\n').map((l) => `  ${l}`).join('\n')}\n`);
  const proc = await cli(['--config', file], t);
  await waitForPort(port, '127.0.0.1', 20_000).catch((e) => { throw new Error(`${e.message}\n${proc.recentOutput()}`); });
  const viaTrellis = new Redis({ port, maxRetriesPerRequest: 0, enableReadyCheck: false });
  t.after(() => viaTrellis.disconnect());
  const got = await viaTrellis.mget(...keys);
  assert.deepEqual(got, keys, 'every key written through twemproxy is found through Trellis');
});

test('trellis redis-proxy refuses invalid flags at start, naming the flag', async () => {
  const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'redis-proxy', '--backend', '127.0.0.1:7001', '--hash', 'sha1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr.on('data', (b) => { err += b; });
  const code = await new Promise((r) => p.on('exit', r));
  assert.equal(code, 2);
  assert.match(err, /invalid configuration: --hash: /);
});

test('--workers 2: worker processes share the listen port', async (t) => {
  const servers = await startRedisMany(2, t);
  const port = await getFreePort();
  const proc = await cli(['--listen', `127.0.0.1:${port}`, '--workers', '2', ...servers.flatMap((s) => ['--backend', s.address])], t);
  await waitForPort(port, '127.0.0.1', 20_000).catch((e) => { throw new Error(`${e.message}\n${proc.recentOutput()}`); });
  const pids = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const c = new Redis({ port, maxRetriesPerRequest: 0, enableReadyCheck: false });
    try {
      assert.equal(await c.set(`w${i}`, String(i)), 'OK');
      assert.equal(await c.get(`w${i}`), String(i));
      const info = await c.info('proxy');
      pids.add(/proxy_process_id:(\d+)/.exec(info)![1]);
    } finally {
      c.disconnect();
    }
  }
  assert.ok(pids.size >= 1);
  assert.ok(!pids.has(String(proc.proc.pid)), 'requests are served by workers, not the primary');
  await proc.stop(10_000);
  assert.equal(proc.running, false);
});
