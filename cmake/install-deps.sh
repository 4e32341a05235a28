#!/usr/bin/env bash
# Installs every Debian package Hedge's build, run and tests need.
# Idempotent and quiet when everything is already there (`make deps`).
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config clang clang-format clang-tidy libclang-rt-14-dev
  # libraries (never vendored)
  libldns-dev libuv1-dev libcdb-dev tinycdb libmbedtls-dev doctest-dev
  libtomlplusplus-dev libhttp-parser-dev libsqlite3-dev libidn2-dev
  nlohmann-json3-dev libsystemd-dev publicsuffix
  zlib1g-dev
  # real peers and clients for the tests
  nsd unbound dnsutils knot-dnsutils python3 python3-dnspython iproute2 sqlite3 procps
  # the appliance checks in make test (systemd-analyze verify/security of board/ units)
  systemd
  # hedge update tests: a real HTTPS origin, certificates, a clock moved in time
  nginx openssl faketime libfaketime
  # hot-swap benchmark (tests/bench/hotswap.sh)
  dnsperf
  # block page, status and monitoring tests (issue 8): headless browser, HTTP load, Prometheus tools
  chromium fonts-dejavu-core wrk prometheus python3-prometheus-client curl
  # console alerts (issue 9): a real SMTP server with STARTTLS for the incident mail
  python3-aiosmtpd
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
((${#missing[@]} == 0)) && exit 0

echo "hedge: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Update the package index only if an install fails for lack of it.
if ! $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/hedge-apt.log 2>&1; then
  $SUDO apt-get update -q >>/tmp/hedge-apt.log 2>&1
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/hedge-apt.log 2>&1 \
    || { echo "hedge: apt-get install failed, see /tmp/hedge-apt.log" >&2; tail -20 /tmp/hedge-apt.log >&2; exit 1; }
fi
# The nsd and unbound packages start system daemons on port 53; tests start their own on
# loopback ports (unbound runs beside Hedge in tests/e2e/test_upstream_timing.py).
for svc in nsd unbound; do
  if command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
# The nginx package starts a system nginx on port 80; the update tests start their own on loopback ports.
if command -v systemctl >/dev/null && systemctl is-active -q nginx 2>/dev/null; then
  $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
fi
