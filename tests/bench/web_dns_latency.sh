#!/usr/bin/env bash
# DNS latency with and without HTTP load on the block page (issue 8: "HTTP must
# never delay a DNS answer"). Two runs of ../shared/bench/peers.sh with Hedge
# alone (--only hedge, pinned to core 0, no CPU quota: wrk is its child and
# would share a quota), each with the block page listening on 127.0.0.1:5320:
#   idle: nobody asks the block page;
#   wrk:  `wrk -t ${HEDGE_BENCH_WRK_THREADS:-2} -c CONNS` keeps asking it for a blocked name's page, from
#         core 1 (with dnsperf and nsd; wrk at nice 19 so that dnsperf keeps its timestamps honest),
#         for the whole run.
# Compare the fixed-rate (--lat-qps, default 5000) p50/p99 of the mix workload
# in the two report.md files. The list is the harness's 1M-name list unless
# --blocklist-size says otherwise (compiled once, cached, as in run.sh).
# HEDGE_BENCH_BG_CPU=1 moves every Hedge thread but the DNS loop (web, store,
# pool) to core 1 in both runs: the box has four cores and the scheduler spreads
# them; here the DNS loop then has core 0 to itself (pin_background.sh; which
# threads moved is in RUNDIR/bg-cpu.txt).
# Usage: flock /tmp/hedge-bench.lock bash tests/bench/web_dns_latency.sh [CONNS] [peers.sh args...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${HEDGE_BENCH_DIR:-$here/../../../shared/bench}
t="$here/hedge-target.sh"
conns=${1:-500}
shift || true
size=1000000 work=/tmp/benchA
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --blocklist-size) size=${args[i + 1]} ;;
    --work) work=${args[i + 1]} ;;
  esac
done
up="$work/data/upstream" bl="$work/data/bl-$size"
if [ ! -s "$bl/list.txt" ]; then
  mkdir -p "$work/data"
  [ -s "$up/zones.txt" ] || python3 "$bench/lib/gen_data.py" upstream "$up"
  python3 "$bench/lib/gen_data.py" blocklist "$bl" --size "$size" --upstream "$up" --mix-lines 1000000
fi
"$t" precompile "$bl/list.txt"
common=(--only hedge --skip-reload --skip-baseline --reps 1 --duration 5 --lat-qps 5000
  --target "hedge=$t serve {port} {upstream} {blocklist} {rundir}" "$@")
echo "== idle block page: $(uptime)"
HEDGE_BENCH_HTTP=5320 HEDGE_BENCH_BG_WAIT=hedge-web bash "$bench/peers.sh" "${common[@]}"
echo "== wrk -c $conns on the block page: $(uptime)"
HEDGE_BENCH_HTTP=5320 HEDGE_BENCH_BG_WAIT=hedge-web HEDGE_BENCH_WRK=$conns bash "$bench/peers.sh" "${common[@]}"
echo "== done: $(uptime)"
