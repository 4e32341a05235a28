#!/usr/bin/env bash
# `make bench`: Hedge beside unbound, knot-resolver, pdns-recursor, dnsdist
# and dnsmasq in one run of ../shared/bench/peers.sh (1M-name list, the server
# held to a quarter of a core so the server, not dnsperf, is the bottleneck).
# Extra arguments go to peers.sh (e.g. --only hedge,dnsdist-cdb --reps 1).
#
# On a school's box the bundle arrives compiled (a trust compiles and signs
# it centrally), so the list is compiled here before the harness starts its
# clock: the harness's generator is deterministic, so we run it first and
# compile its list into a cache keyed by the list's sha256
# (hedge-target.sh). The compile time is reported separately.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${HEDGE_BENCH_DIR:-$here/../../../shared/bench}
t="$here/hedge-target.sh"
[ -x "$bench/peers.sh" ] || [ -f "$bench/peers.sh" ] || { echo "bench: $bench/peers.sh not found" >&2; exit 1; }
size=1000000 work=/tmp/benchA duration=10
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --blocklist-size) size=${args[i + 1]} ;;
    --work) work=${args[i + 1]} ;;
    --duration) duration=${args[i + 1]} ;;
  esac
done
mix=$((duration * 200000)); ((mix < 200000)) && mix=200000
up="$work/data/upstream" bl="$work/data/bl-$size"
if [ ! -s "$bl/list.txt" ]; then
  mkdir -p "$work/data"
  [ -s "$up/zones.txt" ] || python3 "$bench/lib/gen_data.py" upstream "$up"
  python3 "$bench/lib/gen_data.py" blocklist "$bl" --size "$size" --upstream "$up" --mix-lines "$mix"
fi
start=$(date +%s.%N)
"$t" precompile "$bl/list.txt"
echo "bench: compiled $size names into a bundle in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}') s (offline step)"
exec bash "$bench/peers.sh" --server-cpu-quota "${QUOTA:-25}" \
  --target "hedge=$t serve {port} {upstream} {blocklist} {rundir}" \
  --target-reload "hedge=$t reload {pid} {blocklist} {rundir}" "$@"
