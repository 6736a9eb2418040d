/**
 * Async queue benchmark: for each driver (sqlite with fsync'd enqueues — the default, database on
 * a storage thread —, the same with the database on the event loop (TRELLIS_ASYNC_SQLITE_THREAD=false,
 * the earlier design), sqlite with TRELLIS_ASYNC_SQLITE_SYNC=normal, nats) a real `trellis gateway` process with
 * one trivial node function (ProcessProvider, pinned to one instance). Per driver, in
 * interleaved rounds:
 *   - enqueue latency: sequential POST /async-function/bench → 202, p50/p99 (durable store included);
 *   - end-to-end jobs/s: N jobs submitted by 32 concurrent clients, until the last callback arrives;
 *   - a sync POST /function/bench p50 on the same gateway, as the baseline for the ratio.
 * Run: npx tsx bench/async.ts [rounds=2] [jobs=2000]. Prints a markdown table.
 */
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { buildFunction } from '../src/faas/build/index.js';
import { ManagedProcess } from '../src/util/managed-process.js';
import { getFreePort, waitForPort } from '../src/util/net.js';
import { startNats } from '../test/helpers/servers.js';

const ROUNDS = Number(process.argv[2] ?? 2);
const JOBS = Number(process.argv[3] ?? 2000);
const LAT_N = 500;
const AUTH = 'Basic ' + Buffer.from('admin:bench').toString('base64');
type Driver = 'sqlite' | 'sqlite-inline' | 'sqlite-normal' | 'nats';

const root = mkdtempSync(join(tmpdir(), 'trellis-bench-async-'));
const nats = await startNats();
const agent = new Agent({ connections: 64 });

// One callback receiver for all runs; counts arrivals per run tag.
let received = 0;
const receiver = http.createServer((req, res) => { req.resume(); req.on('end', () => { received++; res.end(); }); });
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
const callbackUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/cb`;

async function startGateway(driver: Driver): Promise<{ url: string; proc: ManagedProcess }> {
  const dataDir = join(root, driver);
  mkdirSync(dataDir, { recursive: true });
  const src = join(root, `src-${driver}`);
  mkdirSync(src);
  writeFileSync(join(src, 'handler.js'), 'export default async () => "hello\\n";\n');
  const built = await buildFunction(src, { cacheDir: join(dataDir, 'bundles') });
  const port = await getFreePort();
  const proc = new ManagedProcess(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'gateway', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--no-warm-pool'], {
    env: {
      ...process.env, TRELLIS_ADMIN_PASSWORD: 'bench', TRELLIS_ASYNC_MAX_INFLIGHT: '32',
      TRELLIS_ASYNC_DRIVER: driver === 'nats' ? 'nats' : 'sqlite', TRELLIS_ASYNC_SQLITE_SYNC: driver === 'sqlite-normal' ? 'normal' : 'full',
      TRELLIS_ASYNC_SQLITE_THREAD: driver === 'sqlite-inline' ? 'false' : 'true',
      ...(driver === 'nats' ? { TRELLIS_NATS_URL: nats.url, TRELLIS_NATS_STREAM: 'BENCH' } : {}),
    },
  });
  await waitForPort(port, '127.0.0.1', 30_000);
  while (!proc.recentOutput().includes('listening on')) await new Promise((r) => setTimeout(r, 50));
  const url = `http://127.0.0.1:${port}`;
  const r = await fetch(`${url}/system/functions`, {
    method: 'POST', headers: { authorization: AUTH },
    body: JSON.stringify({ service: 'bench', image: `bundle:${built.bundleId}`, labels: { 'com.openfaas.scale.min': '1', 'com.openfaas.scale.max': '1' } }),
  });
  if (r.status !== 202) throw new Error(`deploy on ${driver}: ${r.status} ${await r.text()}`);
  for (let i = 0; i < 200; i++) { // wait until the function answers
    const res = await request(`${url}/function/bench`, { method: 'POST', body: 'x', dispatcher: agent });
    await res.body.dump();
    if (res.statusCode === 200) break;
    await new Promise((r2) => setTimeout(r2, 100));
  }
  return { url, proc };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function latency(url: string, path: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const res = await request(url + path, { method: 'POST', body: `lat-${i}`, dispatcher: agent });
    await res.body.dump();
    out.push(performance.now() - t0);
    if (res.statusCode >= 300 && res.statusCode !== 202) throw new Error(`${path}: HTTP ${res.statusCode}`);
  }
  return out;
}

async function endToEnd(url: string, n: number): Promise<number> {
  const start = received;
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: 32 }, async () => {
    for (let i = next++; i < n; i = next++) {
      const res = await request(`${url}/async-function/bench`, { method: 'POST', body: `e2e-${i}`, headers: { 'x-callback-url': callbackUrl }, dispatcher: agent });
      await res.body.dump();
      if (res.statusCode !== 202) throw new Error(`submit: HTTP ${res.statusCode}`);
    }
  }));
  const deadline = Date.now() + 300_000;
  while (received - start < n) {
    if (Date.now() > deadline) throw new Error(`only ${received - start}/${n} callbacks`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return n / ((performance.now() - t0) / 1000);
}

const drivers: Driver[] = ['sqlite', 'sqlite-inline', 'sqlite-normal', 'nats'];
const gws = new Map<Driver, { url: string; proc: ManagedProcess }>();
for (const d of drivers) gws.set(d, await startGateway(d));
// Warm-up: callbacks drain any earlier job; small runs warm JIT and connections.
for (const d of drivers) { await latency(gws.get(d)!.url, '/async-function/bench', 50); await endToEnd(gws.get(d)!.url, 100); }
await new Promise((r) => setTimeout(r, 1000));

const res = new Map<Driver, { enq: number[]; sync: number[]; e2e: number[] }>(drivers.map((d) => [d, { enq: [], sync: [], e2e: [] }]));
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? drivers : [...drivers].reverse();
  for (const d of order) {
    const { url } = gws.get(d)!;
    const r = res.get(d)!;
    r.sync.push(...(await latency(url, '/function/bench', LAT_N)));
    r.enq.push(...(await latency(url, '/async-function/bench', LAT_N)));
    // Let the latency jobs drain before the throughput run.
    await new Promise((x) => setTimeout(x, 1500));
    r.e2e.push(await endToEnd(url, JOBS));
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const f = (x: number) => x.toFixed(2);
const rows = drivers.map((d) => {
  const r = res.get(d)!;
  return { d, p50: pct(r.enq, 50), p99: pct(r.enq, 99), sync50: pct(r.sync, 50), e2e: mean(r.e2e) };
});
const base = rows[0];
console.log(`\nAsync queue, ${ROUNDS} interleaved rounds, ${LAT_N} sequential enqueues and ${JOBS} end-to-end jobs per round and driver; worker max_inflight 32; trivial node function, 1 instance.\n`);
console.log('| driver | enqueue p50 (ms) | enqueue p99 (ms) | sync invoke p50 (ms) | enqueue p50 / sync p50 | end-to-end jobs/s | jobs/s vs sqlite |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.d} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.sync50)} | ${f(r.p50 / r.sync50)}× | ${r.e2e.toFixed(0)} | ${f(r.e2e / base.e2e)}× |`);
}

for (const g of gws.values()) await g.proc.stop();
await nats.stop();
receiver.close();
await agent.close();
rmSync(root, { recursive: true, force: true });
rmSync(nats.storeDir, { recursive: true, force: true });
process.exit(0);
