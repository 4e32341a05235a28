#!/usr/bin/env bash
# Installs what `make cross` / `make test-cross` need to cross-build Hedge for
# arm64 (Debian 12 multiarch) and to run its tests under qemu-user.
# Idempotent and quiet when everything is already there.
#
# Usage: cmake/install-cross-deps.sh [OVERLAY_DIR]   (default build-arm64/sysroot)
#
# Two -dev packages are not Multi-Arch: same, so their :arm64 build clashes
# with the native one: libcdb-dev (tinycdb) and libhttp-parser-dev. They (and
# their runtime libraries) are unpacked with `dpkg -x` into a sysroot overlay
# under the build folder instead of being installed; cmake/aarch64.cmake points
# CMAKE_PREFIX_PATH and PKG_CONFIG_LIBDIR at it.
set -euo pipefail

cd "$(dirname "$0")/.."
OVERLAY="$(realpath -m "${1:-build-arm64/sysroot}")"

HOST_PACKAGES=(crossbuild-essential-arm64 qemu-user-static)
# Multi-Arch: same, so co-installable with the native ones. doctest-dev and
# nlohmann-json3-dev are architecture-independent (the native `make deps`
# installs them). libtomlplusplus-dev is a compiled library (libtomlplusplus.so.3),
# so it needs :arm64 too.
ARM64_PACKAGES=(libldns-dev libuv1-dev libmbedtls-dev libtomlplusplus-dev libsqlite3-dev
  libidn2-dev libsystemd-dev zlib1g-dev)
# Not Multi-Arch: same (-dev) or wanted next to their -dev: unpacked into the overlay.
OVERLAY_PACKAGES=(libcdb-dev libcdb1 libhttp-parser-dev libhttp-parser2.9)
INDEP_PACKAGES=(doctest-dev nlohmann-json3-dev)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
LOG=/tmp/hedge-cross-apt.log

fail() { echo "hedge-cross: $*, see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

updated=0
apt_update() {
  if ((updated == 0)); then
    $SUDO apt-get update -q >>"$LOG" 2>&1 || fail "apt-get update failed"
    updated=1
  fi
}

# 1. arm64 as a foreign architecture.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "hedge-cross: adding dpkg architecture arm64" >&2
  $SUDO dpkg --add-architecture arm64
  apt_update
fi

# 2. Packages from apt.
missing=()
for p in "${HOST_PACKAGES[@]}" "${INDEP_PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
for p in "${ARM64_PACKAGES[@]}"; do installed "$p:arm64" || missing+=("$p:arm64"); done
if ((${#missing[@]} > 0)); then
  echo "hedge-cross: installing ${missing[*]}" >&2
  # libldns-dev:arm64 and :amd64 ship different files under /usr/share/doc/libldns-dev.
  apt_install() {
    $SUDO apt-get install -y -q --no-install-recommends \
      -o 'Dpkg::Options::=--path-exclude=/usr/share/doc/libldns-dev/*' "${missing[@]}" >>"$LOG" 2>&1
  }
  if ! apt_install; then
    apt_update
    apt_install || fail "apt-get install failed"
  fi
fi

# 3. Sysroot overlay for the packages that are not multi-arch.
stamp="$OVERLAY/.packages"
want="${OVERLAY_PACKAGES[*]}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "hedge-cross: unpacking ${OVERLAY_PACKAGES[*]} (arm64) into $OVERLAY" >&2
  rm -rf "$OVERLAY"
  mkdir -p "$OVERLAY/.debs"
  args=()
  for p in "${OVERLAY_PACKAGES[@]}"; do args+=("$p:arm64"); done
  get() { (cd "$OVERLAY/.debs" && apt-get download -q "${args[@]}") >>"$LOG" 2>&1; }
  if ! get; then
    apt_update
    get || fail "apt-get download failed"
  fi
  for deb in "$OVERLAY"/.debs/*.deb; do dpkg -x "$deb" "$OVERLAY"; done
  rm -rf "$OVERLAY/.debs"
  # libcdb.pc says only "-lcdb" (everything in standard places): point it at the overlay.
  pc="$OVERLAY/usr/lib/aarch64-linux-gnu/pkgconfig/libcdb.pc"
  [ -f "$pc" ] || fail "no libcdb.pc in libcdb-dev:arm64"
  sed -i -e "s|^Libs:.*|Libs: -L$OVERLAY/usr/lib/aarch64-linux-gnu -lcdb|" \
    -e "s|^Cflags:.*|Cflags: -I$OVERLAY/usr/include|" "$pc"
  echo "$want" >"$stamp"
fi
