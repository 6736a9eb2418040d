# Sourced by bench scripts: CPU ticks (utime+stime) of a process and all its descendants.
proc_cpu_ticks() {
  local pid=$1 total=0 t child
  if [ -r "/proc/$pid/stat" ]; then
    # fields after the ")" that closes comm: utime is field 14, stime field 15 of the full line
    t=$(sed -E 's/^.*\) //' "/proc/$pid/stat" | awk '{print $12 + $13}')
    total=$((total + ${t:-0}))
  fi
  for child in $(pgrep -P "$pid" 2>/dev/null); do
    t=$(proc_cpu_ticks "$child")
    total=$((total + t))
  done
  echo "$total"
}
