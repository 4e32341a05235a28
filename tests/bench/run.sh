#!/usr/bin/env bash
# `make bench`: Hedge beside unbound, knot-resolver, pdns-recursor, dnsdist
# and dnsmasq in one run of ../shared/bench/peers.sh (1M-name list, the server
# held to a quarter of a core so the server, not dnsperf, is the bottleneck).
# Extra arguments go to peers.sh (e.g. --only hedge,dnsdist-cdb --reps 1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=${HEDGE_BENCH_DIR:-$here/../../../shared/bench}
t="$here/hedge-target.sh"
[ -x "$bench/peers.sh" ] || { echo "bench: $bench/peers.sh not found" >&2; exit 1; }
exec bash "$bench/peers.sh" --server-cpu-quota "${QUOTA:-25}" \
  --target "hedge=$t serve {port} {upstream} {blocklist} {rundir}" \
  --target-reload "hedge=$t reload {pid} {blocklist} {rundir}" "$@"
