#!/usr/bin/env bash
# image/build-deb.sh: build/image/hedge_VERSION_arm64.deb for a technician who
# already runs Raspberry Pi OS or Debian 12 (arm64) on a box: the same binary,
# units, built-in config, boot-config script and shipped signed bundle as the SD
# image, without the appliance-only parts (read-only root, fstab, data partition
# growth, journald in RAM). The technician's file is /etc/hedge/hedge.toml
# (validated at every start by hedge-boot-config with HEDGE_BOOT_DIR=/etc/hedge),
# errors in /etc/hedge/hedge-errors.txt. Built with dpkg-deb --root-owner-group.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
out=${IMAGE_OUT:-build/image}
cross=${CROSS_BUILD:-build-arm64}
native=${BUILD:-build}
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct)}"
export SOURCE_DATE_EPOCH
ver=$("$native/hedge" --version | awk '{print $2}')
rev=$(git rev-list --count HEAD 2>/dev/null || echo 0)
debver="$ver+git$rev"
pkg="$out/deb/hedge_${debver}_arm64"
rm -rf "$pkg"
mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/lib/hedge" "$pkg/usr/share/hedge/lists" "$pkg/lib/systemd/system" \
  "$pkg/etc/hedge" "$pkg/usr/share/doc/hedge" "$pkg/usr/lib/sysusers.d" "$pkg/usr/lib/tmpfiles.d"

# The image build already made the shipped bundle, keys and configs: reuse them.
stage=$(ls -d "$out"/stage-* 2>/dev/null | head -n1 || true)
if [ -z "$stage" ] || [ ! -f "$stage/root/usr/share/hedge/hedge.toml" ]; then
  echo "deb: run make image first (the package reuses its signed bundle and configs)" >&2
  exit 1
fi
install -m 0755 "$cross/hedge" "$pkg/usr/bin/hedge"
aarch64-linux-gnu-strip --strip-unneeded "$pkg/usr/bin/hedge"
install -m 0755 board/common/sbin/hedge-boot-config board/common/sbin/hedge-warnlog "$pkg/usr/lib/hedge/"
cp -R "$stage/root/usr/share/hedge/lists/shipped" "$pkg/usr/share/hedge/lists/shipped"
install -m 0644 "$stage/root/usr/share/hedge/hedge.toml" "$pkg/usr/share/hedge/hedge.toml"
install -m 0644 "$stage/boot-hedge.toml" "$pkg/usr/share/hedge/hedge.toml.example"
install -m 0644 "$stage/root/etc/hedge/trust.pub" "$pkg/etc/hedge/trust.pub"
install -m 0644 board/common/sysusers.d/hedge.conf "$pkg/usr/lib/sysusers.d/hedge.conf"
install -m 0644 board/common/tmpfiles.d/hedge.conf "$pkg/usr/lib/tmpfiles.d/hedge.conf"
for u in hedge.service hedge-boot-config.service hedge-setup.service hedge-update.service hedge-update.timer; do
  [ -f "board/common/systemd/$u" ] && install -m 0644 "board/common/systemd/$u" "$pkg/lib/systemd/system/$u"
done
# On a general-purpose Debian the technician's file is /etc/hedge/hedge.toml.
install -d "$pkg/lib/systemd/system/hedge-boot-config.service.d" "$pkg/lib/systemd/system/hedge-setup.service.d"
printf '[Unit]\nRequiresMountsFor=\n[Service]\nEnvironment=HEDGE_BOOT_DIR=/etc/hedge HEDGE_SET_HOSTNAME=0 HEDGE_NETWORK_DIR=/run/hedge-boot/network-unused\n' \
  >"$pkg/lib/systemd/system/hedge-boot-config.service.d/deb.conf"
printf '[Unit]\nRequiresMountsFor=\n[Service]\nEnvironment=HEDGE_BOOT_DIR=/etc/hedge\n' \
  >"$pkg/lib/systemd/system/hedge-setup.service.d/deb.conf"
# Hedge runs the validated copy (the last good config), not the file being edited.
install -d "$pkg/lib/systemd/system/hedge.service.d"
printf '[Service]\nExecStart=\nExecStart=/usr/bin/hedge serve --config /var/lib/hedge/config/hedge.toml\n' \
  >"$pkg/lib/systemd/system/hedge.service.d/deb.conf"
install -m 0644 docs/install.md "$pkg/usr/share/doc/hedge/install.md"
cat >"$pkg/usr/share/doc/hedge/copyright" <<TXT
Hedge DNS filter. See the project's repository for the licence.
Shipped sample lists: blocklists/samples/ (made-up and well-known names only).
TXT
cat >"$pkg/DEBIAN/control" <<TXT
Package: hedge
Version: $debver
Architecture: arm64
Maintainer: Hedge developers <hedge@school.example>
Section: net
Priority: optional
Depends: libldns3, libuv1, libcdb1, libidn2-0, libsqlite3-0, libtomlplusplus3, libmbedcrypto7, libmbedtls14, libmbedx509-1, libhttp-parser2.9, libsystemd0, zlib1g, libstdc++6, systemd (>= 252), util-linux
Recommends: systemd-timesyncd
Conflicts: dnsmasq, bind9, unbound
Description: DNS filtering appliance for schools
 Hedge answers DNS for a school network and blocks categories of sites with
 signed, nightly-updated lists; blocked sites lead to a friendly block page.
 This package installs the same units and defaults as the Hedge SD image.
TXT
printf '/etc/hedge/trust.pub\n' >"$pkg/DEBIAN/conffiles"
cat >"$pkg/DEBIAN/postinst" <<'TXT'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  systemd-sysusers hedge.conf
  systemd-tmpfiles --create hedge.conf
  [ -e /etc/hedge/hedge.toml ] || cp /usr/share/hedge/hedge.toml.example /etc/hedge/hedge.toml
  systemctl daemon-reload || true
  systemctl enable hedge.service hedge-boot-config.service hedge-setup.service >/dev/null || true
  [ -f /lib/systemd/system/hedge-update.timer ] && systemctl enable --now hedge-update.timer >/dev/null || true
  systemctl restart hedge-boot-config.service hedge.service || true
fi
TXT
cat >"$pkg/DEBIAN/prerm" <<'TXT'
#!/bin/sh
set -e
if [ "$1" = remove ]; then
  systemctl disable --now hedge.service hedge-setup.service hedge-boot-config.service >/dev/null 2>&1 || true
  systemctl disable --now hedge-update.timer >/dev/null 2>&1 || true
fi
TXT
chmod 0755 "$pkg/DEBIAN/postinst" "$pkg/DEBIAN/prerm"
find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$out/hedge_${debver}_arm64.deb" >/dev/null
echo "deb: $out/hedge_${debver}_arm64.deb ($(du -h "$out/hedge_${debver}_arm64.deb" | cut -f1))"
