#!/usr/bin/env bash
# Gateway benchmark (issue 5): a trivial node function instance called directly vs the same
# instance through the Trellis gateway (/function/bench/...), GET and 1 KiB POST, with 50 and
# 1 connections, interleaved rounds in one run. Prints a markdown table: throughput ratio,
# added latency p50/p99 (wrk --latency) and the gateway's CPU per request (/proc/<pid>/stat).
# A raw TCP pass-through to the same instance (bench/gateway.raw.mjs) runs as the reference
# "ceiling of any Node hop".
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
RAW_PID=
cleanup() {
  if [ -n "$RAW_PID" ]; then kill "$RAW_PID" 2>/dev/null || true; fi
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

node bench/gateway.raw.mjs "$(node -e 'console.log(new URL(process.argv[1]).port)' "$DIRECT")" >"$WORK/raw.port" &
RAW_PID=$!
for _ in $(seq 1 100); do [ -s "$WORK/raw.port" ] && break; sleep 0.05; done
RAW="http://127.0.0.1:$(cat "$WORK/raw.port")$(node -e 'const u=new URL(process.argv[1]);console.log(u.pathname+u.search)' "$DIRECT")"

# CPU ticks (utime+stime) of one process alone (the gateway's children are the function instances)
cpu_ticks() { sed -E 's/^.*\) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# microseconds from a wrk latency value like 95.00us, 1.20ms, 2.00s
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print n }'; }

run() { # row target url
  local row=$1 target=$2 url=$3 method=${1%/*} conns=${1#*/} args=() out before after reqs rps p50 p99 cpu= pid=
  case $target in gateway) pid=$GW_PID ;; raw) pid=$RAW_PID ;; esac
  [ "$method" = POST ] && args=(-s bench/gateway.post.lua)
  [ -n "$pid" ] && before=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c"$conns" -d"${DURATION}s" --latency "${args[@]}" "$url")
  [ -n "$pid" ] && after=$(cpu_ticks "$pid")
  reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
  p50=$(to_us "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
  p99=$(to_us "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
  if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then echo "bench: $row $target: $(grep 'Non-2xx\|Socket errors' <<<"$out")" >&2; fi
  if [ -n "$pid" ] && [ "${reqs:-0}" -gt 0 ]; then
    cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN { printf "%.1f", t * 1000000 / hz / n }')
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$target" "$rps" "$p50" "$p99" "$cpu" >>"$WORK/results.tsv"
  echo "  $row $target: $rps req/s, p50 ${p50}us p99 ${p99}us${cpu:+, ${cpu}us CPU/req}" >&2
}

wrk -t1 -c10 -d2s "$GATEWAY" >/dev/null   # warm-up (JIT, pooled connections)
wrk -t1 -c10 -d2s "$DIRECT" >/dev/null
wrk -t1 -c10 -d2s "$RAW" >/dev/null
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  for row in $ROWS; do
    case $((round % 3)) in
      1) run "$row" direct "$DIRECT"; run "$row" gateway "$GATEWAY"; run "$row" raw "$RAW" ;;
      2) run "$row" gateway "$GATEWAY"; run "$row" raw "$RAW"; run "$row" direct "$DIRECT" ;;
      0) run "$row" raw "$RAW"; run "$row" direct "$DIRECT"; run "$row" gateway "$GATEWAY" ;;
    esac
  done
done
echo
node bench/gateway.summarize.mjs "$WORK/results.tsv"
echo
echo "(raw = TCP pass-through to the same instance, the ceiling of any Node hop; CPU per request counts the hop's own process only)"
