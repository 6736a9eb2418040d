/**
 * Cold-start benchmark: time from request to the first response byte for a function at zero,
 * through the whole platform as `trellis gateway` runs it (gateway → activator → process
 * provider → watchdog), for node and python3 with and without the warm pool; as floors, in
 * the same run: a bare `node -e 0`, and a fresh node process that imports the same handler
 * and serves its first response (no watchdog, no platform). Rounds are interleaved (one cold
 * start of each kind per round). The client of the platform rows is a separate process that
 * keeps its connection to the gateway and times from its write to the first byte it reads.
 *
 *   npm run build && npx tsx bench/cold-start.ts [--rounds 50]
 *
 * Runs the compiled dist/ code so instances are plain `node dist/...` processes (from
 * sources every instance would also load tsx). The activator's reconcile timer is off so a
 * function stays at zero between rounds (the bench stops each instance itself).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

type ActivatorMod = typeof import('../src/faas/activator/index.js');
type PlatformMod = typeof import('../src/faas/gateway/platform.js');
type BuildMod = typeof import('../src/faas/build/index.js');
type Gateway = import('../src/faas/gateway/index.js').Gateway;

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1] || 50) || 50;
const dist = resolve(import.meta.dirname, '..', 'dist');
if (!existsSync(join(dist, 'faas', 'gateway', 'platform.js'))) {
  console.error('dist/ is missing or stale: run `npm run build` first');
  process.exit(2);
}
const load = <T>(p: string) => import(pathToFileURL(join(dist, p)).href) as Promise<T>;
const { createActivator } = await load<ActivatorMod>('faas/activator/index.js');
const { startFunctionPlatform } = await load<PlatformMod>('faas/gateway/platform.js');
const { buildFunction, packDir } = await load<BuildMod>('faas/build/index.js');

const NODE_HANDLER = "export default async (req) => 'hello from ' + req.path;\n";
const PY_HANDLER = "def handle(req):\n    return 'hello from ' + req.path\n";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const root = mkdtempSync(join(tmpdir(), 'trellis-bench-cold-'));
const bundlesDir = join(root, 'bundles');
async function bundle(name: string, file: string, code: string) {
  const dir = join(root, 'src', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, file), code);
  if (file.endsWith('.js')) writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  return buildFunction(dir, { cacheDir: bundlesDir });
}
const nodeBundle = await bundle('node', 'handler.js', NODE_HANDLER);
const pyBundle = await bundle('py', 'handler.py', PY_HANDLER);
const AUTH = 'Basic ' + Buffer.from('admin:bench').toString('base64');

interface Setup { gw: Gateway; pooled: boolean }
async function setup(pooled: boolean): Promise<Setup> {
  const gw = await startFunctionPlatform({
    listen: '127.0.0.1:0', dataDir: join(root, pooled ? 'data-pool' : 'data-fresh'), adminPassword: 'bench',
    warmPool: pooled, asyncQueue: false, log: () => {},
    activator: (deps) => createActivator({ ...deps, autoReconcile: false }),
  });
  for (const [name, b] of [['node', nodeBundle], ['py', pyBundle]] as const) {
    const up = await fetch(`${gw.url()}/system/bundles`, { method: 'POST', headers: { authorization: AUTH }, body: await packDir(b.bundleDir) });
    if (up.status !== 201) throw new Error(`bundle upload: ${up.status} ${await up.text()}`);
    const dep = await fetch(`${gw.url()}/system/functions`, {
      method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ service: name, image: `bundle:${b.bundleId}`, labels: { 'com.openfaas.scale.min': '0' } }),
    });
    if (dep.status !== 202) throw new Error(`deploy: ${dep.status} ${await dep.text()}`);
  }
  return { gw, pooled };
}
const withPool = await setup(true);
const noPool = await setup(false);

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

async function toZero(s: Setup, fn: string): Promise<void> {
  for (const i of s.gw.provider.instances(fn)) await s.gw.provider.stopInstance(i.id, 0);
  while (s.gw.provider.instances(fn).length > 0 || s.gw.activator.held(fn) > 0) await sleep(5);
}

/**
 * The client of the platform rows runs in its own process (bench/lib/ttfb-client.mjs), as
 * curl would: in this process it would share the gateway's event loop and add its own work
 * to every sample. It keeps one connection to each gateway.
 */
const probe = spawn(process.execPath, [join(import.meta.dirname, 'lib', 'ttfb-client.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
const probeLines = createInterface({ input: probe.stdout! })[Symbol.asyncIterator]();
async function ttfb(port: number, path: string): Promise<number> {
  probe.stdin!.write(`${port} ${path}\n`);
  const { value } = await probeLines.next();
  const ms = Number(value);
  if (!Number.isFinite(ms)) throw new Error(`probe: ${value}`);
  return ms;
}

/** One cold start through the gateway; returns ms to the first response byte. */
async function platformCold(s: Setup, fn: string): Promise<number> {
  await toZero(s, fn);
  // Let the pool refill and warm up between cold starts (steady state of occasional cold starts).
  await sleep(s.pooled ? 400 : 150);
  return ttfb(s.gw.address().port, `/function/${fn}/cold`);
}

/**
 * Floor: the same request to an instance that is already up, after the same 400 ms idle as
 * the pooled rows: what waking idle processes and one hop through the gateway cost with no
 * cold start at all.
 */
async function platformWarm(s: Setup, fn: string): Promise<number> {
  if (s.gw.provider.instances(fn).length === 0) await ttfb(s.gw.address().port, `/function/${fn}/wake`);
  await sleep(400);
  return ttfb(s.gw.address().port, `/function/${fn}/warm`);
}

function nodeExit(): Promise<number> {
  const t0 = performance.now();
  return new Promise((res) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', () => res(performance.now() - t0)));
}

const bareServer = join(root, 'bare-server.mjs');
writeFileSync(bareServer, `
import http from 'node:http';
const h = (await import(${JSON.stringify(pathToFileURL(join(nodeBundle.bundleDir, 'handler.js')).href)})).default;
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
  ['floor: node instance already up, same idle', () => platformWarm(withPool, 'node')],
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
console.log(`\nCold start through the gateway: request → first response byte, ${rounds} cold starts each, interleaved (${new Date().toISOString()})\n`);
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

await withPool.gw.close();
await noPool.gw.close();
probe.stdin!.end();
rmSync(root, { recursive: true, force: true });
process.exit(0);
