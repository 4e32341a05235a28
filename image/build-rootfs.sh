#!/usr/bin/env bash
# image/build-rootfs.sh OUT_DIR: the cached arm64 Debian 12 root filesystem (a
# tarball) shared by every board, made with mmdebstrap under qemu-user.
#
# Owns: the package list (board/common/packages), the initramfs module list and
# the cache key. Prints the tarball's path on stdout. A tarball whose key (hash of
# this script, the package list, the module list, the mirror and SOURCE_DATE_EPOCH)
# already exists is reused, so a second `make image` skips this ~15-minute step.
# Nothing Hedge-specific goes in here: that is image/build.sh's job, on the host,
# so changing Hedge never rebuilds the rootfs.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: build-rootfs.sh OUT_DIR}
mkdir -p "$out"

MIRROR=${HEDGE_MIRROR:-http://deb.debian.org/debian}
SECURITY=${HEDGE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# The rootfs has its own epoch (board/common/rootfs-epoch; bump it with the package
# list), not the commit's: otherwise every commit would rebuild the ~20-minute rootfs.
SOURCE_DATE_EPOCH=$(sed -n '1{s/[^0-9]//g;p;}' "$here/board/common/rootfs-epoch")
# (An earlier `sed -n 's/.../p'` printed nothing for a line with no non-digit to
# remove, so every rootfs was built with an empty epoch: checked, not assumed.)
[ -n "$SOURCE_DATE_EPOCH" ] || { echo "rootfs: board/common/rootfs-epoch has no epoch on its first line" >&2; exit 1; }
export SOURCE_DATE_EPOCH

packages=$(sed -e 's/#.*//' -e '/^\s*$/d' "$here/board/common/packages" | tr '\n' ',' | sed 's/,$//')
modules=$(sed -e 's/#.*//' -e '/^\s*$/d' "$here/board/common/initramfs-modules")
key=$( { cat "$0" "$here/board/common/packages" "$here/board/common/initramfs-modules" "$here/board/common/rootfs-epoch"
         echo "$MIRROR $SECURITY $SOURCE_DATE_EPOCH"; } | sha256sum | cut -c1-16)
tarball="$out/rootfs-$key.tar"
if [ -s "$tarball" ]; then
  echo "rootfs: cached $tarball" >&2
  echo "$tarball"
  exit 0
fi

"$here/cmake/install-image-deps.sh"
echo "rootfs: building $tarball with mmdebstrap (arm64, bookworm; ~15 min under emulation)" >&2
log="$out/rootfs-$key.log"
tmp="$out/rootfs-$key.partial.tar"
rm -f "$tmp"
# Setup hook: before any package is configured, so the kernel's postinst builds the
# initramfs once, with the short module list (MODULES=list); /boot/firmware exists so
# raspi-firmware's hooks have somewhere to copy the kernel, initrd and blobs.
# SOURCE_DATE_EPOCH also goes into initramfs-tools' own config, so the kernel
# postinst's mkinitramfs takes its reproducible path (gzip -n, clamped mtimes,
# cpio --reproducible) whatever environment dpkg gives it; without an epoch two
# fresh rootfs builds differed in the initramfs alone.
# The non-free-firmware component is enabled for this build only (raspi-firmware);
# the image's own sources.list is removed below: the box never runs apt.
start=$(date +%s)
nice -n 19 mmdebstrap --mode=root --format=tar --arch=arm64 --variant=minbase \
  --components=main,non-free-firmware \
  --include="$packages" \
  --aptopt='Acquire::Languages "none"' \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/boot/firmware"' \
  --setup-hook="printf 'MODULES=list\nCOMPRESS=gzip\nSOURCE_DATE_EPOCH=%s\n' $SOURCE_DATE_EPOCH > \"\$1/etc/initramfs-tools/conf.d/hedge\"" \
  --setup-hook="printf '%s\n' $(printf '%q ' $modules) > \"\$1/etc/initramfs-tools/modules\"" \
  --customize-hook='rm -f "$1/etc/apt/sources.list" "$1"/etc/apt/sources.list.d/*' \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
  bookworm "$tmp" \
  "deb $MIRROR bookworm main non-free-firmware" \
  "deb $MIRROR bookworm-updates main non-free-firmware" \
  "deb $SECURITY bookworm-security main non-free-firmware" >"$log" 2>&1 \
  || { echo "rootfs: mmdebstrap failed, see $log" >&2; tail -30 "$log" >&2; exit 1; }
mv "$tmp" "$tarball"
echo "rootfs: built in $(( $(date +%s) - start )) s ($(du -h "$tarball" | cut -f1))" >&2
echo "$tarball"
