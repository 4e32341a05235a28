#!/usr/bin/env bash
# Host tools for `make image`, `make image-test` and `make deb` (not needed by
# `make test`): mmdebstrap builds the arm64 root filesystem under qemu-user via
# binfmt_misc, genimage assembles the SD image without loop devices, qemu-system
# boots it. Idempotent and quiet when everything is there.
set -euo pipefail

PACKAGES=(
  mmdebstrap qemu-user-static binfmt-support arch-test
  genimage dosfstools mtools e2fsprogs fdisk xz-utils
  qemu-system-arm qemu-utils
  dpkg-dev fakeroot
  dnsutils python3 python3-dnspython curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  echo "hedge: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -o DPkg::Lock::Timeout=900 -y -q --no-install-recommends "${missing[@]}" >/tmp/hedge-image-apt.log 2>&1; then
    $SUDO apt-get -o DPkg::Lock::Timeout=900 update -q >>/tmp/hedge-image-apt.log 2>&1
    $SUDO apt-get install -o DPkg::Lock::Timeout=900 -y -q --no-install-recommends "${missing[@]}" >>/tmp/hedge-image-apt.log 2>&1 \
      || { echo "hedge: apt-get install failed, see /tmp/hedge-image-apt.log" >&2; tail -20 /tmp/hedge-image-apt.log >&2; exit 1; }
  fi
fi

# mmdebstrap runs arm64 maintainer scripts in the chroot: that needs the kernel's
# binfmt_misc with qemu-aarch64 registered (the F flag of qemu-user-static keeps
# the interpreter open, so it works inside the chroot).
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  echo "hedge: qemu-aarch64 is not registered in binfmt_misc (update-binfmts --enable qemu-aarch64)" >&2
  exit 1
fi
