/**
 * Differential test: concurrent pipelined clients send the same random command sequence through
 * the proxy (4 backends) and to one direct Redis; every reply must match. Each client has its
 * own key space, so the interleaving between clients does not matter. SEED=<n> reproduces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis, startRedisMany } from '../helpers/servers.js';
import { startRedisProxy } from '../../src/redis/index.js';
import { CommandGen, normalize, readCommandFor } from './differential-gen.js';

const CLIENTS = 8;
const BATCHES = Number(process.env.DIFF_BATCHES ?? 100);
const BATCH_SIZE = 60;

async function runPipeline(client: Redis, cmds: string[][]): Promise<Array<[Error | null, unknown]>> {
  const p = client.pipeline();
  for (const [name, ...args] of cmds) p.call(name, ...args);
  return (await p.exec()) as Array<[Error | null, unknown]>;
}

test('differential: proxy over 4 shards answers exactly like one Redis', async (t) => {
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`seed ${seed} (rerun with SEED=${seed})`);
  const backends = await startRedisMany(4, t);
  const direct = await startRedis(t);
  const proxy = await startRedisProxy({
    name: 'diff', listen: '127.0.0.1:0', distribution: 'ketama', hash: 'fnv1a_64', hashTag: '{}', timeoutMs: 10_000,
    backends: backends.map((b) => b.address),
  });
  t.after(() => proxy.close());
  const { host, port } = proxy.address();

  const opts = { enableReadyCheck: false, maxRetriesPerRequest: 0, lazyConnect: true } as const;
  const mismatches: string[] = [];
  let total = 0;
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    const viaProxy = new Redis({ ...opts, host, port });
    const viaDirect = new Redis({ ...opts, host: direct.host, port: direct.port });
    try {
      await Promise.all([viaProxy.connect(), viaDirect.connect()]);
      const gen = new CommandGen(seed + c * 7919, `c${c}`);
      for (let b = 0; b < BATCHES && mismatches.length === 0; b++) {
        const cmds = Array.from({ length: BATCH_SIZE }, () => gen.next());
        const [got, want] = await Promise.all([runPipeline(viaProxy, cmds), runPipeline(viaDirect, cmds)]);
        for (let i = 0; i < cmds.length; i++) {
          total++;
          const g = normalize(cmds[i], got[i][0], got[i][1]);
          const w = normalize(cmds[i], want[i][0], want[i][1]);
          if (!isDeepStrictEqual(g, w)) {
            mismatches.push(`seed ${seed} client ${c} batch ${b} #${i}: ${JSON.stringify(cmds[i])}\n  proxy:  ${JSON.stringify(g)}\n  direct: ${JSON.stringify(w)}`);
            if (mismatches.length >= 5) break;
          }
        }
      }
    } finally {
      viaProxy.disconnect();
      viaDirect.disconnect();
    }
  }));
  assert.deepEqual(mismatches, [], mismatches.join('\n'));
  assert.equal(total, CLIENTS * BATCHES * BATCH_SIZE);

  // Final state: the same keys, types, values and expiry kinds through the proxy as in the direct Redis.
  const viaProxy = new Redis({ host, port });
  const viaDirect = new Redis({ host: direct.host, port: direct.port });
  try {
    const keys = ((await viaDirect.keys('*')) as string[]).sort();
    assert.ok(keys.length > 100, `only ${keys.length} keys left`);
    assert.deepEqual(((await viaProxy.keys('*')) as string[]).sort(), keys);
    assert.equal(await viaProxy.dbsize(), keys.length);
    const reads: string[][] = [];
    for (const key of keys) {
      const type = await viaDirect.type(key);
      reads.push(['TYPE', key], ['TTL', key]);
      const read = readCommandFor(type, key);
      if (read) reads.push(read);
    }
    const [got, want] = await Promise.all([runPipeline(viaProxy, reads), runPipeline(viaDirect, reads)]);
    reads.forEach((cmd, i) => {
      assert.deepEqual(normalize(cmd, got[i][0], got[i][1]), normalize(cmd, want[i][0], want[i][1]), `seed ${seed}: ${JSON.stringify(cmd)}`);
    });
  } finally {
    viaProxy.disconnect();
    viaDirect.disconnect();
  }

  // Multi-key commands really were split over shards, and no hash-tagged command was refused.
  const st = proxy.stats();
  assert.equal(st.splitter.cross_shard, 0);
  assert.ok(st.splitter.fragments > 1000, `only ${st.splitter.fragments} fragments`);
  // The data really is spread: every backend holds some of the keys.
  for (const b of backends) {
    const c = new Redis({ host: b.host, port: b.port });
    const n = await c.dbsize();
    c.disconnect();
    assert.ok(n > 0, `backend ${b.address} holds no keys`);
  }
});
