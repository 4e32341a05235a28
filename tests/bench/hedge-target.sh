#!/usr/bin/env bash
# Runs Hedge the way the peer benchmark expects a target to run:
#   hedge-target.sh serve  PORT UPSTREAM BLOCKLIST RUNDIR   (foreground, execs hedge serve)
#   hedge-target.sh reload PID BLOCKLIST RUNDIR             (new generation, flip, SIGHUP)
# The plain list becomes a bundle generation under RUNDIR and a `current`
# symlink points at it, as `hedge update` does on the box.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
hedge=${HEDGE_BIN:-$here/../../build/hedge}
compile_gen() {  # BLOCKLIST RUNDIR -> prints the generation dir
  local gen="$2/gen-$(date +%s%N)"
  "$hedge" compile --quiet --out "$gen" "pornography=$1" >&2
  echo "$gen"
}
flip() {  # GEN RUNDIR
  ln -sfn "$1" "$2/current.tmp"
  mv -T "$2/current.tmp" "$2/current"
}
case "$1" in
  serve)
    port=$2 upstream=$3 list=$4 rundir=$5
    flip "$(compile_gen "$list" "$rundir")" "$rundir"
    exec "$hedge" serve --config "$here/bench.toml" --listen "127.0.0.1:$port" --upstream "$upstream" \
      --lists "$rundir/current"
    ;;
  reload)
    pid=$2 list=$3 rundir=$4
    old=$(readlink -f "$rundir/current")
    flip "$(compile_gen "$list" "$rundir")" "$rundir"
    kill -HUP "$pid"
    # The resolver keeps the old files mapped until it has swapped; remove them later.
    (sleep 5; rm -rf "$old") >/dev/null 2>&1 &
    ;;
  *) echo "usage: $0 serve|reload ..." >&2; exit 2 ;;
esac
