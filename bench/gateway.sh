#!/usr/bin/env bash
# Gateway benchmark (issue 5): a trivial node function instance called directly vs the same
# instance through the Trellis gateway (/function/bench/...), GET and 1 KiB POST, with 50 and
# 1 connections, interleaved rounds in one run. Prints a markdown table: throughput ratio,
# added latency p50/p99 (wrk --latency) and the gateway's CPU per request (/proc/<pid>/stat).
#
#   npm run bench:gateway
#   ROUNDS=1 DURATION=5 bash bench/gateway.sh      # quick run
#
# Env: ROUNDS (default 3), DURATION seconds per wrk run (10), ROWS (default "GET/50 POST/50 GET/1 POST/1"),
# BENCH_FUNCTION=node (default: node handler under the Trellis watchdog) or plain (bare node:http server).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
ROWS=${ROWS:-"GET/50 POST/50 GET/1 POST/1"}
CLK_TCK=$(getconf CLK_TCK)

if ! command -v wrk >/dev/null; then
  echo "bench: wrk not found; install it with 'sudo apt-get install -y wrk' (or build github.com/wg/wrk)" >&2
  exit 1
fi

WORK=$(mktemp -d /tmp/trellis-bench-gw.XXXXXX)
FIXTURE_PID=
cleanup() {
  if [ -n "$FIXTURE_PID" ]; then kill "$FIXTURE_PID" 2>/dev/null || true; wait "$FIXTURE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkfifo "$WORK/stdin"
node --import tsx bench/gateway.ts <"$WORK/stdin" >"$WORK/fixture.json" 2>"$WORK/fixture.err" &
FIXTURE_PID=$!
exec 3>"$WORK/stdin"   # keeps the fixture's stdin open; closing it stops the fixture
for _ in $(seq 1 200); do [ -s "$WORK/fixture.json" ] && break; sleep 0.1; done
[ -s "$WORK/fixture.json" ] || { echo "bench: fixture did not start"; cat "$WORK/fixture.err"; exit 1; }
read -r GATEWAY DIRECT GW_PID < <(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));console.log(j.gateway,j.direct,j.pid)' "$WORK/fixture.json")
echo "function: ${BENCH_FUNCTION:-node}; gateway $GATEWAY (pid $GW_PID), direct $DIRECT; $ROUNDS rounds x ${DURATION}s per run" >&2

# CPU ticks (utime+stime) of the gateway process alone (its children are the function instances)
gw_cpu_ticks() { sed -E 's/^.*\) //' "/proc/$GW_PID/stat" | awk '{print $12 + $13}'; }

# microseconds from a wrk latency value like 95.00us, 1.20ms, 2.00s
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'; }

run() { # row target url
  local row=$1 target=$2 url=$3 method=${1%/*} conns=${1#*/} args=() out before after reqs rps p50 p99 cpu=
  [ "$method" = POST ] && args=(-s bench/gateway.post.lua)
  before=$(gw_cpu_ticks)
  out=$(wrk -t1 -c"$conns" -d"${DURATION}s" --latency "${args[@]}" "$url")
  after=$(gw_cpu_ticks)
  reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
  p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
  p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then echo "bench: $row $target: $(grep 'Non-2xx\|Socket errors' <<<"$out")" >&2; fi
  if [ "$target" = gateway ] && [ "${reqs:-0}" -gt 0 ]; then
    cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { printf "%.1f", t * 1000000 / hz / n }')
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$target" "$rps" "$p50" "$p99" "$cpu" >>"$WORK/results.tsv"
  echo "  $row $target: $rps req/s, p50 ${p50}us p99 ${p99}us${cpu:+, gateway ${cpu}us CPU/req}" >&2
}

wrk -t1 -c10 -d2s "$GATEWAY" >/dev/null   # warm-up (JIT, pooled connections)
wrk -t1 -c10 -d2s "$DIRECT" >/dev/null
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  for row in $ROWS; do
    if (( round % 2 )); then run "$row" direct "$DIRECT"; run "$row" gateway "$GATEWAY"
    else run "$row" gateway "$GATEWAY"; run "$row" direct "$DIRECT"; fi
  done
done
echo
node bench/gateway.summarize.mjs "$WORK/results.tsv"
echo
echo "(2-core machine shared with other work: figures are noisy; gateway CPU excludes the function instance)"
