#!/usr/bin/env bash
# Hot swap under load (issue 11): 20 `hedge update` runs, each installing a 1M-name
# bundle fetched over HTTPS from a real nginx, while dnsperf sends a fixed 5,000 qps
# of the peer benchmark's mixed workload. Reports lost queries, SERVFAILs, p99 latency
# with and without swaps, and checks that a name which changes between the two
# bundles is answered correctly after every swap.
#
#   flock /tmp/hedge-bench.lock bash tests/bench/hotswap.sh [--swaps 20] [--qps 5000]
#
# Runs inside a private network namespace (loopback only), like ../shared/bench.
# Bundles A and B are compiled once (with B one extra name blocked); the 20 updates
# alternate between them with --allow-downgrade (each one a full download, verify,
# generation, flip and control-socket reload). Not part of `make test`.
# HOTSWAP_UPDATE_CPU=N pins the `hedge update` runs to CPU N (default: unpinned, as
# hedge-update.service runs on the box), to tell the updater's own work (TLS download,
# hashing, writing 60 MB) on the server's core from the server's reload. HOTSWAP_BG_CPU: below.
# The updater runs as hedge-update.service runs it: idle scheduling class, nice 19.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
hedge=${HEDGE_BIN:-$src/build/hedge}
bench=${HEDGE_BENCH_DIR:-$src/../shared/bench}
[ -d "$bench/lib" ] || bench=/work/shared/bench
SWAPS=20 QPS=5000
while (($#)); do
  case "$1" in
    --swaps) SWAPS=$2; shift 2 ;;
    --qps) QPS=$2; shift 2 ;;
    *) echo "usage: $0 [--swaps N] [--qps Q]" >&2; exit 2 ;;
  esac
done
if [[ -z ${BENCH_NETNS:-} ]]; then
  exec unshare --net -- env BENCH_NETNS=1 bash -c 'ip link set lo up && exec bash "$@"' _ "$0" --swaps "$SWAPS" --qps "$QPS"
fi
HERE=$bench
# shellcheck source=/dev/null
source "$bench/lib/common.sh"
SIZE=1000000 DURATION=10
bench_init hotswap
ensure_data
start_upstream
W=$WORK/run/hotswap
rm -rf "$W"; mkdir -p "$W"/{webA,webB,box/lists,origin}
log "compiling bundles A and B (1M names each)"
"$hedge" keygen --out "$W/trust" >/dev/null
CHANGING=$ALLOWED_NAME
"$hedge" compile --quiet --sign "$W/trust.key" --version 1 --out "$W/A" "pornography=$BL/list.txt"
printf '%s\n' "$CHANGING" > "$W/extra.txt"
"$hedge" compile --quiet --sign "$W/trust.key" --version 2 --out "$W/B" "pornography=$BL/list.txt" "gambling=$W/extra.txt"
"$hedge" publish --bundle "$W/A" --to "$W/webA" >/dev/null
"$hedge" publish --bundle "$W/B" --to "$W/webB" >/dev/null

# nginx with a test CA on loopback
O=$W/origin
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$O/ca.key" -out "$O/ca.crt" \
  -days 2 -subj "/CN=hotswap CA" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$O/srv.key" -out "$O/srv.csr" \
  -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' > "$O/ext"
openssl x509 -req -in "$O/srv.csr" -CA "$O/ca.crt" -CAkey "$O/ca.key" -CAcreateserial -out "$O/srv.crt" \
  -days 2 -extfile "$O/ext" 2>/dev/null
cat > "$O/nginx.conf" <<NGX
daemon off; master_process off; worker_processes 1; pid $O/nginx.pid; error_log $O/error.log;
events { worker_connections 64; }
http { access_log off; client_body_temp_path $O/b; proxy_temp_path $O/p; fastcgi_temp_path $O/f;
  uwsgi_temp_path $O/u; scgi_temp_path $O/s;
  server { listen 127.0.0.1:8443 ssl; ssl_certificate $O/srv.crt; ssl_certificate_key $O/srv.key;
    location /webA/ { alias $W/webA/; } location /webB/ { alias $W/webB/; } } }
NGX
taskset -c "$CLIENT_CPU" nginx -c "$O/nginx.conf" -p "$O" &
STARTED+=($!)

cfg() {  # ROOT -> config path
  cat > "$W/$1.toml" <<TOML
[server]
listen = ["127.0.0.1:$PORT"]
rate_limit_qps = 0
[upstream]
servers = ["127.0.0.1:$UP_PORT"]
[lists]
bundle = "$W/box/lists/current"
[block]
ipv4 = "0.0.0.0"
ipv6 = "::"
[cache]
size_mb = 256
[log]
level = "warn"
[store]
path = "$W/box/hedge.db"
[update]
url = "https://localhost:8443/$1/"
pubkey = "$W/trust.pub"
ca_file = "$O/ca.crt"
TOML
  echo "$W/$1.toml"
}
cfgA=$(cfg webA) cfgB=$(cfg webB)
"$hedge" update --config "$cfgA" >/dev/null
taskset -c "$SERVER_CPU" "$hedge" serve --config "$cfgA" > "$W/serve.log" 2>&1 &
PEER_PID=$!
STARTED+=("$PEER_PID")
for _ in $(seq 100); do dig +short +time=1 +tries=1 @127.0.0.1 -p "$PORT" "$ALLOWED_NAME" >/dev/null 2>&1 && break; sleep 0.2; done
# HOTSWAP_BG_CPU=N: every server thread but the DNS loop on CPU N (the box's spare
# cores; pin_background.sh), to tell the reload's own threads on the loop's core apart.
if [[ -n ${HOTSWAP_BG_CPU:-} ]]; then
  bash "$here/pin_background.sh" "$PEER_PID" "$HOTSWAP_BG_CPU" hedge-store > "$W/bg-cpu.txt"
  log "background threads moved to CPU $HOTSWAP_BG_CPU: $(awk '{print $2}' "$W/bg-cpu.txt" | sort | uniq -c | xargs)"
fi
answer() { dig +short +time=2 +tries=1 @127.0.0.1 -p "$PORT" "$CHANGING" A | head -1; }
want_a=$(answer)
[[ -n $want_a && $want_a != 0.0.0.0 ]] || { echo "hotswap: $CHANGING should resolve under A, got '$want_a'" >&2; exit 1; }
log "resolver up (bundle A); $CHANGING -> $want_a under A, must be 0.0.0.0 under B"

mix=$BL/q-mix-1.txt
# A paced reload (lists.reload_cpu_percent) takes a few seconds: 7 s a swap leaves room.
dur=$((SWAPS * 7 + 10))
# Both measured phases replay the start of the same workload on a warm cache:
# a first, unmeasured pass as long as the swap phase fills it (misses go to nsd).
log "warm-up: ${QPS} qps for $dur s (not measured)"
dnsperf_run "$mix" "$dur" "$W/warm.txt" -Q "$QPS"
log "baseline: ${QPS} qps for 30 s, no swaps"
dnsperf_run "$mix" 30 "$W/base.txt" -Q "$QPS" -v
log "swaps: ${QPS} qps while $SWAPS updates run"
dnsperf_run "$mix" "$dur" "$W/swap.txt" -Q "$QPS" -v &
DP=$!
t0=$(date +%s.%N)
sleep 3
bad=0
: > "$W/swaps.txt"
for i in $(seq "$SWAPS"); do
  if ((i % 2)); then c=$cfgB want=0.0.0.0; else c=$cfgA want=$want_a; fi
  s=$(date +%s.%N)
  pin=()
  [[ -n ${HOTSWAP_UPDATE_CPU:-} ]] && pin=(taskset -c "$HOTSWAP_UPDATE_CPU")
  "${pin[@]}" chrt --idle 0 nice -n 19 "$hedge" update --allow-downgrade --config "$c" > "$W/update-$i.log" 2>&1 || { cat "$W/update-$i.log"; bad=1; }
  e=$(date +%s.%N)
  got=$(answer)
  [[ $got == "$want" ]] || { echo "swap $i: $CHANGING answered '$got', expected '$want'" >&2; bad=1; }
  echo "$(awk -v a="$t0" -v b="$e" 'BEGIN{printf "%.3f", b-a}') $(awk -v a="$s" -v b="$e" 'BEGIN{printf "%.3f", b-a}')" >> "$W/swaps.txt"
  sleep 1.5
done
wait "$DP"
python3 - "$W" "$QPS" "$bad" <<'PY'
import re, sys
w, qps, bad = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def parse(p):
    t = open(p, errors="replace").read()
    lat = [float(x) for x in re.findall(r"^> \S+ \S+ \S+ ([\d.]+)$", t, re.M)]
    rcodes = re.findall(r"^> (\S+) ", t, re.M)
    g = lambda k: int(re.search(k + r":\s+(\d+)", t).group(1))
    return lat, rcodes, g("Queries sent"), g("Queries lost")
def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))] * 1000 if v else float("nan")
bl, br, bs, bls = parse(f"{w}/base.txt")
sl, sr, ss, sls = parse(f"{w}/swap.txt")
swaps = [tuple(map(float, l.split())) for l in open(f"{w}/swaps.txt")]
# Queries answered within [end of update - 1.5 s, end + 0.5 s] of each swap, located by
# their position in dnsperf's (time-ordered) output at the fixed rate.
win = []
for end, took in swaps:
    a, b = int((end - 1.5) * qps), int((end + 0.5) * qps)
    win.extend(sl[max(a, 0):max(b, 0)])
print(f"baseline (no swaps): sent {bs}, lost {bls}, SERVFAIL {br.count('SERVFAIL')}, p50 {pct(bl,.5):.3f} ms, p99 {pct(bl,.99):.3f} ms")
print(f"with {len(swaps)} swaps:     sent {ss}, lost {sls}, SERVFAIL {sr.count('SERVFAIL')}, p50 {pct(sl,.5):.3f} ms, p99 {pct(sl,.99):.3f} ms")
print(f"around the swaps ({len(win)} answers within -1.5/+0.5 s of each reload): p99 {pct(win,.99):.3f} ms, max {max(win)*1000 if win else 0:.3f} ms")
print(f"update run time: median {sorted(t for _, t in swaps)[len(swaps)//2]:.2f} s")
ok = sls == 0 and sr.count("SERVFAIL") == 0 and pct(win, .99) <= 2 * pct(bl, .99) and bad == 0
print("changing name answered correctly after every swap" if bad == 0 else "changing name WRONG after some swap")
print("RESULT:", "PASS" if ok else "FAIL", "(zero lost, zero SERVFAIL, swap-window p99 <= 2x baseline p99, name correct)")
PY
