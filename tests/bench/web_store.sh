#!/usr/bin/env bash
# Monitoring-log costs (issue 8), bounded and on loopback:
#   1. bytes written to disk per million blocked queries (/proc/PID/io write_bytes)
#   2. blocked-query throughput with the store writing and with it unwritable
#      ([store] path in a directory that does not exist: events are counted, not written)
# Name mix: NAMES distinct blocked names (nNNNNN.blocked.bench.test under a
# listed domain), each asked from one client, cycled by dnsperf; so one minute
# holds at most NAMES rows and repeats are counted on them.
# Usage: flock /tmp/hedge-bench.lock bash tests/bench/web_store.sh [QUERIES] [NAMES]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hedge=${HEDGE_BIN:-$here/../../build/hedge}
queries=${1:-1000000}
names=${2:-10000}
work=$(mktemp -d /tmp/hedge-web-bench-XXXXXX)
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
echo "blocked.bench.test" >"$work/list.txt"
"$hedge" compile --quiet --out "$work/bundle" "pornography=$work/list.txt"
for i in $(seq 1 "$names"); do echo "n$i.blocked.bench.test A"; done >"$work/q.txt"
run() {  # LABEL STORE_PATH
  cat >"$work/hedge.toml" <<TOML
[server]
listen = ["127.0.0.1:5391"]
rate_limit_qps = 0
[upstream]
servers = ["127.0.0.1:5399"]
[lists]
bundle = "$work/bundle"
[store]
path = "$2"
[log]
level = "error"
TOML
  "$hedge" serve --config "$work/hedge.toml" >"$work/$1.log" 2>&1 &
  pid=$!
  sleep 1
  local before after
  before=$(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
  local out
  out=$(timeout 300 dnsperf -s 127.0.0.1 -p 5391 -d "$work/q.txt" -c 4 -n $((queries / names)) -l 120 2>&1)
  sleep 2  # the last batch
  after=$(awk '/^write_bytes/ {print $2}' /proc/$pid/io)
  kill $pid; wait $pid 2>/dev/null || true
  local sent qps
  sent=$(echo "$out" | awk '/Queries completed:/ {print $3}')
  qps=$(echo "$out" | awk '/Queries per second:/ {print $4}')
  echo "$1: queries $sent, qps $qps, write_bytes $((after - before)), per million $(( (after - before) * 1000000 / (sent > 0 ? sent : 1) ))"
}
run store "$work/hedge.db"
run no-store "$work/missing-dir/hedge.db"
