# Shared by the Redis benchmark scripts: a work dir, the processes a script starts (stopped on
# exit, SIGKILL after a grace), a free loopback port, and waiting for a Redis-speaking port.
#   source bench/lib/processes.sh; bench_workdir trellis-bench
bench_workdir() {
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  sleep 0.3
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}

free_port() { node bench/lib/free-port.mjs; }

# wait_port PORT [PASSWORD]: until PING answers PONG (the password, if given, is sent with -a).
wait_port() {
  local i
  for i in $(seq 1 400); do
    if redis-cli -p "$1" ${2:+--no-auth-warning -a "$2"} PING 2>/dev/null | grep -q PONG; then return 0; fi
    sleep 0.05
  done
  echo "bench: nothing answers PING on port $1" >&2; return 1
}
