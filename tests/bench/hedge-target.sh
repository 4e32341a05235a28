#!/usr/bin/env bash
# Runs Hedge the way the peer benchmark expects a target to run:
#   hedge-target.sh serve  PORT UPSTREAM BLOCKLIST RUNDIR   (foreground, execs hedge serve)
#   hedge-target.sh reload PID BLOCKLIST RUNDIR             (new generation, flip, SIGHUP)
#   hedge-target.sh precompile BLOCKLIST                    (fill the bundle cache)
# The plain list becomes a bundle generation under RUNDIR and a `current`
# symlink points at it, as `hedge update` does on the box.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hedge=${HEDGE_BIN:-$here/../../build/hedge}
cache=${HEDGE_BENCH_CACHE:-/tmp/hedge-bench-cache}
cached() {  # BLOCKLIST -> bundle dir for its content (compiled once)
  local key dir
  key=$(sha256sum "$1" | cut -c1-32)
  dir="$cache/$key"
  if [ ! -f "$dir/manifest.json" ]; then
    mkdir -p "$cache"
    "$hedge" compile --quiet --out "$dir" "pornography=$1" >&2
  fi
  echo "$dir"
}
compile_gen() {  # BLOCKLIST RUNDIR -> prints the generation dir
  local gen
  gen="$2/gen-$(date +%s%N)"
  # Low priority, as the updater runs on the box (it must not compete with DNS).
  nice -n 19 "$hedge" compile --quiet --out "$gen" "pornography=$1" >&2
  echo "$gen"
}
flip() {  # GEN RUNDIR
  ln -sfn "$1" "$2/current.tmp"
  mv -T "$2/current.tmp" "$2/current"
}
case "$1" in
  serve)
    port=$2 upstream=$3 list=$4 rundir=$5
    flip "$(cached "$list")" "$rundir"
    config="$here/bench.toml"
    if [ -n "${HEDGE_BENCH_STORE:-}" ]; then  # tail.sh: an exception store the CLI writes to meanwhile
      config="$rundir/bench.toml"
      { cat "$here/bench.toml"; printf '[store]\npath = "%s"\n' "$HEDGE_BENCH_STORE"; } > "$config"
    fi
    if [ -n "${HEDGE_BENCH_HTTP:-}" ]; then  # web_dns_latency.sh: the block page on 127.0.0.1:HEDGE_BENCH_HTTP
      cp "$config" "$rundir/bench-http.toml"
      config="$rundir/bench-http.toml"
      printf '[http]\nblock_page_listen = ["127.0.0.1:%s"]\nmax_connections = 4000\nmax_connections_per_client = 2000\nrate_limit_per_client = 0\n' \
        "$HEDGE_BENCH_HTTP" >> "$config"
      if [ -n "${HEDGE_BENCH_WRK:-}" ]; then
        # wrk -c N against the block page (a blocked name's page) from core 1, for as long as
        # hedge (this shell's pid after exec) lives; bounded by timeout either way. wrk runs at
        # nice ${HEDGE_BENCH_WRK_NICE:-19}: it shares core 1 with dnsperf, and a busy wrk would
        # otherwise delay dnsperf's own timestamps (a client-side delay, not the server's).
        host=$(head -n1 "$list")
        (
          sleep 2
          timeout 600 taskset -c 1 nice -n "${HEDGE_BENCH_WRK_NICE:-19}" wrk -t "${HEDGE_BENCH_WRK_THREADS:-2}" -c "$HEDGE_BENCH_WRK" -d 590s -H "Host: $host" \
            "http://127.0.0.1:$HEDGE_BENCH_HTTP/" > "$rundir/wrk.txt" 2>&1 &
          w=$!
          while kill -0 $$ 2>/dev/null && kill -0 $w 2>/dev/null; do sleep 1; done
          kill -INT $w 2>/dev/null || true
          wait $w 2>/dev/null || true
        ) </dev/null >/dev/null 2>&1 &
      fi
    fi
    if [ -n "${HEDGE_BENCH_BG_CPU:-}" ]; then
      # Every thread but the DNS loop on core HEDGE_BENCH_BG_CPU, as the box's four cores
      # allow (pin_background.sh); hedge is this shell's pid after exec.
      bash "$here/pin_background.sh" $$ "$HEDGE_BENCH_BG_CPU" "${HEDGE_BENCH_BG_WAIT:-hedge-store}" \
        > "$rundir/bg-cpu.txt" 2>&1 </dev/null &
    fi
    if [ -n "${HEDGE_BENCH_THREADS:-}" ]; then
      # Per-thread CPU and the quota's throttling, sampled from outside the
      # server's cgroup and core (tests/bench/thread_cpu.py) into RUNDIR/threads.txt.
      # cgroup v1 (a cpu controller line) or v2 (the 0:: line); the sampler leaves it for the root.
      rel=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3; exit}' /proc/self/cgroup)
      if [ -n "$rel" ]; then root=/sys/fs/cgroup/cpu; else root=/sys/fs/cgroup; rel=$(sed -n 's/^0:://p' /proc/self/cgroup); fi
      cg=$root$rel
      (
        echo "$BASHPID" > "$root/cgroup.procs" 2>/dev/null || true
        exec taskset -c "${HEDGE_BENCH_THREADS_CPU:-1}" python3 "$here/thread_cpu.py" $$ "$rundir/threads.txt" --cgroup "$cg"
      ) </dev/null >/dev/null 2>&1 &
    fi
    exec "$hedge" serve --config "$config" --listen "127.0.0.1:$port" --upstream "$upstream" \
      --lists "$rundir/current"
    ;;
  reload)
    pid=$2 list=$3 rundir=$4
    flip "$(compile_gen "$list" "$rundir")" "$rundir"
    kill -HUP "$pid"
    ;;
  precompile)
    cached "$2" >/dev/null
    ;;
  *) echo "usage: $0 serve|reload ..." >&2; exit 2 ;;
esac
