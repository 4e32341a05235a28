#!/usr/bin/env bash
# The tail under churn (issue 7): `make bench`'s run (tests/bench/run.sh, the
# peers in one run of ../shared/bench/peers.sh, the server held to 25% of a
# core) while `hedge exception add` writes one exception a second into the
# store the running Hedge reads, as a technician's CLI or the console would.
# Report: the mix-workload p99 at the fixed rate (5,000 qps) of every peer.
#   tests/bench/tail.sh [peers.sh options, e.g. --only hedge,unbound --reps 1]
# HEDGE_BIN picks the binary (default build/hedge). The loop is bounded
# (TAIL_MAX_S, default 3600 one-second steps) and stopped at exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hedge=${HEDGE_BIN:-$here/../../build/hedge}
store=$(mktemp -d /tmp/hedge-tail-XXXXXX)
export HEDGE_BENCH_STORE=$store/hedge.db HEDGE_BIN=$hedge
"$hedge" exception add tail-0.example.org --all-groups --allow --by bench --reason "tail run" \
  --db "$HEDGE_BENCH_STORE" --config "$here/bench.toml" >/dev/null
(
  for ((i = 1; i <= ${TAIL_MAX_S:-3600}; i++)); do
    "$hedge" exception add "tail-$i.example.org" --all-groups --allow --by bench --reason "tail run" \
      --db "$HEDGE_BENCH_STORE" --config "$here/bench.toml" >/dev/null 2>&1 || echo "tail: exception add $i failed" >&2
    sleep 1
  done
) &
loop=$!
trap 'kill "$loop" 2>/dev/null || true; wait "$loop" 2>/dev/null || true; rm -rf "$store"' EXIT
"$here/run.sh" "$@"
