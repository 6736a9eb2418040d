/**
 * Redis Cluster row of the Redis proxy benchmark: the same GET/SET workload against a real
 * Redis Cluster (3 masters) through
 *   - trellis: `trellis redis-proxy --distribution cluster` in its own process, driven by plain
 *     (non-cluster) ioredis clients, and
 *   - ioredis-cluster: ioredis' Cluster client connecting to the nodes directly,
 * both with enableAutoPipelining (commands issued in one tick share a write). Interleaved rounds,
 * rotating target order; prints median ops/s per row and the trellis/ioredis-cluster ratio.
 *
 *   npx tsx bench/redis-cluster.ts
 *   ROUNDS=3 SECONDS=2 CLIENTS=16 KEYSPACE=10000 ROWS="GET/1 SET/1 GET/16 SET/16" npx tsx bench/redis-cluster.ts
 *
 * GET/16 = each client keeps 16 commands in flight per batch (Promise.all of 16), i.e. pipelined.
 * Trellis CPU per command = the proxy process' utime+stime delta / commands.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Cluster, Redis } from 'ioredis';
import { ManagedProcess } from '../src/util/managed-process.js';
import { getFreePort, waitForPort } from '../src/util/net.js';
import { startRedisCluster } from '../test/helpers/redis-cluster.js';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SECONDS = Number(process.env.SECONDS ?? 2);
const CLIENTS = Number(process.env.CLIENTS ?? 16);
const KEYSPACE = Number(process.env.KEYSPACE ?? 10_000);
const ROWS = (process.env.ROWS ?? 'GET/1 SET/1 GET/16 SET/16').split(/\s+/).filter(Boolean);
const TARGETS = ['trellis', 'ioredis-cluster'] as const;
type Target = (typeof TARGETS)[number];

const key = (i: number) => `key:${i}`;
const value = 'x'.repeat(32);

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

async function main(): Promise<void> {
  process.stderr.write('bench: starting a Redis Cluster (3 masters) ...\n');
  const cluster = await startRedisCluster(undefined, { masters: 3, replicasPerMaster: 0 });
  const port = await getFreePort();
  // The proxy in its own process (as `trellis redis-proxy --distribution cluster --backend ...` runs it).
  const pool = JSON.stringify({ listen: `127.0.0.1:${port}`, distribution: 'cluster', backends: cluster.addresses });
  const trellis = new ManagedProcess(process.execPath, [
    '--import', 'tsx', '--input-type=module', '-e',
    `import { startRedisProxy } from './src/redis/index.ts'; await startRedisProxy(${pool}); setInterval(() => {}, 1 << 30);`,
  ]);
  const pid = trellis.proc.pid!;
  try {
    await waitForPort(port, '127.0.0.1', 20_000).catch((e) => { throw new Error(`${e.message}\n${trellis.recentOutput()}`); });
    const clients: Record<Target, Array<Redis | Cluster>> = {
      trellis: Array.from({ length: CLIENTS }, () => new Redis({ port, host: '127.0.0.1', enableAutoPipelining: true })),
      'ioredis-cluster': Array.from({ length: CLIENTS }, () => new Cluster([{ host: '127.0.0.1', port: Number(cluster.addresses[0].split(':')[1]) }], { enableAutoPipelining: true })),
    };
    process.stderr.write(`bench: preloading ${KEYSPACE} keys ...\n`);
    const loader = clients.trellis[0];
    for (let i = 0; i < KEYSPACE; i += 500) await Promise.all(Array.from({ length: Math.min(500, KEYSPACE - i) }, (_, j) => loader.set(key(i + j), value)));
    // Warm up every client (Cluster clients load the slot table; connections open).
    for (const t of TARGETS) await Promise.all(clients[t].map((c) => c.get(key(0))));
    if ((await clients['ioredis-cluster'][0].get(key(7))) !== value) throw new Error('ioredis Cluster does not see the keys written through Trellis');

    const results = new Map<string, { ops: number[]; cpu: number[] }>();
    const runOne = async (row: string, target: Target, record = true) => {
      const [kind, depthStr] = row.split('/');
      const depth = Number(depthStr);
      let ops = 0;
      const end = performance.now() + SECONDS * 1000;
      const t0 = performance.now();
      const cpu0 = target === 'trellis' ? cpuTicks(pid) : 0;
      await Promise.all(clients[target].map(async (c) => {
        let n = Math.floor(Math.random() * KEYSPACE);
        while (performance.now() < end) {
          const batch: Array<Promise<unknown>> = new Array(depth);
          for (let k = 0; k < depth; k++) {
            n = (n + 7919) % KEYSPACE;
            batch[k] = kind === 'GET' ? c.get(key(n)) : c.set(key(n), value);
          }
          await Promise.all(batch);
          ops += depth;
        }
      }));
      const secs = (performance.now() - t0) / 1000;
      const cpuUs = target === 'trellis' ? ((cpuTicks(pid) - cpu0) * 1e6) / 100 / ops : NaN;
      if (!record) return;
      const id = `${row}\t${target}`;
      if (!results.has(id)) results.set(id, { ops: [], cpu: [] });
      results.get(id)!.ops.push(ops / secs);
      results.get(id)!.cpu.push(cpuUs);
      process.stderr.write(`  ${row.padEnd(7)} ${target.padEnd(16)} ${Math.round(ops / secs).toLocaleString('en-US')} ops/s\n`);
    };
    process.stderr.write('bench: warm-up (not recorded)\n');
    for (const t of TARGETS) for (const row of ROWS) await runOne(row, t, false);
    for (let round = 1; round <= ROUNDS; round++) {
      process.stderr.write(`bench: round ${round}/${ROUNDS}\n`);
      for (const row of ROWS) {
        for (let k = 0; k < TARGETS.length; k++) await runOne(row, TARGETS[(k + round) % TARGETS.length]);
      }
    }
    const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };
    const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log(`\nRedis Cluster benchmark: 3 masters, ${ROUNDS} interleaved rounds of ${SECONDS} s, ${CLIENTS} clients, keyspace ${KEYSPACE}, 32-byte values, enableAutoPipelining on both; medians.`);
    console.log('| row | trellis (cluster mode, plain ioredis) ops/s | ioredis Cluster direct ops/s | trellis/ioredis-cluster | trellis µs CPU/cmd |');
    console.log('|---|---:|---:|---:|---:|');
    for (const row of ROWS) {
      const tr = results.get(`${row}\ttrellis`)!;
      const ic = results.get(`${row}\tioredis-cluster`)!;
      console.log(`| ${row} | ${fmt(median(tr.ops))} | ${fmt(median(ic.ops))} | ${(median(tr.ops) / median(ic.ops)).toFixed(2)}× | ${median(tr.cpu).toFixed(1)} |`);
    }
    for (const t of TARGETS) for (const c of clients[t]) c.disconnect();
  } finally {
    await trellis.stop();
    await cluster.stop();
  }
}

await main();
