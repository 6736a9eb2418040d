/**
 * distribution: cluster in front of a Redis Cluster whose nodes require a password
 * (requirepass, masterauth on replicas): with upstream_auth every connection the proxy opens
 * authenticates first — shared node connections, READONLY replica connections, topology
 * queries, blocking calls, transactions and subscriber relays — while per-client governance
 * (downstream auth) applies as on any pool. Without upstream_auth, or with a wrong password,
 * clients get a clear error naming the cause. A TLS-only cluster works with upstream_tls.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisProxy, type RedisProxy } from '../../src/redis/index.js';
import { commandCalls, startRedisCluster, type TestCluster } from '../helpers/redis-cluster.js';

const PASSWORD = 'cluster-secret';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
let cluster: TestCluster;
const closers: Array<() => Promise<unknown> | void> = [];

before(async () => {
  cluster = await startRedisCluster(undefined, { password: PASSWORD });
});

after(async () => {
  for (const c of closers.reverse()) await c();
  await cluster.stop();
});

async function proxyWith(governance: Record<string, unknown>, settings: Record<string, unknown> = {}): Promise<{ proxy: RedisProxy; port: number }> {
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', distribution: 'cluster', backends: cluster.addresses.slice(0, 2), cluster: settings, governance,
  });
  closers.push(() => proxy.close(0));
  return { proxy, port: proxy.address().port };
}

function client(port: number, password?: string): Redis {
  const c = new Redis({ port, host: '127.0.0.1', password, maxRetriesPerRequest: 1 });
  c.on('error', () => { /* asserted through command results */ });
  closers.push(() => c.disconnect());
  return c;
}

test('upstream_auth: reads, writes, replica reads, split commands, blocking, MULTI and SUBSCRIBE authenticate to every node', async () => {
  const { port } = await proxyWith(
    { upstream_auth: { password: PASSWORD }, auth: { passwords: ['client-pw'] } },
    { readPolicy: 'replica' },
  );
  // Downstream auth still applies: the client authenticates to the proxy, the proxy to the nodes.
  const anon = client(port);
  await assert.rejects(anon.set('k', 'v'), /NOAUTH/);
  const c = client(port, 'client-pw');
  const keys = Array.from({ length: 30 }, (_, i) => `auth:${i}`);
  assert.equal(await c.mset(...keys.flatMap((k) => [k, `v-${k}`])), 'OK');
  for (const m of (await cluster.shards()).map((s) => s.master)) await cluster.admin(m).call('WAIT', 1, 10_000);
  // read_policy: replica → READONLY connections (AUTH first, then READONLY); replication is asynchronous.
  const readsBefore = await commandCalls(cluster, (await cluster.shards()).flatMap((s) => s.replicas), 'get');
  let got: Array<string | null> = [];
  for (let i = 0; i < 100; i++) {
    got = await Promise.all(keys.map((k) => c.get(k)));
    if (got.every((v, j) => v === `v-${keys[j]}`)) break;
    await sleep(20);
  }
  assert.deepEqual(got, keys.map((k) => `v-${k}`));
  assert.ok(await commandCalls(cluster, (await cluster.shards()).flatMap((s) => s.replicas), 'get') > readsBefore, 'replicas served the reads');
  assert.deepEqual(await c.mget(keys[0], keys[1], keys[2]), [`v-${keys[0]}`, `v-${keys[1]}`, `v-${keys[2]}`]);
  // Blocking call on its dedicated connection, woken by another client's push.
  const waiter = client(port, 'client-pw');
  const popped = waiter.blpop('auth:list', 10);
  await sleep(100);
  assert.equal(await c.rpush('auth:list', 'x'), 1);
  assert.deepEqual(await popped, ['auth:list', 'x']);
  // Transaction on its dedicated connection.
  const tx = await c.multi().set('{acct}:a', '1').incr('{acct}:a').exec();
  assert.deepEqual(tx, [[null, 'OK'], [null, 2]]);
  // Subscriber relay.
  const sub = client(port, 'client-pw');
  const msgs: string[] = [];
  sub.on('message', (ch, m) => msgs.push(`${ch}:${m}`));
  assert.equal(await sub.subscribe('auth:news'), 1);
  await c.publish('auth:news', 'hello');
  for (let i = 0; i < 100 && msgs.length === 0; i++) await sleep(20);
  assert.deepEqual(msgs, ['auth:news:hello']);
  assert.equal(await sub.unsubscribe(), 0);
});

test('without upstream_auth the proxy answers with the nodes\' NOAUTH, naming the node; a wrong password gets WRONGPASS', async () => {
  const { port } = await proxyWith({ stats: { top_callers: 5 } });
  const c = client(port);
  await assert.rejects(c.set('k', 'v'), (e: Error) => /CLUSTERDOWN the proxy has no cluster topology yet \(127\.0\.0\.1:\d+: NOAUTH Authentication required/.test(e.message));

  const wrong = await proxyWith({ upstream_auth: { password: 'not-it' } });
  const w = client(wrong.port);
  await assert.rejects(w.get('k'), (e: Error) => /CLUSTERDOWN .*WRONGPASS/.test(e.message));
});

test('upstream_tls + upstream_auth: a TLS-only cluster (tls-cluster, tls-replication) through the proxy', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-cluster-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const tlsCluster = await startRedisCluster(t, { replicasPerMaster: 0, password: PASSWORD, tls: { certFile, keyFile } });
  const proxy = await startRedisProxy({
    listen: '127.0.0.1:0', distribution: 'cluster', backends: tlsCluster.addresses.slice(0, 1),
    governance: { upstream_tls: { ca_file: certFile }, upstream_auth: { password: PASSWORD } },
  });
  t.after(() => proxy.close(0));
  const c = client(proxy.address().port);
  const keys = Array.from({ length: 20 }, (_, i) => `tls:${i}`);
  assert.equal(await c.mset(...keys.flatMap((k) => [k, k])), 'OK');
  assert.deepEqual(await c.mget(...keys), keys);
  // Stored on the nodes over TLS (read back directly from each key's owner).
  const shards = await tlsCluster.shards();
  assert.equal(shards.length, 3);
  let direct = 0;
  for (const s of shards) direct += Number(await tlsCluster.admin(s.master).dbsize());
  assert.equal(direct, keys.length);
  // Without upstream_tls the nodes never answer in plain text: a clear topology error.
  const plain = await proxyWithSeeds(tlsCluster.addresses.slice(0, 1), { upstream_auth: { password: PASSWORD } }, { refreshTimeoutMs: 300 });
  await assert.rejects(client(plain).get('k'), /CLUSTERDOWN the proxy has no cluster topology yet/);
});

async function proxyWithSeeds(seeds: string[], governance: Record<string, unknown>, settings: Record<string, unknown>): Promise<number> {
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', distribution: 'cluster', backends: seeds, cluster: settings, governance });
  closers.push(() => proxy.close(0));
  return proxy.address().port;
}

test('per-client governance on a cluster pool: faults, rate limits and caller stats apply before slot routing', async () => {
  const { proxy, port } = await proxyWith({
    upstream_auth: { password: PASSWORD },
    faults: [{ type: 'error', percent: 100, commands: ['lpush'] }],
    rate_limits: [{ class: 'write', requests_per_second: 0.001, burst: 3 }],
  });
  const c = client(port);
  await c.client('SETNAME', 'svc-gov');
  await assert.rejects(c.lpush('gov:l', 'x'), /Fault Injected/);
  assert.equal(await c.set('gov:a', '1'), 'OK');
  assert.equal(await c.set('gov:b', '2'), 'OK');
  await assert.rejects(c.set('gov:c', '3'), /rate limit exceeded/);
  assert.deepEqual(await c.mget('gov:a', 'gov:b'), ['1', '2'], 'reads are not limited by the write rule');
  const gov = proxy.stats().governance!;
  assert.equal(gov.rejected.rate_limited, 1, JSON.stringify(gov.rejected));
  assert.equal(gov.rejected.fault, 1);
  assert.ok(gov.callers.some((x) => x.caller.includes('svc-gov') && x.total >= 4), JSON.stringify(gov.callers));
});
