#!/usr/bin/env bash
# Makes sure the system programs Trellis' tests and benchmarks talk to are installed:
# redis-server, redis-cli/redis-benchmark (redis-tools), nutcracker (twemproxy), nats-server.
# Installs the missing ones with apt-get when it can; otherwise names them and stops.
set -u
declare -A pkg_of=(
  [redis-server]=redis-server
  [redis-cli]=redis-tools
  [redis-benchmark]=redis-tools
  [nutcracker]=nutcracker
  [nats-server]=nats-server
)
missing_pkgs=()
missing_cmds=()
for cmd in "${!pkg_of[@]}"; do
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then
    missing_cmds+=("$cmd")
    missing_pkgs+=("${pkg_of[$cmd]}")
  fi
done
[ ${#missing_cmds[@]} -eq 0 ] && exit 0

pkgs=$(printf '%s\n' "${missing_pkgs[@]}" | sort -u | tr '\n' ' ')
echo "ensure-system-deps: missing ${missing_cmds[*]}; installing Debian packages: $pkgs" >&2
if command -v apt-get >/dev/null 2>&1; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo_cmd="sudo -n"
  if [ "$(id -u)" -eq 0 ] || [ -n "$sudo_cmd" ]; then
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq >&2 || true
    # shellcheck disable=SC2086
    if $sudo_cmd apt-get install -y -qq $pkgs >&2; then
      exit 0
    fi
  fi
fi
echo "ensure-system-deps: cannot install them here. Please install these Debian packages: $pkgs" >&2
echo "  (they provide: ${missing_cmds[*]})" >&2
exit 1
