#!/usr/bin/env bash
# Moves every thread of a running Hedge except its main thread (the DNS loop)
# to one CPU, and prints which:
#   pin_background.sh PID CPU [WAIT_FOR_THREAD]
# The benchmarks pin the whole server to core 0 (the clients need core 1), so
# the web, store, libuv pool and reload threads share the DNS loop's core. The
# box has four cores, where the scheduler spreads them; this models that on
# two. Threads the pool starts later (hedge-reload, hedge-release) inherit the
# pool thread's CPU. WAIT_FOR_THREAD (a thread name, e.g. hedge-web) is waited
# for first, at most 30 s. Used by hedge-target.sh (HEDGE_BENCH_BG_CPU) and
# hotswap.sh (HOTSWAP_BG_CPU).
set -euo pipefail
pid=$1 cpu=$2 want=${3:-}
if [ -n "$want" ]; then
  for _ in $(seq 300); do
    grep -qx "$want" /proc/"$pid"/task/*/comm 2>/dev/null && break
    sleep 0.1
  done
  grep -qx "$want" /proc/"$pid"/task/*/comm 2>/dev/null || { echo "pin_background: no $want thread in $pid" >&2; exit 1; }
fi
for task in /proc/"$pid"/task/*; do
  tid=${task##*/}
  [ "$tid" = "$pid" ] && continue
  taskset -pc "$cpu" "$tid" > /dev/null
  echo "$tid $(cat "$task/comm" 2>/dev/null) -> cpu $cpu"
done
