// Reads lines "row<TAB>target<TAB>rps<TAB>p50_us<TAB>p99_us<TAB>cpu_us_per_req" (one per wrk run)
// and prints a markdown table of medians over rounds: gateway/direct throughput ratio and the
// latency the gateway adds (p50/p99), plus the gateway's CPU per request.
import { readFileSync } from 'node:fs';

const runs = new Map();
for (const line of readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean)) {
  const [row, target, rps, p50, p99, cpu] = line.split('\t');
  if (!runs.has(row)) runs.set(row, { direct: [], gateway: [], raw: [] });
  runs.get(row)[target].push({ rps: +rps, p50: +p50, p99: +p99, cpu: cpu === '' ? NaN : +cpu });
}
const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
console.log('| row | direct req/s | gateway req/s | gateway/direct | raw pass-through/direct | direct p50/p99 µs | gateway p50/p99 µs | gateway adds p50/p99 µs | raw adds p50 µs | gateway CPU µs/req | raw CPU µs/req |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [row, t] of runs) {
  const s = (target, k) => median(t[target].map((r) => r[k]));
  console.log(`| ${row} | ${f(s('direct', 'rps'))} | ${f(s('gateway', 'rps'))} | ${f(s('gateway', 'rps') / s('direct', 'rps'), 2)}× | ` +
    `${f(s('raw', 'rps') / s('direct', 'rps'), 2)}× | ${f(s('direct', 'p50'))} / ${f(s('direct', 'p99'))} | ${f(s('gateway', 'p50'))} / ${f(s('gateway', 'p99'))} | ` +
    `${f(s('gateway', 'p50') - s('direct', 'p50'))} / ${f(s('gateway', 'p99') - s('direct', 'p99'))} | ${f(s('raw', 'p50') - s('direct', 'p50'))} | ` +
    `${f(s('gateway', 'cpu'), 1)} | ${f(s('raw', 'cpu'), 1)} |`);
}
