#!/usr/bin/env bash
# Lists benchmark (docs/benchmarks-lists.md): compile N synthetic names with
# the real CLI under /usr/bin/time -v, then the lookup microbenchmark.
# Usage: tests/bench/lists.sh [N]   (from the repo root, after `make build`)
set -euo pipefail
N=${1:-1000000}
BUILD=${BUILD:-build}
cmake --build "$BUILD" -j1 --target bench_lists >/dev/null
W=$(mktemp -d /tmp/hedge-bench-lists.XXXXXX)
trap 'rm -rf "$W"' EXIT
"$BUILD/bench_lists" gen "$N" "$W/names.txt" "$W/conf.txt"
echo "== compile $N names (+ $((N / 1000)) confidential) =="
/usr/bin/time -v "$BUILD/hedge" compile --quiet --out "$W/bundle" ads="$W/names.txt" child-abuse="$W/conf.txt" \
  2> "$W/time.txt"
grep -E "User time|System time|Elapsed|Maximum resident" "$W/time.txt"
secs=$(awk -F': ' '/Elapsed/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$W/time.txt")
awk -v n="$N" -v s="$secs" 'BEGIN { printf "entries per second: %.0f\n", n / s }'
pub=$(stat -c %s "$W/bundle/public.cdb")
echo "public.cdb: $pub bytes, $(awk -v b="$pub" -v n="$N" 'BEGIN { printf "%.1f", b / n }') bytes per entry"
echo "input: $(stat -c %s "$W/names.txt") bytes"
echo "== lookup (public + confidential probe per suffix) =="
"$BUILD/bench_lists" lookup "$W/bundle" "$W/names.txt"
echo "== lookup (public only: same names, no confidential category) =="
"$BUILD/hedge" compile --quiet --out "$W/public-only" ads="$W/names.txt"
"$BUILD/bench_lists" lookup "$W/public-only" "$W/names.txt"
