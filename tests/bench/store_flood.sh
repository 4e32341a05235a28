#!/usr/bin/env bash
# The monitoring store under a flood of blocked names (issue 7): Hedge on core
# 0 with an event store, dnsperf on core 1 sending only blocked names at a
# fixed rate, and each thread's CPU and read syscalls (/proc/PID/task/*/stat
# and io) before and after. Blocked names are answered from the bundle, so no
# upstream is needed (the address given is never asked).
#   tests/bench/store_flood.sh BUNDLE_DIR QUERY_FILE [QPS] [SECONDS]
# HEDGE_BIN picks the binary (default build/hedge). Bounded: one dnsperf run
# of SECONDS (default 30) at QPS (default 5000); the server is stopped after.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hedge=${HEDGE_BIN:-$here/../../build/hedge}
bundle=$1 queries=$2 qps=${3:-5000} secs=${4:-30}
work=$(mktemp -d /tmp/hedge-flood-XXXXXX)
{ cat "$here/bench.toml"; printf '[store]\npath = "%s/hedge.db"\n' "$work"; } > "$work/hedge.toml"
taskset -c 0 "$hedge" serve --config "$work/hedge.toml" --listen 127.0.0.1:5398 --upstream 127.0.0.1:9 \
  --lists "$bundle" > "$work/serve.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
up=
for _ in $(seq 50); do dig +short +time=1 +tries=1 -p 5398 @127.0.0.1 example.org >/dev/null 2>&1 && { up=1; break; }; sleep 0.2; done
[ -n "$up" ] || { echo "store_flood: hedge did not answer on 127.0.0.1:5398:" >&2; cat "$work/serve.log" >&2; exit 1; }
snap() {  # tid-name cpu_ticks read_syscalls, one line per thread
  for t in /proc/"$pid"/task/*; do
    echo "$(basename "$t")-$(tr ' ' _ < "$t/comm") $(awk '{print $14 + $15}' "$t/stat") $(awk '/^syscr/ {print $2}' "$t/io")"
  done | sort
}
snap > "$work/s0"
tracer=
if [ -n "${FLOOD_STRACE:-}" ]; then  # syscall counts of the whole process over 10 s in the middle
  (sleep $((secs > 10 ? secs / 2 - 5 : 0)); timeout -s INT 10 strace -c -f -e trace=pread64,pwrite64,read,fdatasync,epoll_wait,recvmmsg,write -p "$pid" 2> "$work/strace.txt") &
  tracer=$!
fi
taskset -c 1 dnsperf -s 127.0.0.1 -p 5398 -d "$queries" -Q "$qps" -l "$secs" > "$work/dnsperf.txt" 2>&1
[ -z "$tracer" ] || wait "$tracer" || true
sleep 3  # let the store write the last second's batch
snap > "$work/s1"
grep -E "Queries completed|Average Latency" "$work/dnsperf.txt"
[ -s "$work/strace.txt" ] && grep -E "pread64|pwrite64| read|sync|epoll|recvmmsg| write|total" "$work/strace.txt"
tick=$(getconf CLK_TCK)
join "$work/s0" "$work/s1" | awk -v t="$tick" '{c = ($4 - $2) * 1000 / t; r = $5 - $3;
  if (c > 0 || r > 100) printf "%-22s cpu %6d ms  read syscalls %8d\n", $1, c, r}'
