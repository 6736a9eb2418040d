#!/usr/bin/env bash
# The cost of governance: the same 4 redis-server backends behind two Trellis proxies, one plain
# (part 1's configuration) and one with downstream AUTH + upstream AUTH + active health checks +
# per-command caller stats (--admin, scraped during the run). Interleaved rounds; prints median
# ops/s, p50/p99 and proxy CPU per command, and the governed/plain ratio per row.
#
#   npm run build && bash bench/redis-governance.sh
#   ROUNDS=1 REQUESTS=50000 bash bench/redis-governance.sh      # quick (< 2 min)
#
# Env: FROM_SOURCE=1 runs src/ through tsx instead of dist/; ROUNDS (3), REQUESTS (100000 per -P 1 run; -P 16 rows do 4x), CLIENTS (50), KEYSPACE (100000),
# ROWS ("GET/1 SET/1 GET/16 SET/16").
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/proc-cpu.sh

ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
ROWS=${ROWS:-"GET/1 SET/1 GET/16 SET/16"}
CLK_TCK=$(getconf CLK_TCK)

for bin in redis-server redis-benchmark redis-cli node curl; do
  command -v "$bin" >/dev/null || { echo "bench: $bin not found" >&2; exit 1; }
done
if [ -f dist/cli/main.js ] && [ -z "${FROM_SOURCE:-}" ]; then TRELLIS=(node bin/trellis.js); else TRELLIS=(node --import tsx src/cli/main.ts); echo "bench: dist/ missing, running from source via tsx" >&2; fi

source bench/lib/processes.sh
bench_workdir trellis-gov-bench

BACKENDS=()
for i in 1 2 3 4; do
  p=$(free_port)
  redis-server --bind 127.0.0.1 --port "$p" --save '' --appendonly no --dir "$WORK" --requirepass backend-pass \
    --logfile "$WORK/redis-$p.log" --protected-mode no >/dev/null 2>&1 &
  PIDS+=($!)
  wait_port "$p" backend-pass
  BACKENDS+=("127.0.0.1:$p")
done

declare -A PORT PID PASS
# plain: part 1's proxy (upstream AUTH is needed to reach these backends at all, so both have it).
PORT[plain]=$(free_port)
{
  echo "name: plain"; echo "listen: 127.0.0.1:${PORT[plain]}"; echo "backends:"
  for b in "${BACKENDS[@]}"; do echo "  - $b"; done
  echo "upstream_auth: { password: backend-pass }"
} > "$WORK/plain.yml"
"${TRELLIS[@]}" redis-proxy --config "$WORK/plain.yml" > "$WORK/plain.log" 2>&1 &
PIDS+=($!); PID[plain]=$!
PASS[plain]=''

PORT[governed]=$(free_port)
ADMIN=$(free_port)
{
  echo "name: governed"; echo "listen: 127.0.0.1:${PORT[governed]}"; echo "backends:"
  for b in "${BACKENDS[@]}"; do echo "  - $b"; done
  echo "upstream_auth: { password: backend-pass }"
  echo "auth: { users: [ { username: default, password: client-pass } ] }"
  echo "health_check: { interval: 1000, timeout: 500 }"
  echo "outlier_detection: { consecutive_5xx: 5 }"
  echo "stats: { top_callers: 20 }"
} > "$WORK/governed.yml"
"${TRELLIS[@]}" redis-proxy --config "$WORK/governed.yml" --admin "127.0.0.1:$ADMIN" > "$WORK/governed.log" 2>&1 &
PIDS+=($!); PID[governed]=$!
PASS[governed]=client-pass

wait_port "${PORT[plain]}" || { cat "$WORK/plain.log" >&2; exit 1; }
wait_port "${PORT[governed]}" client-pass || { cat "$WORK/governed.log" >&2; exit 1; }

# Scrape /metrics every second during the runs, as Prometheus would (its cost is part of governance).
( while sleep 1; do curl -s "http://127.0.0.1:$ADMIN/metrics" >/dev/null || true; done ) &
PIDS+=($!)

echo "bench: preloading $KEYSPACE keys ..." >&2
redis-benchmark -p "${PORT[plain]}" -t set -r "$KEYSPACE" -n "$((KEYSPACE * 2))" -c 50 -P 16 -q >/dev/null 2>&1

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
TARGETS=(plain governed)

run_one() {
  local row=$1 target=$2 kind=${row%/*} pipeline=${row#*/} n=$REQUESTS before after csv
  local -a auth=()
  [ -n "${PASS[$target]}" ] && auth=(-a "${PASS[$target]}")
  [ "$pipeline" -gt 1 ] && n=$((n * 4))
  before=$(proc_cpu_ticks "${PID[$target]}")
  csv=$(redis-benchmark -p "${PORT[$target]}" "${auth[@]}" -c "$CLIENTS" -P "$pipeline" -n "$n" -r "$KEYSPACE" --csv -t "${kind,,}" 2>/dev/null | tail -n 1)
  after=$(proc_cpu_ticks "${PID[$target]}")
  local cpu
  cpu=$(awk -v d="$((after - before))" -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
  echo "$csv" | tr -d '"' | awk -F, -v row="$kind/P$pipeline" -v t="$target" -v cpu="$cpu" \
    '{ printf "%s\t%s\t%s\t%s\t%s\t%s\n", row, t, $2, $5, $7, cpu }' >> "$RESULTS"
  tail -n 1 "$RESULTS" >&2
}

for round in $(seq 1 "$ROUNDS"); do
  echo "bench: round $round/$ROUNDS" >&2
  for row in $ROWS; do
    for ((k = 0; k < 2; k++)); do run_one "$row" "${TARGETS[$(((k + round) % 2))]}"; done
  done
done

echo
echo "Governance cost: $ROUNDS rounds, $REQUESTS requests per -P 1 run (-P 16: 4x), -c $CLIENTS, keyspace $KEYSPACE, $(nproc) cores; medians over rounds."
echo "governed = downstream AUTH + upstream AUTH + health checks every 1 s + outlier detection + caller stats scraped every 1 s."
echo
node - "$RESULTS" <<'EOF'
const { readFileSync } = require('node:fs');
const rows = new Map();
for (const line of readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean)) {
  const [row, t, rps, p50, p99, cpu] = line.split('\t');
  if (!rows.has(row)) rows.set(row, { plain: [], governed: [] });
  rows.get(row)[t].push({ rps: +rps, p50: +p50, p99: +p99, cpu: +cpu });
}
const med = (xs) => { const v = xs.filter(Number.isFinite).sort((a, b) => a - b); const m = v.length >> 1; return v.length ? (v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2) : NaN; };
const f = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
console.log('| row | plain ops/s | governed ops/s | governed/plain | plain p50/p99 ms | governed p50/p99 ms | plain µs CPU/cmd | governed µs CPU/cmd |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const [row, r] of rows) {
  const s = (t, k) => med(r[t].map((x) => x[k]));
  console.log(`| ${row} | ${f(s('plain', 'rps'))} | ${f(s('governed', 'rps'))} | ${f(s('governed', 'rps') / s('plain', 'rps'), 2)}× | ${f(s('plain', 'p50'), 3)} / ${f(s('plain', 'p99'), 3)} | ${f(s('governed', 'p50'), 3)} / ${f(s('governed', 'p99'), 3)} | ${f(s('plain', 'cpu'), 2)} | ${f(s('governed', 'cpu'), 2)} |`);
}
EOF
