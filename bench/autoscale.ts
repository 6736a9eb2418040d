/**
 * Autoscaling under a step load: 1 → 200 → 1 → 0 concurrent closed-loop clients against one
 * node function (20 ms of simulated I/O per request) through the activator and the
 * ProcessProvider with the warm pool. Samples instances (ready, desired), held requests and
 * panic mode every 250 ms and request latency per second, prints a summary per phase and
 * draws docs/autoscale.svg (hand-written SVG).
 *
 *   npm run build && npx tsx bench/autoscale.ts [--out docs/autoscale.svg]
 *
 * Knative's rules and defaults, except shorter windows so the run takes ~1 minute:
 * stable window 6 s (the smallest the annotation allows; panic window 10 % → 1 s), grace 3 s,
 * tick 2 s. Per-instance target: `autoscaling.knative.dev/target: 50` × 70 % = 35 in flight.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

type ActivatorMod = typeof import('../src/faas/activator/index.js');
type RuntimeMod = typeof import('../src/faas/runtime/index.js');
type PoolMod = typeof import('../src/faas/runtime/pool/index.js');
type BuildMod = typeof import('../src/faas/build/index.js');
type FunctionRecord = import('../src/faas/types.js').FunctionRecord;

const outIdx = process.argv.indexOf('--out');
const out = resolve(outIdx > 0 ? process.argv[outIdx + 1] : join(import.meta.dirname, '..', 'docs', 'autoscale.svg'));
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

const PHASES: { clients: number; seconds: number }[] = [
  { clients: 1, seconds: 8 }, { clients: 200, seconds: 16 }, { clients: 1, seconds: 16 }, { clients: 0, seconds: 14 },
];

const root = mkdtempSync(join(tmpdir(), 'trellis-bench-autoscale-'));
const src = join(root, 'src');
mkdirSync(src, { recursive: true });
writeFileSync(join(src, 'handler.js'), 'export default async () => { await new Promise((r) => setTimeout(r, 20)); return "ok"; };\n');
writeFileSync(join(src, 'package.json'), '{"type":"module"}');
const bundlesDir = join(root, 'bundles');
const { bundleId } = await buildFunction(src, { cacheDir: bundlesDir });
const runDir = join(root, 'run');
mkdirSync(runDir);
const pool = new WarmPool({ runDir, size: { node: 2, python3: 0 } });
await pool.start();
const provider = new ProcessProvider({ bundlesDir, runDir, pool, drainQuietMs: 50 });
const now = new Date().toISOString();
const rec: FunctionRecord = {
  name: 'step', bundleId, createdAt: now, updatedAt: now, replicas: 0, version: 1,
  spec: { service: 'step', annotations: { 'autoscaling.knative.dev/target': '50', 'autoscaling.knative.dev/window': '6s' } },
};
await provider.deploy(rec);
const act = createActivator({ provider, functions: (n) => (n === 'step' ? rec : undefined), autoscaler: { scaleToZeroGracePeriodMs: 3000 } });

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
const t0 = performance.now();
const latencies: { at: number; ms: number }[] = [];
let errors = 0;
let wanted = 0;
let running = 0;

function once(): Promise<void> {
  return act.acquire('step').then((lease) => new Promise<void>((res) => {
    const req = http.get({ host: lease.host, port: lease.port, path: '/', agent }, (r) => {
      r.resume();
      r.on('end', () => { if (r.statusCode !== 200) errors++; lease.release(); res(); });
    });
    req.on('error', () => { errors++; lease.release(); res(); });
  }), () => { errors++; });
}

async function client(id: number): Promise<void> {
  running++;
  while (id < wanted) {
    const s = performance.now();
    await once();
    latencies.push({ at: (s - t0) / 1000, ms: performance.now() - s });
  }
  running--;
}

const samples: Sample[] = [];
const sampler = setInterval(() => {
  const a = act.activity('step');
  samples.push({ t: (performance.now() - t0) / 1000, clients: wanted, ready: a.ready, desired: a.desired, held: a.held, panic: a.panicking });
}, 250);

const phaseStarts: number[] = [];
for (const ph of PHASES) {
  phaseStarts.push((performance.now() - t0) / 1000);
  const before = wanted;
  wanted = ph.clients;
  for (let i = before; i < wanted; i++) void client(i);
  process.stderr.write(`phase: ${ph.clients} client(s) for ${ph.seconds} s\n`);
  await new Promise((r) => setTimeout(r, ph.seconds * 1000));
}
clearInterval(sampler);
const end = (performance.now() - t0) / 1000;

const pct = (xs: number[], p: number) => { if (xs.length === 0) return NaN; const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
console.log(`\nStep load 1 → 200 → 1 → 0 clients (${new Date().toISOString()}); ${latencies.length} requests, ${errors} errors\n`);
console.log('| phase | clients | requests | p50 ms | p99 ms | max ready | max desired | panic seen |');
console.log('|---|---:|---:|---:|---:|---:|---:|---|');
PHASES.forEach((ph, i) => {
  const from = phaseStarts[i];
  const to = i + 1 < phaseStarts.length ? phaseStarts[i + 1] : end;
  const ls = latencies.filter((l) => l.at >= from && l.at < to).map((l) => l.ms);
  const ss = samples.filter((s) => s.t >= from && s.t < to);
  console.log(`| ${i + 1} | ${ph.clients} | ${ls.length} | ${pct(ls, 50).toFixed(1)} | ${pct(ls, 99).toFixed(1)} | ${Math.max(0, ...ss.map((s) => s.ready))} | ${Math.max(0, ...ss.map((s) => s.desired))} | ${ss.some((s) => s.panic) ? 'yes' : 'no'} |`);
});
const coldMetric = (await act.metrics.coldStartSeconds.get()).values.find((v) => v.metricName?.endsWith('_count'));
console.log(`\ncold starts: ${coldMetric?.value ?? 0}; final ready instances: ${act.activity('step').ready}`);

mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, renderChart(samples, latencies, phaseStarts, end));
console.log(`chart: ${out}`);

await act.close();
await provider.close();
await pool.close();
agent.destroy();
rmSync(root, { recursive: true, force: true });
process.exit(0);

interface Sample { t: number; clients: number; ready: number; desired: number; held: number; panic: boolean }

/** The chart: instances and clients over time (panic shaded), then latency p50/p99 per second (log scale). */
function renderChart(samples: Sample[], lat: { at: number; ms: number }[], phaseStarts: number[], end: number): string {
  const W = 920, L = 60, R = 60, pw = W - L - R;
  const top = { y: 52, h: 230 }, bot = { y: 340, h: 170 };
  const x = (t: number) => L + (t / end) * pw;
  const maxInst = Math.ceil(Math.max(4, ...samples.map((s) => Math.max(s.ready, s.desired))) / 4) * 4; // ticks on whole numbers
  const instY = (v: number) => top.y + top.h - (v / maxInst) * top.h;
  const maxClients = Math.max(1, ...samples.map((s) => s.clients));
  const cliY = (v: number) => top.y + top.h - (v / maxClients) * top.h;
  const perSec = new Map<number, number[]>();
  for (const l of lat) { const k = Math.floor(l.at); (perSec.get(k) ?? perSec.set(k, []).get(k)!).push(l.ms); }
  const q = (xs: number[], p: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]; };
  const secs = [...perSec.keys()].sort((a, b) => a - b);
  const p50 = secs.map((k) => [k + 0.5, q(perSec.get(k)!, 0.5)] as const);
  const p99 = secs.map((k) => [k + 0.5, q(perSec.get(k)!, 0.99)] as const);
  const lo = 1, hi = Math.max(100, ...p99.map(([, v]) => v)) * 1.2;
  const latY = (v: number) => bot.y + bot.h - ((Math.log10(Math.max(lo, v)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * bot.h;
  const step = (pts: [number, number][]) => pts.map(([t, y], i) => (i === 0 ? `M${x(t).toFixed(1)},${y.toFixed(1)}` : `H${x(t).toFixed(1)}V${y.toFixed(1)}`)).join('');
  const line = (pts: readonly (readonly [number, number])[]) => pts.map(([t, y], i) => `${i ? 'L' : 'M'}${x(t).toFixed(1)},${y.toFixed(1)}`).join('');
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="570" viewBox="0 0 ${W} 570" font-family="system-ui, sans-serif" font-size="12">`);
  o.push('<rect width="100%" height="100%" fill="#fff"/>');
  o.push(`<text x="${L}" y="24" font-size="15" font-weight="600">Trellis autoscaling (Knative KPA) under a step load: 1 → ${maxClients} → 1 → 0 clients</text>`);
  // panic shading
  let start: number | undefined;
  for (const s of [...samples, { t: end, panic: false } as Sample]) {
    if (s.panic && start === undefined) start = s.t;
    if (!s.panic && start !== undefined) { o.push(`<rect x="${x(start).toFixed(1)}" y="${top.y}" width="${(x(s.t) - x(start)).toFixed(1)}" height="${top.h}" fill="#fde2e2"/>`); start = undefined; }
  }
  for (const ps of phaseStarts.slice(1)) o.push(`<line x1="${x(ps).toFixed(1)}" x2="${x(ps).toFixed(1)}" y1="${top.y}" y2="${bot.y + bot.h}" stroke="#bbb" stroke-dasharray="3,3"/>`);
  // axes and grid
  for (const [panel, ticks] of [[top, [0, 0.25, 0.5, 0.75, 1]], [bot, []]] as const) {
    o.push(`<rect x="${L}" y="${panel.y}" width="${pw}" height="${panel.h}" fill="none" stroke="#333"/>`);
    for (const f of ticks) {
      const y = panel.y + panel.h - f * panel.h;
      o.push(`<line x1="${L}" x2="${L + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`);
      o.push(`<text x="${L - 6}" y="${y + 4}" text-anchor="end">${Math.round(f * maxInst)}</text>`);
      o.push(`<text x="${L + pw + 6}" y="${y + 4}" fill="#888">${Math.round(f * maxClients)}</text>`);
    }
  }
  for (let v = 1; v <= hi; v *= 10) {
    o.push(`<line x1="${L}" x2="${L + pw}" y1="${latY(v)}" y2="${latY(v)}" stroke="#eee"/><text x="${L - 6}" y="${latY(v) + 4}" text-anchor="end">${v >= 1000 ? `${v / 1000}s` : `${v}ms`}</text>`);
  }
  for (let t = 0; t <= end; t += 5) {
    o.push(`<text x="${x(t).toFixed(1)}" y="${bot.y + bot.h + 16}" text-anchor="middle">${t}s</text>`);
  }
  o.push(`<text x="14" y="${top.y + top.h / 2}" transform="rotate(-90 14 ${top.y + top.h / 2})" text-anchor="middle">instances</text>`);
  o.push(`<text x="${W - 12}" y="${top.y + top.h / 2}" transform="rotate(90 ${W - 12} ${top.y + top.h / 2})" text-anchor="middle" fill="#888">clients</text>`);
  o.push(`<text x="14" y="${bot.y + bot.h / 2}" transform="rotate(-90 14 ${bot.y + bot.h / 2})" text-anchor="middle">latency</text>`);
  // series
  o.push(`<path d="${step(samples.map((s) => [s.t, cliY(s.clients)]))}" fill="none" stroke="#aaa" stroke-width="6" stroke-opacity="0.5"/>`);
  o.push(`<path d="${step(samples.map((s) => [s.t, instY(s.desired)]))}" fill="none" stroke="#e8730c" stroke-width="2" stroke-dasharray="6,4"/>`);
  o.push(`<path d="${step(samples.map((s) => [s.t, instY(s.ready)]))}" fill="none" stroke="#1f5fbf" stroke-width="2.5"/>`);
  o.push(`<path d="${line(p50.map(([t, v]) => [t, latY(v)]))}" fill="none" stroke="#2a9d3a" stroke-width="2"/>`);
  o.push(`<path d="${line(p99.map(([t, v]) => [t, latY(v)]))}" fill="none" stroke="#8a2be2" stroke-width="2"/>`);
  // legend
  const items: [string, string, string][] = [['#1f5fbf', '', 'ready instances'], ['#e8730c', '6,4', 'desired (KPA)'], ['#aaa', '', 'clients (right axis)'], ['#fde2e2', '', 'panic mode'], ['#2a9d3a', '', 'latency p50 / s'], ['#8a2be2', '', 'latency p99 / s']];
  items.forEach(([c, dash, label], i) => {
    const yy = i < 3 ? 40 : bot.y - 14;
    const xx = L + 10 + (i % 3) * 200;
    o.push(c === '#fde2e2' ? `<rect x="${xx}" y="${yy - 8}" width="22" height="10" fill="${c}"/>` : `<line x1="${xx}" x2="${xx + 22}" y1="${yy - 3}" y2="${yy - 3}" stroke="${c}" stroke-width="3" ${dash ? `stroke-dasharray="${dash}"` : ''}/>`);
    o.push(`<text x="${xx + 28}" y="${yy + 1}">${label}</text>`);
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}
