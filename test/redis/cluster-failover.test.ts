/**
 * distribution: cluster failover against a real Redis Cluster (3 masters + 3 replicas,
 * cluster-node-timeout 2000 ms): a coordinated CLUSTER FAILOVER under traffic, then a killed
 * master whose replica is promoted. The proxy recovers without a restart; the write outage of
 * the affected slots is measured and printed (never asserted: the machine may be busy).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startRedisProxy, type RedisProxy } from '../../src/redis/index.js';
import { startRedisCluster, tagForSlot, type TestCluster } from '../helpers/redis-cluster.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let cluster: TestCluster;
const closers: Array<() => Promise<unknown> | void> = [];

before(async () => { cluster = await startRedisCluster(undefined, { nodeTimeoutMs: 2000 }); });
after(async () => {
  for (const c of closers.reverse()) await c();
  await cluster.stop();
});

async function proxyFor(settings: Record<string, unknown> = {}): Promise<{ proxy: RedisProxy; port: number }> {
  const proxy = await startRedisProxy({ listen: '127.0.0.1:0', distribution: 'cluster', backends: cluster.addresses, cluster: settings });
  closers.push(() => proxy.close(0));
  return { proxy, port: proxy.address().port };
}

interface Outcome { t: number; ok: boolean; ms: number; err?: string }

/** Runs `op(n)` back to back (with `pauseMs` between) until stopped; records each outcome. */
function loop(port: number, op: (c: Redis, n: number) => Promise<void>, pauseMs = 5): { outcomes: Outcome[]; stop: () => Promise<void> } {
  const outcomes: Outcome[] = [];
  let stopped = false;
  const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  c.on('error', () => { /* counted per command */ });
  const done = (async () => {
    for (let n = 0; !stopped; n++) {
      const t0 = Date.now();
      try {
        await op(c, n);
        outcomes.push({ t: Date.now(), ok: true, ms: Date.now() - t0 });
      } catch (err) {
        outcomes.push({ t: Date.now(), ok: false, ms: Date.now() - t0, err: (err as Error).message });
      }
      await sleep(pauseMs);
    }
  })();
  const stop = async () => { stopped = true; await done; c.disconnect(); };
  closers.push(stop); // stopped at the end of the file too, should a test fail before it does
  return { outcomes, stop };
}

/** Time from the first failure to the first success after the last failure (0 when none failed). */
function outage(outcomes: Outcome[]): { ms: number; failures: number; sample: string } {
  const firstFail = outcomes.findIndex((o) => !o.ok);
  if (firstFail < 0) return { ms: 0, failures: 0, sample: '' };
  let lastFail = firstFail;
  outcomes.forEach((o, i) => { if (!o.ok) lastFail = i; });
  const recovered = outcomes[lastFail + 1]?.t ?? outcomes[lastFail].t;
  return { ms: recovered - outcomes[firstFail].t, failures: outcomes.filter((o) => !o.ok).length, sample: outcomes[firstFail].err ?? '' };
}

test('CLUSTER FAILOVER under traffic: the coordinated switch is followed without client errors', async () => {
  const { port } = await proxyFor();
  const slot = 100;
  const tag = tagForSlot(slot);
  const shard = await cluster.shardOfSlot(slot);
  const writes = loop(port, async (c, n) => {
    assert.equal(await c.set(`{${tag}}:f`, String(n)), 'OK');
    assert.equal(await c.get(`{${tag}}:f`), String(n));
  });
  await sleep(200);
  await cluster.failover(shard.replicas[0]);
  await cluster.waitOk();
  await sleep(300);
  await writes.stop();
  const o = outage(writes.outcomes);
  process.stdout.write(`cluster-failover: CLUSTER FAILOVER: ${writes.outcomes.length} SET+GET pairs, ${o.failures} failed, outage ${o.ms} ms ${o.sample}\n`);
  assert.equal(o.failures, 0, `errors during a coordinated failover: ${o.sample}`);
  assert.equal((await cluster.shardOfSlot(slot)).master, shard.replicas[0]);
  const last = writes.outcomes.length - 1;
  assert.equal(await cluster.admin(shard.replicas[0]).get(`{${tag}}:f`), String(last));
});

test('killed master: its replica is promoted and the proxy recovers without restart (write outage measured)', async () => {
  const { port } = await proxyFor();
  const { port: readPort } = await proxyFor({ readPolicy: 'preferMaster' });
  // failover_wait: unsent requests wait (up to 15 s) for the new master instead of failing.
  const { port: waitPort } = await proxyFor({ failoverWaitMs: 15_000 });
  const slot = 9000;
  const tag = tagForSlot(slot);
  const shard = await cluster.shardOfSlot(slot);
  const otherSlot = (await cluster.shards()).find((s) => s.master !== shard.master)!.slots[0][0];
  const otherTag = tagForSlot(otherSlot);
  const seed = new Redis({ port, host: '127.0.0.1' });
  closers.push(() => seed.disconnect());
  await seed.set(`{${tag}}:seed`, 'kept');
  await cluster.admin(shard.master).call('WAIT', 1, 2000);

  const affected = loop(port, async (c, n) => { assert.equal(await c.set(`{${tag}}:w`, String(n)), 'OK'); });
  const unaffected = loop(port, async (c, n) => { assert.equal(await c.set(`{${otherTag}}:w`, String(n)), 'OK'); });
  const reads = loop(readPort, async (c) => { assert.equal(await c.get(`{${tag}}:seed`), 'kept'); });
  const waiting = loop(waitPort, async (c, n) => { assert.equal(await c.set(`{${tag}}:wait`, String(n)), 'OK'); });
  await sleep(300);
  const killedAt = Date.now();
  const { killed } = await cluster.killMasterOf(slot);
  const promoted = await cluster.waitNewMaster(slot, killed);
  const promotedAt = Date.now();
  // Keep going until the affected writes have succeeded for a while after the promotion.
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const tail = affected.outcomes.slice(-20);
    if (tail.length === 20 && tail.every((o) => o.ok && o.t > promotedAt)) break;
    await sleep(50);
  }
  await Promise.all([affected.stop(), unaffected.stop(), reads.stop(), waiting.stop()]);

  const a = outage(affected.outcomes);
  const u = outage(unaffected.outcomes);
  const r = outage(reads.outcomes);
  const w = outage(waiting.outcomes);
  const slowest = Math.max(...waiting.outcomes.map((o) => o.ms));
  process.stdout.write(`cluster-failover: killed master ${killed}; ${promoted} promoted ${promotedAt - killedAt} ms after the kill\n`);
  process.stdout.write(`cluster-failover: write outage, affected slots: ${a.ms} ms (${a.failures} of ${affected.outcomes.length} SETs failed; first error: ${a.sample})\n`);
  process.stdout.write(`cluster-failover: write outage, other shards: ${u.ms} ms (${u.failures} of ${unaffected.outcomes.length} SETs failed; first error: ${u.sample})\n`);
  process.stdout.write(`cluster-failover: with failover_wait 15000: ${w.failures} of ${waiting.outcomes.length} SETs failed (first error: ${w.sample}); slowest SET ${slowest} ms\n`);
  process.stdout.write(`cluster-failover: reads with read_policy preferMaster: ${r.failures} of ${reads.outcomes.length} GETs failed (outage ${r.ms} ms)\n`);

  // Recovered without restarting the proxy: the last writes succeeded and landed on the new master.
  const tail = affected.outcomes.slice(-20);
  assert.ok(tail.every((o) => o.ok), `writes still failing: ${tail.find((o) => !o.ok)?.err}`);
  assert.equal(await cluster.admin(promoted).get(`{${tag}}:w`), String(affected.outcomes.length - 1));
  assert.equal(await seed.get(`{${tag}}:seed`), 'kept');
  assert.ok(unaffected.outcomes.slice(-5).every((o) => o.ok));
  assert.ok(waiting.outcomes.slice(-5).every((o) => o.ok));
  assert.equal(await cluster.admin(promoted).get(`{${tag}}:wait`), String(waiting.outcomes.length - 1));
});
