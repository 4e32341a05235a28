#!/usr/bin/env bash
# image/build.sh BOARD: assembles build/image/hedge-BOARD-VERSION.img.xz (+ .sha256)
# from the cached arm64 rootfs (image/build-rootfs.sh), the cross-built hedge,
# board/common + board/BOARD, and a signed default bundle compiled from
# blocklists/samples/. Runs on the host: nothing here needs emulation, so an
# image rebuild after a Hedge change takes about a minute.
#
# Environment: CROSS_BUILD (build-arm64), BUILD (native build, for `hedge compile`
# and checking the shipped configs), IMAGE_OUT (build/image), SOURCE_DATE_EPOCH
# (default: the last commit's time), HEDGE_SIGN_KEY/HEDGE_TRUST_PUB (a trust's real
# key pair; default: a build key made once in IMAGE_OUT/keys), HEDGE_BUNDLE (ship
# this compiled bundle instead of the samples).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
board=${1:?usage: image/build.sh rpi4|qemu-virt}
[ -d "$here/board/$board" ] || { echo "image: unknown board '$board' (board/ has: $(ls "$here/board" | grep -v common | tr '\n' ' '))" >&2; exit 2; }
cd "$here"
out=${IMAGE_OUT:-build/image}
cross=${CROSS_BUILD:-build-arm64}
native=${BUILD:-build}
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct)}"
export SOURCE_DATE_EPOCH
version=$(git describe --always --dirty=-modified 2>/dev/null || echo unknown)
version=${HEDGE_IMAGE_VERSION:-$("$native/hedge" --version | awk '{print $2}')-g${version#v}}
name="hedge-$board-$version"
mkdir -p "$out"
start=$(date +%s)

for f in "$cross/hedge" "$native/hedge"; do
  [ -x "$f" ] || { echo "image: $f is missing (make cross / make build first)" >&2; exit 1; }
done
./cmake/install-image-deps.sh
rootfs_tar=$(./image/build-rootfs.sh "$out")

stage="$out/stage-$board"
root="$stage/root"
rm -rf "$stage"
mkdir -p "$root"
echo "image: unpacking the rootfs" >&2
tar -xpf "$rootfs_tar" --numeric-owner --xattrs --xattrs-include='*' -C "$root"

# --- Hedge ---------------------------------------------------------------
install -D -m 0755 "$cross/hedge" "$root/usr/bin/hedge"
aarch64-linux-gnu-strip --strip-unneeded "$root/usr/bin/hedge"
# Every library the binary needs must be in the rootfs (board/common/packages).
missing=""
for lib in $(aarch64-linux-gnu-readelf -d "$root/usr/bin/hedge" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
  [ -e "$root/usr/lib/aarch64-linux-gnu/$lib" ] || [ -e "$root/lib/aarch64-linux-gnu/$lib" ] || missing="$missing $lib"
done
[ -z "$missing" ] || { echo "image: hedge needs$missing, not in the rootfs: add the packages to board/common/packages" >&2; exit 1; }

# Optional parts of the shipped configs, kept only if this hedge accepts them
# (features of other issues land on main at different times): `# @feature NAME`
# ... `# @end` blocks, and [block] ipv4 = "self" (the box's own address, issue 7).
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
mkdir -p "$probe/lists"
"$native/hedge" compile --out "$probe/lists" --quiet ads=blocklists/samples/ads.txt >/dev/null
accepts() {  # accepts TOML-TEXT: does --check-config pass with it added?
  printf '[upstream]\nservers = ["192.0.2.53"]\n[lists]\nbundle = "%s"\n%b\n' "$probe/lists" "$1" >"$probe/t.toml"
  "$native/hedge" serve --check-config --config "$probe/t.toml" >/dev/null 2>&1
}
block_v4=self
if ! accepts '[block]\nipv4 = "self"'; then
  echo "image: this hedge does not accept [block] ipv4 = \"self\" yet: shipping 192.0.2.99 (no block page)" >&2
  block_v4=192.0.2.99
fi
drop=""
accepts '[http]\nstatus_listen = ["127.0.0.1:8053"]\nblock_page_listen = ["127.0.0.1:8080"]\nstatus_clients = ["127.0.0.0/8"]' \
  || { drop="$drop http"; echo "image: this hedge has no [http] listeners yet: no block page or /health in the image" >&2; }
accepts '[http]\nconsole_listen = ["127.0.0.1:8443"]' || { drop="$drop console"; echo "image: no console in this hedge yet" >&2; }
accepts '[school]\nname = "x"\ncontact = "y"' || drop="$drop school"
features() {  # features FILE: the file with unsupported @feature blocks removed
  awk -v drop=" $drop " '
    /^# @feature / { f = $3; skip = index(drop, " " f " ") > 0; next }
    /^# @end/ { skip = 0; next }
    !skip' "$1" | sed "s|@BLOCK_IPV4@|$block_v4|"
}
install -d "$root/usr/share/hedge" "$root/etc/hedge" "$root/usr/lib/hedge"
features board/common/hedge.toml >"$root/usr/share/hedge/hedge.toml"
features board/common/boot/hedge.toml >"$stage/boot-hedge.toml"
echo "$block_v4 $drop" >"$stage/features"

# The signed default bundle: compiled once per sample set and key, then reused (it
# holds random per-bundle keys, so recompiling would change the image; see README).
keys="$out/keys"
sign_key=${HEDGE_SIGN_KEY:-$keys/build.key}
trust_pub=${HEDGE_TRUST_PUB:-$keys/build.pub}
if [ -z "${HEDGE_SIGN_KEY:-}" ] && [ ! -f "$sign_key" ]; then
  mkdir -p "$keys"
  "$native/hedge" keygen --out "$keys/build" >/dev/null
  for f in "$keys"/build*; do case $f in *.pub|*.key) ;; *) echo "image: keygen wrote $f" >&2;; esac; done
fi
[ -f "$trust_pub" ] || { echo "image: public key $trust_pub missing" >&2; exit 1; }
if [ -n "${HEDGE_BUNDLE:-}" ]; then
  bundle=$HEDGE_BUNDLE
else
  bkey=$( { cat blocklists/samples/*.txt blocklists/categories.toml "$sign_key"; "$native/hedge" --version; } | sha256sum | cut -c1-16)
  bundle="$out/bundle-$bkey"
  if [ ! -f "$bundle/manifest.json" ]; then
    rm -rf "$bundle"
    "$native/hedge" compile --out "$bundle" --quiet --sign "$sign_key" \
      $(for f in blocklists/samples/*.txt; do echo "$(basename "$f" .txt)=$f"; done)
  fi
fi
"$native/hedge" verify "$bundle" --pubkey "$trust_pub" >/dev/null \
  || { echo "image: bundle $bundle does not verify with $trust_pub" >&2; exit 1; }
cp -R "$bundle" "$root/usr/share/hedge/lists-shipped.tmp"
install -d "$root/usr/share/hedge/lists"
mv "$root/usr/share/hedge/lists-shipped.tmp" "$root/usr/share/hedge/lists/shipped"
install -m 0644 "$trust_pub" "$root/etc/hedge/trust.pub"

# The shipped configs must pass the same check the box runs at boot.
for cfg in "$root/usr/share/hedge/hedge.toml" "$stage/boot-hedge.toml"; do
  "$native/hedge" serve --check-config --config "$cfg" --lists "$bundle" >"$probe/check.out" 2>&1 \
    || { echo "image: shipped config $cfg does not pass --check-config:" >&2; cat "$probe/check.out" >&2; exit 1; }
done

# Running config: chosen at boot by hedge-boot-config on the data partition.
ln -sfn /var/lib/hedge/config/hedge.toml "$root/etc/hedge/hedge.toml"
install -m 0755 board/common/sbin/* "$root/usr/lib/hedge/"
install -m 0644 board/common/systemd/*.service board/common/systemd/*.timer "$root/usr/lib/systemd/system/"
for u in hedge-update.service hedge-update.timer; do
  [ -f "board/common/systemd/$u" ] || echo "image: WARNING: board/common/systemd/$u is missing (issue 11): no nightly list updates in this image" >&2
done
install -D -m 0644 board/common/journald.conf.d/hedge.conf "$root/etc/systemd/journald.conf.d/hedge.conf"
install -D -m 0644 board/common/timesyncd.conf.d/hedge.conf "$root/etc/systemd/timesyncd.conf.d/hedge.conf"
install -D -m 0644 board/common/network/90-hedge-default.network "$root/etc/systemd/network/90-hedge-default.network"
install -D -m 0644 board/common/sysusers.d/hedge.conf "$root/usr/lib/sysusers.d/hedge.conf"
install -D -m 0644 board/common/tmpfiles.d/hedge.conf "$root/usr/lib/tmpfiles.d/hedge.conf"
install -D -m 0644 board/common/sysctl.conf "$root/etc/sysctl.d/90-hedge.conf"
install -m 0644 board/common/fstab "$root/etc/fstab"
rm -f "$root/etc/resolv.conf"
install -m 0644 board/common/resolv.conf "$root/etc/resolv.conf"
echo hedge >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\thedge\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
install -D -m 0644 docs/install.md "$root/usr/share/doc/hedge/install.md" 2>/dev/null || true
# A wait-online that gives up: the setup file is written even with no cable.
install -d "$root/etc/systemd/system/systemd-networkd-wait-online.service.d"
printf '[Service]\nExecStart=\nExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=30\n' \
  >"$root/etc/systemd/system/systemd-networkd-wait-online.service.d/hedge.conf"
if [ -d "board/$board/rootfs" ]; then cp -R "board/$board/rootfs/." "$root/"; fi

# Users, enabled units, a machine id made at each boot (read-only root).
systemd-sysusers --root="$root" >/dev/null
systemctl --root="$root" enable --quiet hedge.service hedge-boot-config.service hedge-setup.service \
  hedge-grow-data.service hedge-warnlog.service hedge-warnlog.timer systemd-networkd.service systemd-timesyncd.service
[ -f "$root/usr/lib/systemd/system/hedge-update.timer" ] && systemctl --root="$root" enable --quiet hedge-update.timer
systemctl --root="$root" mask --quiet apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
  systemd-networkd-wait-online.service 2>/dev/null || true
systemctl --root="$root" unmask --quiet systemd-networkd-wait-online.service 2>/dev/null || true
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
if [ -f "board/$board/enable" ]; then
  systemctl --root="$root" enable --quiet $(sed 's/#.*//' "board/$board/enable")
fi

# The units against the image's own tree (catches a missing binary or an ordering cycle).
units=$(ls "$root"/usr/lib/systemd/system/hedge*.service "$root"/usr/lib/systemd/system/hedge*.timer)
verify=$(systemd-analyze verify --root="$root" $units "$root/usr/lib/systemd/system/multi-user.target" 2>&1 || true)
[ -z "$verify" ] || { echo "image: systemd-analyze verify --root found problems:" >&2; echo "$verify" >&2; exit 1; }
systemd-analyze security --offline=yes --root="$root" --no-pager "$root/usr/lib/systemd/system/hedge.service" 2>&1 \
  | sed -n 's/.*Overall exposure level for hedge.service: /image: hedge.service exposure /p' >&2

# --- boot partition --------------------------------------------------------
kver=$(ls "$root/lib/modules" | sort -V | tail -n1)
bootdir="$root/boot/firmware"
# raspi-firmware's hooks filled /boot/firmware in the rootfs (blobs, the Pi device
# trees, versioned kernel/initrd copies, its own config.txt); keep only the device
# trees and start afresh.
mv "$bootdir" "$stage/raspi-firmware-out"
mkdir -p "$bootdir"
. "board/$board/board.conf"
if [ "$BOARD_FIRMWARE" = raspi ]; then
  cp -R "$root/usr/lib/raspi-firmware/." "$bootdir/"
  cp "$stage/raspi-firmware-out/"*.dtb "$bootdir/"
  install -m 0644 "board/$board/config.txt" "$bootdir/config.txt"
fi
cp "$root/boot/vmlinuz-$kver" "$bootdir/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$bootdir/initrd.img"
install -m 0644 "board/$board/cmdline.txt" "$bootdir/cmdline.txt"
sed 's/$/\r/' "$stage/boot-hedge.toml" >"$bootdir/hedge.toml"
cat >"$bootdir/README.txt" <<TXT
Hedge $version ($board)

hedge.toml      the box's settings: edit it on your PC before first boot if you need to
hedge-setup.txt written by the box at first boot: its address, status page and first account
hedge-errors.txt written by the box when hedge.toml has a mistake (with the line number)

Instructions: docs/install.md, also on the box at /usr/share/doc/hedge/install.md
TXT
sed -i 's/$/\r/' "$bootdir/README.txt"

# --- data partition: state folders, timesyncd's saved clock, systemd's state ----
rm -rf "$root/data"
mkdir -p "$root/data/hedge/config" "$root/data/hedge/lists" "$root/data/hedge/log" "$root/data/systemd"
cp -a "$root/var/lib/systemd/." "$root/data/systemd/"
chown 920:920 "$root/data/hedge" "$root/data/hedge/lists"
chmod 0750 "$root/data/hedge" "$root/data/hedge/log"
chmod 0755 "$root/data/hedge/config"
# Empty mount points in the root.
mkdir -p "$root/var/lib/hedge"

# Every timestamp clamped (reproducible file systems).
find "$root" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0r touch -h -d "@$SOURCE_DATE_EPOCH"

# --- assemble ----------------------------------------------------------------
root_mb=$(( ( $(du -sm --exclude=./boot/firmware --exclude=./data "$root" | cut -f1) * 125 / 100 / 64 + 1 ) * 64 ))
uuid_of() { printf '%s' "$1" | sha256sum | sed -E 's/^(.{8})(.{4})(.{4})(.{4})(.{12}).*/\1-\2-\3-\4-\5/'; }
sed -e "s|@IMAGE_NAME@|$name.img|" -e "s|@ROOT_SIZE@|${root_mb}M|g" \
    -e "s|@FS_TIMESTAMP@|$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y%m%d%H%M.%S)|g" \
    -e "s|@ROOT_UUID@|$(uuid_of "hedge-root-$board-$version")|g" \
    -e "s|@DATA_UUID@|$(uuid_of "hedge-data-$board-$version")|g" \
    -e "s|@VOLID@|48454447|" image/genimage.cfg.in >"$stage/genimage.cfg"
rm -rf "$stage/tmp" "$stage/images"
mkdir -p "$stage/images"
echo "image: genimage (root ${root_mb} MiB)" >&2
E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH nice -n 19 genimage --config "$stage/genimage.cfg" --rootpath "$root" \
  --tmppath "$stage/tmp" --inputpath "$stage/images" --outputpath "$stage/images" >"$stage/genimage.log" 2>&1 \
  || { echo "image: genimage failed, see $stage/genimage.log" >&2; tail -20 "$stage/genimage.log" >&2; exit 1; }
rm -rf "$stage/tmp"
# mke2fs -d copies each file's ctime (and the atimes the build left) from the
# tree: clamp them in both ext4 images and write those back into the disk
# image at their partitions, so two builds of one commit are byte-identical.
img="$stage/images/$name.img"
for part in 2:root.ext4 4:data.ext4; do
  n=${part%%:*} fs="$stage/images/${part#*:}"
  python3 image/clamp_ctime.py "$fs" "$SOURCE_DATE_EPOCH"
  first=$(sfdisk -J "$img" | python3 -c "import json,sys; print(json.load(sys.stdin)['partitiontable']['partitions'][$n-1]['start'])")
  dd if="$fs" of="$img" bs=512 seek="$first" conv=notrunc,fsync status=none
done
echo "image: xz" >&2
nice -n 19 xz -T2 -6 -c "$stage/images/$name.img" >"$out/$name.img.xz.tmp"
mv "$out/$name.img.xz.tmp" "$out/$name.img.xz"
(cd "$out" && sha256sum "$name.img.xz" >"$name.img.xz.sha256")
# The boot test and tools read these without unpacking the image.
ln -sfn "stage-$board/images/$name.img" "$out/hedge-$board.img"
ln -sfn "$name.img.xz" "$out/hedge-$board.img.xz"
echo "image: $out/$name.img.xz ($(du -h "$out/$name.img.xz" | cut -f1), $(( $(date +%s) - start )) s)" >&2
