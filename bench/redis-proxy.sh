#!/usr/bin/env bash
# Redis proxy benchmark: 4 redis-server backends behind twemproxy (ketama, fnv1a_64) and behind
# Trellis, plus one redis-server measured directly. Interleaved rounds in one run; prints the
# median ops/s, p50/p99 latency, proxy CPU per command and the Trellis ratios (of the medians, and
# the median of the per-round ratios) as a markdown table.
#
#   npm run bench:redis                       # builds, then runs this
#   ROUNDS=1 REQUESTS=50000 bash bench/redis-proxy.sh   # quick run (< 2 min)
#
# Env: ROUNDS (default 3), REQUESTS per run (100000; MGET rows a quarter, -P 16 rows 4x), CLIENTS (50),
# KEYSPACE (100000), WORKERS (Trellis --workers, default 1), TARGETS (default "direct twemproxy trellis"),
# ROWS (default "GET/1 SET/1 GET/16 SET/16 MGET10/1 MGET10/16"), WARMUP (1: an unrecorded short
# run of every row against every target first; 0: none),
# PIN=1: both proxies (every thread) on the last CPU and redis-benchmark on CPU 0, the
# redis-servers left to the scheduler. On a small machine this takes out the run-to-run
# noise of where the scheduler happens to put the proxy relative to the load generator.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/proc-cpu.sh

ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
WORKERS=${WORKERS:-1}
TARGETS=${TARGETS:-"direct twemproxy trellis"}
ROWS=${ROWS:-"GET/1 SET/1 GET/16 SET/16 MGET10/1 MGET10/16"}
CLK_TCK=$(getconf CLK_TCK)

for bin in redis-server redis-benchmark nutcracker node; do
  command -v "$bin" >/dev/null || { echo "bench: $bin not found (run scripts/ensure-system-deps.sh)" >&2; exit 1; }
done
if [[ " $TARGETS " == *" trellis "* ]] && [ ! -f dist/cli/main.js ]; then
  echo "bench: dist/ is missing; run 'npm run build' (npm run bench:redis does)" >&2; exit 1
fi

source bench/lib/processes.sh
bench_workdir trellis-bench

start_redis() {
  local port=$1
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$WORK" \
    --logfile "$WORK/redis-$port.log" --protected-mode no >/dev/null 2>&1 &
  PIDS+=($!)
  wait_port "$port"
}

BACKEND_PORTS=()
for i in 1 2 3 4; do p=$(free_port); start_redis "$p"; BACKEND_PORTS+=("$p"); done
DIRECT_PORT=$(free_port); start_redis "$DIRECT_PORT"

declare -A PORT PID
PORT[direct]=$DIRECT_PORT
PID[direct]=${PIDS[-1]}

if [[ " $TARGETS " == *" twemproxy "* ]]; then
  PORT[twemproxy]=$(free_port)
  {
    echo "bench:"
    echo "  listen: 127.0.0.1:${PORT[twemproxy]}"
    echo "  hash: fnv1a_64"
    echo "  distribution: ketama"
    echo "  redis: true"
    echo "  servers:"
    for p in "${BACKEND_PORTS[@]}"; do echo "    - 127.0.0.1:$p:1"; done
  } > "$WORK/nutcracker.yml"
  nutcracker -c "$WORK/nutcracker.yml" -s "$(free_port)" -a 127.0.0.1 -o "$WORK/nutcracker.log" &
  PIDS+=($!); PID[twemproxy]=$!
  wait_port "${PORT[twemproxy]}"
fi

if [[ " $TARGETS " == *" trellis "* ]]; then
  PORT[trellis]=$(free_port)
  args=(redis-proxy --listen "127.0.0.1:${PORT[trellis]}" --distribution ketama --hash fnv1a_64)
  for p in "${BACKEND_PORTS[@]}"; do args+=(--backend "127.0.0.1:$p"); done
  [ "$WORKERS" != 1 ] && args+=(--workers "$WORKERS")
  node bin/trellis.js "${args[@]}" > "$WORK/trellis.log" 2>&1 &
  PIDS+=($!); PID[trellis]=$!
  wait_port "${PORT[trellis]}" || { cat "$WORK/trellis.log" >&2; exit 1; }
fi

# Values for every key, so GET and MGET read real data (written through the proxy under test
# for twemproxy/trellis, which share the same backends and placement).
preload_target=direct
echo "bench: preloading $KEYSPACE keys ..." >&2
redis-benchmark -p "${PORT[direct]}" -t set -r "$KEYSPACE" -n "$((KEYSPACE * 2))" -c 50 -P 16 -q >/dev/null 2>&1
if [ -n "${PORT[twemproxy]:-}" ]; then
  redis-benchmark -p "${PORT[twemproxy]}" -t set -r "$KEYSPACE" -n "$((KEYSPACE * 2))" -c 50 -P 16 -q >/dev/null 2>&1
fi

# Sanity: Trellis must find the keys twemproxy wrote (same placement), or the GET rows lie.
if [ -n "${PORT[twemproxy]:-}" ] && [ -n "${PORT[trellis]:-}" ]; then
  sample=()
  for i in 1 2 3 5 8 13 21 34 55 89; do
    sample+=("$(printf 'key:%012d' "$i")")
    redis-cli -p "${PORT[twemproxy]}" SET "${sample[-1]}" "sample-$i" >/dev/null
  done
  if [ "$(redis-cli -p "${PORT[twemproxy]}" MGET "${sample[@]}")" != "$(redis-cli -p "${PORT[trellis]}" MGET "${sample[@]}")" ]; then
    echo "bench: WARNING: Trellis and twemproxy disagree on sample keys (placement differs?)" >&2
  fi
fi

MGET_CMD=(MGET)
for i in $(seq 1 10); do MGET_CMD+=("key:__rand_int__"); done

# PIN=1: pin the proxies (all their threads) to the last CPU, the load generator to CPU 0.
BENCH=(redis-benchmark)
if [ "${PIN:-0}" = 1 ]; then
  command -v taskset >/dev/null || { echo "bench: PIN=1 needs taskset (util-linux)" >&2; exit 1; }
  last=$(( $(nproc) - 1 ))
  [ "$last" -ge 1 ] || { echo "bench: PIN=1 needs at least 2 CPUs" >&2; exit 1; }
  for t in twemproxy trellis; do
    [ -n "${PID[$t]:-}" ] && taskset -a -pc "$last" "${PID[$t]}" >/dev/null
  done
  BENCH=(taskset -c 0 redis-benchmark)
fi

RESULTS="$WORK/results.tsv"
: > "$RESULTS"
read -r -a TARGET_LIST <<< "$TARGETS"

run_one() {
  local row=$1 target=$2 warm=${3:-} kind=${row%/*} pipeline=${row#*/} n=$REQUESTS port=${PORT[$2]} cmd before after csv
  local -a what
  case "$kind" in
    GET) what=(-t get) ;;
    SET) what=(-t set) ;;
    MGET10) what=("${MGET_CMD[@]}"); n=$((REQUESTS / 4)) ;;
    *) echo "bench: unknown row $row" >&2; exit 1 ;;
  esac
  before=$(proc_cpu_ticks "${PID[$target]}")
  [ "$pipeline" -gt 1 ] && n=$((n * 4)) # pipelined runs are short: do more work so they measure something
  if [ -n "$warm" ]; then
    "${BENCH[@]}" -p "$port" -c "$CLIENTS" -P "$pipeline" -n "$((n / 10))" -r "$KEYSPACE" -q "${what[@]}" >/dev/null 2>&1
    return
  fi
  csv=$("${BENCH[@]}" -p "$port" -c "$CLIENTS" -P "$pipeline" -n "$n" -r "$KEYSPACE" --csv "${what[@]}" 2>/dev/null | tail -n 1)
  after=$(proc_cpu_ticks "${PID[$target]}")
  local cpu=''
  if [ "$target" != direct ]; then
    cpu=$(awk -v d="$((after - before))" -v hz="$CLK_TCK" -v n="$n" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
  fi
  # "test","rps","avg","min","p50","p95","p99","max"
  echo "$csv" | tr -d '"' | awk -F, -v row="$kind/P$pipeline" -v t="$target" -v cpu="$cpu" \
    '{ printf "%s\t%s\t%s\t%s\t%s\t%s\n", row, t, $2, $5, $7, cpu }' >> "$RESULTS"
  tail -n 1 "$RESULTS" >&2
}

# Warm-up, not recorded: a tenth of each row's run against each target, so that no target's
# first measured round pays one-time costs (Node's JIT, connection and buffer set-up).
if [ "${WARMUP:-1}" = 1 ]; then
  echo "bench: warm-up ..." >&2
  for row in $ROWS; do for t in "${TARGET_LIST[@]}"; do run_one "$row" "$t" warm; done; done
fi

for round in $(seq 1 "$ROUNDS"); do
  echo "bench: round $round/$ROUNDS" >&2
  for row in $ROWS; do
    # rotate the target order each round so no target always runs first
    n=${#TARGET_LIST[@]}
    for ((k = 0; k < n; k++)); do
      run_one "$row" "${TARGET_LIST[$(((k + round) % n))]}"
    done
  done
done

echo
[ "${PIN:-0}" = 1 ] && echo "PIN=1: proxies on CPU $last, redis-benchmark on CPU 0, redis-servers unpinned."
echo "Redis proxy benchmark: $ROUNDS rounds, $REQUESTS requests per -P 1 run (MGET: a quarter; -P 16: 4x), -c $CLIENTS, keyspace $KEYSPACE, Trellis workers $WORKERS, $(nproc) cores; medians over rounds$( [ "${WARMUP:-1}" = 1 ] && echo ", after an unrecorded warm-up run of each row per target")."
echo "CPU per command = proxy process utime+stime delta / requests (an MGET of 10 keys counts as one)."
echo
node bench/lib/summarize.mjs "$RESULTS"
