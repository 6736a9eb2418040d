// Reads bench result lines "row<TAB>target<TAB>rps<TAB>p50<TAB>p99<TAB>cpu_us_per_cmd" (one per run)
// and prints a markdown table of medians over rounds with Trellis/twemproxy and Trellis/direct ratios,
// and how many rounds Trellis won against twemproxy (the n-th run of each target in a row is round n).
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean);
const runs = new Map();
const rowOrder = [];
for (const line of lines) {
  const [row, target, rps, p50, p99, cpu] = line.split('\t');
  if (!runs.has(row)) { runs.set(row, new Map()); rowOrder.push(row); }
  const byTarget = runs.get(row);
  if (!byTarget.has(target)) byTarget.set(target, []);
  byTarget.get(target).push({ rps: +rps, p50: +p50, p99: +p99, cpu: cpu === '' ? NaN : +cpu });
}
const median = (xs) => {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const stat = (row, target, k) => median((runs.get(row)?.get(target) ?? []).map((r) => r[k]));
const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
const lat = (row, t) => `${fmt(stat(row, t, 'p50'), 3)} / ${fmt(stat(row, t, 'p99'), 3)}`;
/** "ops/s wins · p99 wins" of trellis over twemproxy, round by round (a p99 tie counts as a win: no worse). */
const wins = (row) => {
  const tr = runs.get(row)?.get('trellis') ?? [];
  const tw = runs.get(row)?.get('twemproxy') ?? [];
  const n = Math.min(tr.length, tw.length);
  if (n === 0) return 'n/a';
  let ops = 0, p99 = 0;
  for (let i = 0; i < n; i++) { if (tr[i].rps > tw[i].rps) ops++; if (tr[i].p99 <= tw[i].p99) p99++; }
  return `${ops}/${n} · ${p99}/${n}`;
};
/**
 * Median over rounds of trellis/twemproxy for ops/s and for p99, each round's pair run back to
 * back. The VM's speed drifts during a run, and the median of each target's own series can land
 * on rounds taken at different speeds; the per-round ratio compares like with like.
 */
const paired = (row) => {
  const tr = runs.get(row)?.get('trellis') ?? [];
  const tw = runs.get(row)?.get('twemproxy') ?? [];
  const n = Math.min(tr.length, tw.length);
  if (n === 0) return 'n/a';
  const ops = median(tr.slice(0, n).map((r, i) => r.rps / tw[i].rps));
  const p99 = median(tr.slice(0, n).map((r, i) => r.p99 / tw[i].p99));
  return `${ops.toFixed(2)}× · ${p99.toFixed(2)}×`;
};
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a');

const out = [];
out.push('| row | direct ops/s | twemproxy ops/s | trellis ops/s | direct p50/p99 ms | twemproxy p50/p99 ms | trellis p50/p99 ms | trellis µs CPU/cmd | twemproxy µs CPU/cmd | trellis/twemproxy | rounds won vs twemproxy (ops/s · p99) | per-round trellis/twemproxy, median (ops/s · p99) | trellis/direct |');
out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const row of rowOrder) {
  const d = stat(row, 'direct', 'rps');
  const tw = stat(row, 'twemproxy', 'rps');
  const tr = stat(row, 'trellis', 'rps');
  out.push(`| ${row} | ${fmt(d)} | ${fmt(tw)} | ${fmt(tr)} | ${lat(row, 'direct')} | ${lat(row, 'twemproxy')} | ${lat(row, 'trellis')} | ${fmt(stat(row, 'trellis', 'cpu'), 1)} | ${fmt(stat(row, 'twemproxy', 'cpu'), 1)} | ${ratio(tr, tw)} | ${wins(row)} | ${paired(row)} | ${ratio(tr, d)} |`);
}
process.stdout.write(`${out.join('\n')}\n`);
