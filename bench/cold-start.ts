/**
 * Cold-start benchmark: time from request to the first response byte for a function at zero,
 * through the activator and the ProcessProvider, for node and python3 with and without the
 * warm pool; as floors, in the same run: a bare `node -e 0`, and a fresh node process that
 * imports the same handler and serves its first response (no watchdog, no platform).
 * Rounds are interleaved (one cold start of each kind per round).
 *
 *   npm run build && npx tsx bench/cold-start.ts [--rounds 50]
 *
 * Runs the compiled dist/ code so instances are plain `node dist/...` processes (from
 * sources every instance would also load tsx).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

type ActivatorMod = typeof import('../src/faas/activator/index.js');
type RuntimeMod = typeof import('../src/faas/runtime/index.js');
type PoolMod = typeof import('../src/faas/runtime/pool/index.js');
type BuildMod = typeof import('../src/faas/build/index.js');
type FunctionRecord = import('../src/faas/types.js').FunctionRecord;

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 50) || 50;
const dist = resolve(import.meta.dirname, '..', 'dist');
if (!existsSync(join(dist, 'faas', 'activator', 'index.js'))) {
  console.error('dist/ is missing or stale: run `npm run build` first');
  process.exit(2);
}
const load = <T>(p: string) => import(pathToFileURL(join(dist, p)).href) as Promise<T>;
const { createActivator } = await load<ActivatorMod>('faas/activator/index.js');
const { ProcessProvider } = await load<RuntimeMod>('faas/runtime/index.js');
const { WarmPool } = await load<PoolMod>('faas/runtime/pool/index.js');
const { buildFunction } = await load<BuildMod>('faas/build/index.js');

const NODE_HANDLER = "export default async (req) => 'hello from ' + req.path;\n";
const PY_HANDLER = "def handle(req):\n    return 'hello from ' + req.path\n";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const root = mkdtempSync(join(tmpdir(), 'trellis-bench-cold-'));
const bundlesDir = join(root, 'bundles');
async function bundle(name: string, file: string, code: string): Promise<string> {
  const dir = join(root, 'src', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), code);
  if (file.endsWith('.js')) writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  return (await buildFunction(dir, { cacheDir: bundlesDir })).bundleId;
}
const nodeBundle = await bundle('node', 'handler.js', NODE_HANDLER);
const pyBundle = await bundle('py', 'handler.py', PY_HANDLER);

function setup(withPool: boolean) {
  const runDir = join(root, withPool ? 'run-pool' : 'run-fresh');
  mkdirSync(runDir, { recursive: true });
  const pool = withPool ? new WarmPool({ runDir, size: { node: 2, python3: 1 } }) : undefined;
  const provider = new ProcessProvider({ bundlesDir, runDir, pool, drainMs: 1000, drainQuietMs: 0 });
  const records = new Map<string, FunctionRecord>();
  const act = createActivator({ provider, functions: (n) => records.get(n), autoReconcile: false });
  return { pool, provider, act, records };
}
const withPool = setup(true);
const noPool = setup(false);
await withPool.pool!.start();
const now = new Date().toISOString();
for (const s of [withPool, noPool]) {
  for (const [name, bundleId] of [['node', nodeBundle], ['py', pyBundle]] as const) {
    const rec: FunctionRecord = { name, spec: { service: name }, bundleId, createdAt: now, updatedAt: now, replicas: 0, version: 1 };
    s.records.set(name, rec);
    await s.provider.deploy(rec);
  }
}

function firstByte(host: string, port: number, path: string): Promise<void> {
  return new Promise((res, rej) => {
    const req = http.get({ host, port, path, agent: false }, (r) => {
      if (r.statusCode !== 200) rej(new Error(`HTTP ${r.statusCode}`));
      r.once('data', () => res());
      r.resume();
    });
    req.on('error', rej);
  });
}

/** One cold start through the platform; returns ms to the first response byte. */
async function platformCold(s: ReturnType<typeof setup>, fn: string): Promise<number> {
  const t0 = performance.now();
  const lease = await s.act.acquire(fn);
  await firstByte(lease.host, lease.port, '/cold');
  const ms = performance.now() - t0;
  lease.release();
  // Back to zero for the next round, and let the pool refill and warm up.
  await s.provider.stopInstance(lease.instanceId, 0);
  while (s.act.activity(fn).ready > 0 || s.provider.instances(fn).length > 0) await sleep(5);
  if (s.pool) while (s.pool.size('node') < 2 || s.pool.size('python3') < 1) await sleep(5);
  await sleep(150);
  return ms;
}

function nodeExit(): Promise<number> {
  const t0 = performance.now();
  return new Promise((res) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', () => res(performance.now() - t0)));
}

const bareServer = join(root, 'bare-server.mjs');
writeFileSync(bareServer, `
import http from 'node:http';
const h = (await import(${JSON.stringify(pathToFileURL(join(bundlesDir, nodeBundle, 'handler.js')).href)})).default;
const s = http.createServer(async (req, res) => { const out = await h({ path: req.url }); res.end(out); });
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
`);
/** A fresh node process importing the handler and serving its first response. */
function bareNode(): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [bareServer], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((res, rej) => {
    child.stdout.once('data', (b: Buffer) => {
      firstByte('127.0.0.1', Number(b.toString().trim()), '/cold').then(() => { res(performance.now() - t0); child.kill(); }, rej);
    });
  });
}

const kinds: [string, () => Promise<number>][] = [
  ['node, warm pool', () => platformCold(withPool, 'node')],
  ['node, no pool', () => platformCold(noPool, 'node')],
  ['python3, warm pool', () => platformCold(withPool, 'py')],
  ['python3, no pool', () => platformCold(noPool, 'py')],
  ['floor: fresh node serving the handler', bareNode],
  ['floor: `node -e 0`', nodeExit],
];
const samples = new Map<string, number[]>(kinds.map(([k]) => [k, []]));
for (const [, f] of kinds) await f(); // warm-up round, not counted
for (let r = 0; r < rounds; r++) {
  for (const [k, f] of kinds) samples.get(k)!.push(await f());
  if ((r + 1) % 10 === 0) process.stderr.write(`round ${r + 1}/${rounds}\n`);
}

const pct = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const bareP50 = pct(samples.get('floor: fresh node serving the handler')!, 50);
console.log(`\nCold start: request → first response byte, ${rounds} cold starts each, interleaved (${new Date().toISOString()})\n`);
console.log('| kind | p50 ms | p95 ms | p99 ms | p50 ÷ fresh node |');
console.log('|---|---:|---:|---:|---:|');
for (const [k] of kinds) {
  const xs = samples.get(k)!;
  console.log(`| ${k} | ${pct(xs, 50).toFixed(1)} | ${pct(xs, 95).toFixed(1)} | ${pct(xs, 99).toFixed(1)} | ${(pct(xs, 50) / bareP50).toFixed(2)}× |`);
}
const np = samples.get('node, warm pool')!;
const nf = samples.get('node, no pool')!;
console.log(`\nGoals: node with pool p50 ≤ 5 ms (${pct(np, 50).toFixed(1)}), p99 ≤ 10 ms (${pct(np, 99).toFixed(1)}); ` +
  `without pool ≤ 1.2× fresh node (${(pct(nf, 50) / bareP50).toFixed(2)}×)`);

await withPool.act.close();
await noPool.act.close();
await withPool.provider.close();
await noPool.provider.close();
await withPool.pool!.close();
rmSync(root, { recursive: true, force: true });
process.exit(0);
