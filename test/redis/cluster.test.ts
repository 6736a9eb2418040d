/**
 * distribution: cluster against a real Redis Cluster (3 masters + 3 replicas, started once
 * for this file): slot routing for plain clients, multi-key splitting, CROSSSLOT, MOVED after
 * a slot moved behind the proxy's back, ASK while a slot migrates under traffic, and the
 * read policies with READONLY replica connections.
 */
import { once } from 'node:events';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedisProxy, type RedisProxy } from '../../src/redis/index.js';
import { commandCalls, slotOf, startRedisCluster, tagForSlot, type TestCluster } from '../helpers/redis-cluster.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let cluster: TestCluster;
const closers: Array<() => Promise<unknown> | void> = [];

before(async () => {
  cluster = await startRedisCluster();
});

after(async () => {
  for (const c of closers.reverse()) await c();
  await cluster.stop();
});

async function proxyFor(cluster: TestCluster, settings: Record<string, unknown> = {}): Promise<{ proxy: RedisProxy; client: Redis }> {
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', distribution: 'cluster', backends: cluster.addresses.slice(0, 2), cluster: settings });
  const client = new Redis({ port: proxy.address().port, host: '127.0.0.1' });
  closers.push(() => proxy.close(0), () => client.disconnect());
  return { proxy, client };
}

async function infoField(client: Redis, field: string): Promise<string> {
  const info = await client.info();
  const m = new RegExp(`^${field}:(.*)$`, 'm').exec(info);
  assert.ok(m, `INFO has no ${field}`);
  return m[1].trim();
}

test('plain client: keys go to their slot owner, multi-key commands split per slot, CROSSSLOT like Redis', async () => {
  const { client } = await proxyFor(cluster);
  const keys = Array.from({ length: 60 }, (_, i) => `user:${i}`);
  for (const k of keys) assert.equal(await client.set(k, `v-${k}`), 'OK');
  // Each key is stored on the master that owns its slot (read back directly from that node).
  const shards = await cluster.shards();
  for (const k of keys.slice(0, 12)) {
    const owner = shards.find((s) => s.slots.some(([a, b]) => slotOf(k) >= a && slotOf(k) <= b))!.master;
    assert.equal(await cluster.admin(owner).get(k), `v-${k}`);
  }
  assert.ok(new Set(keys.map((k) => shards.findIndex((s) => s.slots.some(([a, b]) => slotOf(k) >= a && slotOf(k) <= b)))).size === 3);

  assert.deepEqual(await client.mget(...keys, 'missing'), [...keys.map((k) => `v-${k}`), null]);
  assert.equal(await client.mset('m:a', '1', 'm:b', '2', 'm:c', '3', '{m}x', '4'), 'OK');
  assert.deepEqual(await client.mget('m:a', 'm:b', 'm:c', '{m}x'), ['1', '2', '3', '4']);
  assert.equal(await client.exists('m:a', 'm:b', 'nope', 'm:a'), 3);
  assert.equal(await client.touch('m:a', 'm:b', 'nope'), 2);
  assert.equal(await client.del('m:a', 'm:b'), 2);
  assert.equal(await client.unlink('m:c', '{m}x', 'nope'), 2);
  assert.equal(await client.dbsize(), 60);

  // Atomic multi-key commands need one slot: hash tags make it so; otherwise Redis' CROSSSLOT.
  await client.sadd('{grp}:a', 'x', 'y');
  await client.sadd('{grp}:b', 'y', 'z');
  assert.equal(await client.sunionstore('{grp}:u', '{grp}:a', '{grp}:b'), 3);
  await assert.rejects(client.sunionstore('dst', '{grp}:a', 'other'), /^ReplyError: CROSSSLOT Keys in request don't hash to the same slot/);
  await assert.rejects(client.rename('{grp}:a', 'elsewhere'), /CROSSSLOT/);

  // The proxy hides the cluster from plain clients.
  assert.equal(await client.call('READONLY'), 'OK');
  assert.match(String(await client.call('CLUSTER', 'INFO')), /cluster_state:ok/);
  assert.equal(await client.call('CLUSTER', 'COUNTKEYSINSLOT', String(slotOf('user:1'))), 1);
  await assert.rejects(client.call('CLUSTER', 'SETSLOT', '1', 'STABLE'), /not supported by the proxy/);
  await assert.rejects(client.call('SSUBSCRIBE', 'ch'), /SSUBSCRIBE is not supported by the proxy/);

  // PUBLISH reaches subscribers on any node (cluster bus); SPUBLISH goes to the channel's shard.
  const shardOwner = (await cluster.shardOfSlot(slotOf('news'))).master;
  const otherNode = shards.find((sh) => sh.master !== shardOwner)!.master;
  const [h, p] = otherNode.split(':');
  // No ready check (INFO): after a reconnect in subscriber mode it fails, and then ioredis never
  // re-subscribes (seen once in CI: SPUBLISH found no receiver for 10 s).
  const sub = new Redis({ host: h, port: Number(p), enableReadyCheck: false });
  const [oh, op] = shardOwner.split(':');
  const ssub = new Redis({ host: oh, port: Number(op), enableReadyCheck: false });
  await Promise.all([sub, ssub].map((c) => (c.status === 'ready' ? undefined : once(c, 'ready'))));
  try {
    const got = new Promise<string>((resolve) => sub.on('message', (_ch, msg) => resolve(msg)));
    const sgot = new Promise<string>((resolve) => ssub.on('smessage', (_ch: string, msg: string) => resolve(msg)));
    await sub.subscribe('news');
    await ssub.ssubscribe('news');
    await client.publish('news', 'hello');
    assert.equal(await got, 'hello');
    // The proxy's topology may lag a failover of an earlier test by one refresh; allow for it.
    let receivers = 0;
    for (const deadline = Date.now() + 10_000; receivers !== 1 && Date.now() < deadline;) {
      receivers = Number(await client.call('SPUBLISH', 'news', 'sharded'));
      if (receivers !== 1) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(receivers, 1);
    assert.equal(await sgot, 'sharded');
  } finally {
    sub.disconnect();
    ssub.disconnect();
  }
});

test('SCAN iterates every master: a full iteration returns every key, MATCH and COUNT pass through', async () => {
  const { client } = await proxyFor(cluster);
  const want = new Set(Array.from({ length: 600 }, (_, i) => `scan:${i}`));
  for (const k of want) await client.set(k, '1');
  const seen = new Set<string>();
  let cursor = '0';
  let calls = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', 'scan:*', 'COUNT', 100);
    for (const k of keys) seen.add(k);
    cursor = next;
    calls++;
    // Keys added during the iteration do not disturb it.
    if (calls === 3) await client.set('scan:late', '1');
  } while (cursor !== '0' && calls < 1000);
  for (const k of want) assert.ok(seen.has(k), `SCAN missed ${k}`);
  assert.ok([...seen].every((k) => k.startsWith('scan:')));
  assert.ok(calls >= 3, `only ${calls} SCAN calls`);
  await assert.rejects(client.scan('not-a-cursor'), /invalid cursor/);
});

test('blocking commands wait on dedicated connections: Redis timeouts, wake-up by a push, disconnect releases', async () => {
  const { proxy, client } = await proxyFor(cluster);
  const port = proxy.address().port;
  const blockedOnProxy = async () => Number(await infoField(client, 'cluster_blocked_calls'));
  const waitFor = async (cond: () => Promise<boolean>) => { for (let i = 0; i < 200 && !(await cond()); i++) await sleep(20); assert.ok(await cond()); };

  const t0 = Date.now();
  assert.equal(await client.blpop('bl:empty', 0.2), null);
  assert.ok(Date.now() - t0 >= 150, 'BLPOP returned before its timeout');

  const waiter = new Redis({ port, host: '127.0.0.1' });
  closers.push(() => waiter.disconnect());
  const popped = waiter.blpop('bl:queue', 10);
  await waitFor(async () => (await blockedOnProxy()) === 1);
  assert.equal(await client.set('bl:other', 'free'), 'OK'); // nobody else waits behind the blocked call
  assert.equal(await client.rpush('bl:queue', 'job-1'), 1);
  assert.deepEqual(await popped, ['bl:queue', 'job-1']);
  await client.rpush('{bl}:src', 'a');
  assert.equal(await client.blmove('{bl}:src', '{bl}:dst', 'LEFT', 'RIGHT', 1), 'a');
  await assert.rejects(client.blmove('bl:src', 'bl:dst', 'LEFT', 'RIGHT', 1), /CROSSSLOT/);

  // A client that disconnects while blocked releases its upstream wait.
  const owner = (await cluster.shardOfSlot(slotOf('bl:never'))).master;
  const nodeBlocked = async () => Number(/blocked_clients:(\d+)/.exec(String(await cluster.admin(owner).info('clients')))![1]);
  const gone = new Redis({ port, host: '127.0.0.1' });
  gone.on('error', () => { /* disconnected on purpose */ });
  void gone.blpop('bl:never', 0).catch(() => undefined);
  await waitFor(async () => (await nodeBlocked()) === 1);
  gone.disconnect();
  await waitFor(async () => (await nodeBlocked()) === 0 && (await blockedOnProxy()) === 0);
});

test('transactions: MULTI/EXEC in one slot on a dedicated connection, CROSSSLOT → EXECABORT, WATCH conflicts', async () => {
  const { proxy, client } = await proxyFor(cluster);
  const other = new Redis({ port: proxy.address().port, host: '127.0.0.1' });
  closers.push(() => other.disconnect());
  assert.deepEqual(await client.multi().set('{acct}:a', '10').incrby('{acct}:a', 5).get('{acct}:a').exec(), [[null, 'OK'], [null, 15], [null, '15']]);

  // A command leaving the transaction's slot is refused at once; EXEC then aborts like Redis.
  assert.equal(await client.call('MULTI'), 'OK');
  assert.equal(await client.call('SET', '{acct}:b', '1'), 'QUEUED');
  await assert.rejects(client.call('SET', 'elsewhere', '1'), /^ReplyError: CROSSSLOT/);
  await assert.rejects(client.call('EXEC'), /EXECABORT/);
  assert.equal(await client.get('{acct}:b'), null);
  assert.equal(await client.call('MULTI'), 'OK');
  await assert.rejects(client.call('NOSUCHCOMMAND'), /unknown command/);
  await assert.rejects(client.call('EXEC'), /EXECABORT/);
  await assert.rejects(client.call('EXEC'), /EXEC without MULTI/);
  assert.equal(await client.call('MULTI'), 'OK');
  assert.equal(await client.call('INCR', '{acct}:a'), 'QUEUED');
  assert.equal(await client.call('DISCARD'), 'OK');
  assert.equal(await client.get('{acct}:a'), '15');

  // WATCH: a change by another client makes EXEC return nil; without one, EXEC runs.
  assert.equal(await client.watch('{acct}:a'), 'OK');
  assert.equal(await other.set('{acct}:a', '99'), 'OK');
  assert.equal(await client.call('MULTI'), 'OK');
  assert.equal(await client.call('SET', '{acct}:a', '0'), 'QUEUED');
  assert.equal(await client.call('EXEC'), null);
  assert.equal(await client.get('{acct}:a'), '99');
  assert.equal(await client.watch('{acct}:a'), 'OK');
  assert.deepEqual(await client.multi().incr('{acct}:a').exec(), [[null, 100]]);
  assert.equal(await client.watch('{acct}:a'), 'OK');
  assert.equal(await client.unwatch(), 'OK');
  await assert.rejects(client.watch('{acct}:a', 'other-slot'), /CROSSSLOT/);
});

test('SUBSCRIBE / PSUBSCRIBE: a relay to one node receives PUBLISH from anywhere in the cluster', async () => {
  const { proxy, client } = await proxyFor(cluster);
  const sub = new Redis({ port: proxy.address().port, host: '127.0.0.1' });
  closers.push(() => sub.disconnect());
  const got: string[] = [];
  sub.on('message', (ch, msg) => got.push(`${ch}:${msg}`));
  sub.on('pmessage', (_p, ch, msg) => got.push(`p ${ch}:${msg}`));
  assert.equal(await sub.subscribe('ch:a', 'ch:b'), 2);
  assert.equal(await sub.psubscribe('ev:*'), 3);
  assert.equal(Number(await infoField(client, 'cluster_subscribed_clients')), 1);
  // Published through the proxy (some node) and straight to every master: all arrive once.
  assert.equal(typeof await client.publish('ch:a', 'one'), 'number');
  for (const m of (await cluster.shards()).map((s) => s.master)) await cluster.admin(m).publish('ev:x', m);
  for (let i = 0; i < 100 && got.length < 4; i++) await sleep(20);
  assert.deepEqual(got.sort(), ['ch:a:one', ...(await cluster.shards()).map((s) => `p ev:x:${s.master}`)].sort());
  // Leaving subscribed mode: the client is a normal client again.
  await sub.unsubscribe('ch:a', 'ch:b');
  await sub.punsubscribe('ev:*');
  for (let i = 0; i < 100 && Number(await infoField(client, 'cluster_subscribed_clients')) !== 0; i++) await sleep(20);
  assert.equal(Number(await infoField(client, 'cluster_subscribed_clients')), 0);
  assert.equal(await sub.set('after:sub', '1'), 'OK');
  assert.equal(await sub.get('after:sub'), '1');
});

test('UNSUBSCRIBE with no arguments (ioredis unsubscribe()) leaves subscribed mode, even with commands pipelined behind it', async () => {
  const { proxy, client } = await proxyFor(cluster);
  const sub = new Redis({ port: proxy.address().port, host: '127.0.0.1' });
  closers.push(() => sub.disconnect());
  const within = <T>(p: Promise<T>, what: string) => Promise.race([p, sleep(5000).then(() => { throw new Error(`${what}: no reply`); })]);
  assert.equal(await sub.subscribe('u:a', 'u:b'), 2);
  assert.equal(await within(sub.unsubscribe(), 'unsubscribe()'), 0);
  assert.equal(await within(sub.ping(), 'PING after'), 'PONG');
  // A SUBSCRIBE pipelined right behind the UNSUBSCRIBE: the relay must not close under it.
  assert.equal(await sub.subscribe('u:c'), 1);
  const left = sub.unsubscribe();
  const again = sub.subscribe('u:d');
  assert.equal(await within(left, 'unsubscribe()'), 0);
  assert.equal(await within(again, 'subscribe after unsubscribe()'), 1);
  const got: string[] = [];
  sub.on('message', (ch, m) => got.push(`${ch}:${m}`));
  await client.publish('u:d', 'still here');
  for (let i = 0; i < 100 && got.length === 0; i++) await sleep(20);
  assert.deepEqual(got, ['u:d:still here']);
  assert.equal(await within(sub.unsubscribe(), 'last unsubscribe()'), 0);
  assert.equal(await within(sub.set('u:after', '1'), 'SET after'), 'OK');
  for (let i = 0; i < 100 && Number(await infoField(client, 'cluster_subscribed_clients')) !== 0; i++) await sleep(20);
  assert.equal(Number(await infoField(client, 'cluster_subscribed_clients')), 0);
});

test('redis-cli without -c talks to the cluster through the proxy', async () => {
  const { proxy } = await proxyFor(cluster);
  const port = String(proxy.address().port);
  for (const [k, v] of [['cli:a', '1'], ['cli:b', '2'], ['cli:c', '3']]) {
    assert.equal((await run('redis-cli', ['-p', port, 'SET', k, v])).stdout.trim(), 'OK');
  }
  assert.equal((await run('redis-cli', ['-p', port, 'MGET', 'cli:a', 'cli:b', 'cli:c'])).stdout.trim(), '1\n2\n3');
});

test('MOVED: a slot moved behind the proxy is followed at once and the table refreshed', async () => {
  // No periodic refresh during the test: only MOVED can teach the proxy the new owner.
  const { client } = await proxyFor(cluster, { refreshIntervalMs: 600_000 });
  const tag = tagForSlot(777);
  await client.set(`{${tag}}:moved`, 'before');
  await client.set(`{${tag}}:other`, 'x');
  const refreshesBefore = Number(await infoField(client, 'cluster_refreshes'));
  const from = (await cluster.shardOfSlot(777)).master;
  const to = (await cluster.shards()).find((s) => s.master !== from)!.master;
  await cluster.migrateSlot(777, to);

  assert.equal(await client.get(`{${tag}}:moved`), 'before');
  assert.equal(await client.set(`{${tag}}:moved`, 'after'), 'OK');
  assert.equal(await cluster.admin(to).get(`{${tag}}:moved`), 'after');
  assert.ok(Number(await infoField(client, 'cluster_redirects_moved')) >= 1);
  // The MOVED triggered a topology refresh; afterwards the slot is routed directly.
  for (let i = 0; i < 100 && Number(await infoField(client, 'cluster_refreshes')) <= refreshesBefore; i++) await sleep(20);
  assert.ok(Number(await infoField(client, 'cluster_refreshes')) > refreshesBefore);
  const moved = Number(await infoField(client, 'cluster_redirects_moved'));
  assert.equal(await client.get(`{${tag}}:other`), 'x');
  assert.equal(Number(await infoField(client, 'cluster_redirects_moved')), moved);
});

test('ASK: a slot migrating key by key under continuous reads and writes keeps answering', async () => {
  const { client } = await proxyFor(cluster);
  const slot = 4242;
  const tag = tagForSlot(slot);
  const k = (s: string) => `{${tag}}:${s}`;
  for (let i = 0; i < 40; i++) await client.set(k(`k${i}`), String(i));
  await client.set(k('ctr'), '0');

  const errors: string[] = [];
  let incrs = 0;
  let ops = 0;
  let stop = false;
  const workers = Array.from({ length: 4 }, async (_, w) => {
    const c = new Redis({ port: (client.options.port as number), host: '127.0.0.1' });
    try {
      for (let n = 0; !stop; n++) {
        try {
          const i = (n * 7 + w) % 40;
          assert.equal(await c.get(k(`k${i}`)), String(i));
          assert.equal(await c.set(k(`w${w}:${n}`), String(n)), 'OK');
          assert.equal(await c.get(k(`w${w}:${n}`)), String(n));
          await c.incr(k('ctr'));
          incrs++;
          const [a, b] = await c.mget(k(`k${i}`), k(`k${(i + 1) % 40}`));
          assert.deepEqual([a, b], [String(i), String((i + 1) % 40)]);
          ops += 5;
        } catch (err) {
          errors.push((err as Error).message);
        }
      }
    } finally {
      c.disconnect();
    }
  });
  await sleep(100);
  const from = (await cluster.shardOfSlot(slot)).master;
  const to = (await cluster.shards()).find((s) => s.master !== from)!.master;
  await cluster.migrateSlot(slot, to, { batch: 2, between: () => sleep(10) });
  await sleep(200);
  stop = true;
  await Promise.all(workers);

  assert.deepEqual(errors.slice(0, 5), []);
  assert.ok(ops > 100, `only ${ops} operations ran during the migration`);
  assert.equal(await client.get(k('ctr')), String(incrs));
  assert.equal((await cluster.shardOfSlot(slot)).master, to);
  assert.equal(Number(await cluster.admin(to).call('CLUSTER', 'COUNTKEYSINSLOT', slot)) >= 41, true);
  assert.ok(Number(await infoField(client, 'cluster_redirects_ask')) > 0, 'no ASK was followed');
});

test('read policies: reads go to READONLY replicas or masters as configured; writes always to masters', async () => {
  const shards = await cluster.shards();
  const masters = shards.map((s) => s.master);
  const replicas = shards.flatMap((s) => s.replicas);
  const { client: writer } = await proxyFor(cluster);
  const keys = Array.from({ length: 30 }, (_, i) => `rp:${i}`);
  for (const key of keys) await writer.set(key, key);
  for (const m of masters) await cluster.admin(m).call('WAIT', 1, 2000);

  const expect: Record<string, (onMasters: number, onReplicas: number) => boolean> = {
    master: (m, r) => m === 30 && r === 0,
    preferMaster: (m, r) => m === 30 && r === 0,
    replica: (m, r) => m === 0 && r === 30,
    preferReplica: (m, r) => m === 0 && r === 30,
    any: (m, r) => m > 0 && r > 0 && m + r === 30,
  };
  for (const [policy, ok] of Object.entries(expect)) {
    const { client } = await proxyFor(cluster, { readPolicy: policy });
    await client.get('warm-up'); // opens the connections (READONLY handshake) before counting
    const m0 = await commandCalls(cluster, masters, 'get');
    const r0 = await commandCalls(cluster, replicas, 'get');
    for (const key of keys) assert.equal(await client.get(key), key, `${policy}: GET ${key}`);
    const m = (await commandCalls(cluster, masters, 'get')) - m0;
    const r = (await commandCalls(cluster, replicas, 'get')) - r0;
    assert.ok(ok(m, r), `${policy}: ${m} GETs on masters, ${r} on replicas`);
    // Writes go straight to masters (a replica would have answered MOVED).
    const sets0 = await commandCalls(cluster, masters, 'set');
    const moved0 = await infoField(client, 'cluster_redirects_moved');
    assert.equal(await client.set(`rp:w:${policy}`, policy), 'OK');
    assert.equal(await commandCalls(cluster, masters, 'set'), sets0 + 1);
    assert.equal(await infoField(client, 'cluster_redirects_moved'), moved0);
  }
  // Replica connections are in READONLY mode (CLIENT LIST flag r).
  const lists = await Promise.all(replicas.map((r) => cluster.admin(r).call('CLIENT', 'LIST') as Promise<string>));
  assert.ok(lists.some((l) => /flags=\w*r\w*/.test(l)), 'no READONLY client on any replica');
  await assert.rejects(startRedisProxy({ listen: '127.0.0.1:0', distribution: 'cluster', backends: cluster.addresses, cluster: { readPolicy: 'nearest' } }), /read_policy: expected one of master, preferMaster/);
});

// Last: leaves slot 16000 in a redirection loop (two masters each pointing at the other).
test('a redirection loop ends after max_redirects with a clear error', async () => {
  const { client } = await proxyFor(cluster, { maxRedirects: 3 });
  const slot = 16000;
  const key = `{${tagForSlot(slot)}}:loop`;
  assert.equal(await client.get(key), null);
  const a = (await cluster.shardOfSlot(slot)).master;
  const b = (await cluster.shards()).find((s) => s.master !== a)!.master;
  await cluster.admin(a).call('CLUSTER', 'SETSLOT', slot, 'NODE', await cluster.nodeId(b));
  await assert.rejects(client.get(key), /^ReplyError: ERR too many cluster redirections \(3; last: MOVED 16000 /);
  assert.equal(await client.get('user:1'), 'v-user:1'); // other slots unaffected
});
