#!/usr/bin/python3
"""image/pi_boot_test.py: `make image-test-pi`. Boots the rpi4 SD image, as it
is shipped, on qemu's emulated Raspberry Pi 3B (`qemu-system-aarch64 -M
raspi3b`; Debian 12's qemu 7.2 has no Pi 4 machine), and checks from the host
that it boots and filters.

What this proves that the qemu-virt test (image/boot_test.py) does not: the
image a school flashes onto a Pi, with its own kernel, initramfs and Pi device
tree (bcm2837-rpi-3-b.dtb from its boot partition), finds its root and data
partitions on the Pi's SD controller (bcm2835 sdhost / sdhci-iproc, the
initramfs module list), runs first boot (data partition grown to the card,
hedge-setup.txt written back) and answers DNS and HTTP on a wired interface
named eth0 (board/common/network). What it cannot prove: the Pi's own boot
firmware (start4.elf reading config.txt; qemu loads the kernel itself), the Pi
4's PCIe/USB and bcmgenet Ethernet, and real SD card timing. The network here is
qemu's usb-net on the Pi 3's USB, given a MAC with the locally-administered
bit clear so the kernel names it eth0 as a Pi's own Ethernet would be (and
cdc_subset kept out of the probe race for it; see pi_cmdline).

The rpi4 image has no login on any console (a school box must not), so every
check is made from outside: DNS and HTTP through host port forwards, and the
boot partition and partition table read from the card image after qemu stops.
"""
import argparse
import fcntl
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import boot_test as bt  # noqa: E402
from boot_test import Results, a_records, boot_del, boot_get, boot_put, dns_ask, http_get, wait_answer  # noqa: E402

CARD_BYTES = 4 << 30  # qemu's SD card must be a power of two; bigger than the image, so first boot grows /data
PI_MAC = "b8:27:eb:00:00:01"  # the Raspberry Pi OUI: globally administered, so usbnet names it eth0
DTB = "bcm2837-rpi-3-b.dtb"


class PiGuest:
    def __init__(self, args, img, files, cmdline, ports, n):
        self.log = os.path.join(args.workdir, f"pi-console-{n}.log")
        fwd = ",".join([
            f"hostfwd=udp:127.0.0.1:{ports['dns']}-:53",
            f"hostfwd=tcp:127.0.0.1:{ports['dns']}-:53",
            f"hostfwd=tcp:127.0.0.1:{ports['http']}-:80",
            f"hostfwd=tcp:127.0.0.1:{ports['status']}-:8053",
        ])
        cmd = ["nice", "-n", str(args.nice), "qemu-system-aarch64", "-M", "raspi3b",
               "-display", "none", "-monitor", "none", "-serial", f"file:{self.log}",
               "-kernel", files["vmlinuz"], "-initrd", files["initrd.img"], "-dtb", files[DTB],
               "-append", cmdline,
               "-drive", f"file={img},format=raw,if=sd",
               "-netdev", f"user,id=n0,{fwd}", "-device", f"usb-net,netdev=n0,mac={PI_MAC}"]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(self.log + ".qemu", "w"))
        bt.ALIVE[0] = lambda: self.proc.poll() is None

    def stop(self, settle=5):
        # No shell and no power button on the Pi: give the box a moment to
        # finish what it writes (the FAT is mounted `flush`), then stop qemu. The
        # card image is a host file, so what the guest wrote to it is kept.
        time.sleep(settle)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def pi_cmdline(image_cmdline):
    """The image's cmdline.txt with its consoles swapped for the emulated Pi 3's
    first UART (PL011, ttyAMA0), so the boot log can be read; nothing else changes."""
    words = [w for w in image_cmdline.split() if not w.startswith("console=")]
    # qemu's usb-net answers to 0525:a4a2, which both cdc_ether and cdc_subset
    # claim: when cdc_subset wins the probe race the NIC comes up as usb0 with a
    # random MAC and the box (eth0 only) has no network. Only the emulated
    # device has this; a Pi 4's own Ethernet is bcmgenet.
    return " ".join(["console=ttyAMA0,115200"] + words + ["module_blacklist=cdc_subset"])


def partitions(img):
    out = subprocess.run(["sfdisk", "-J", img], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["partitiontable"]["partitions"]


def data_fs_bytes(img, part):
    """Size of the ext4 file system on the data partition, from its superblock
    (read with dd from the card image: dumpe2fs cannot take an offset)."""
    sb = subprocess.run(["dd", f"if={img}", "bs=512", f"skip={part['start']}", "count=8", "status=none"],
                        capture_output=True, check=True).stdout
    s = sb[1024:2048]
    if len(s) < 1024 or s[56:58] != b"\x53\xef":
        return None
    blocks = int.from_bytes(s[4:8], "little") | (int.from_bytes(s[336:340], "little") << 32)
    return blocks * (1024 << int.from_bytes(s[24:28], "little"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--image", default=os.path.join(bt.ROOT, "build", "image", "hedge-rpi4.img"))
    ap.add_argument("--workdir", default=os.path.join(bt.ROOT, "build", "image", "test-pi"))
    ap.add_argument("--nice", type=int, default=19)
    ap.add_argument("--boot-timeout", type=int, default=900)
    ap.add_argument("--no-lock", action="store_true")
    args = ap.parse_args()
    res = Results()
    os.makedirs(args.workdir, exist_ok=True)
    src = os.path.realpath(args.image)
    if not os.path.exists(src):
        print(f"image-test-pi: {src} missing (make image BOARD=rpi4)")
        return 1
    img = os.path.join(args.workdir, "sdcard.img")
    subprocess.run(["cp", "--sparse=always", src, img], check=True)
    shipped = partitions(img)
    subprocess.run(["truncate", "-s", str(CARD_BYTES), img], check=True)
    files = {}
    for name in ("vmlinuz", "initrd.img", DTB):
        files[name] = os.path.join(args.workdir, name)
        subprocess.run(["mcopy", "-o", "-n", "-i", f"{img}@@{bt.BOOT_OFFSET}", "::" + name, files[name]],
                       check=True, env=bt.mtools_env())
    cmdline = pi_cmdline(boot_get(img, "cmdline.txt") or "")
    print(f"image-test-pi: {src} on qemu -M raspi3b; -append {cmdline!r}")

    feat = bt.features(args)
    upstream = bt.FakeUpstream(host="127.0.0.1")
    upstream.add(bt.NORMAL, "A", bt.NORMAL_A)
    upstream.wildcard_a = "198.51.100.9"
    upstream.start()
    cfg = os.path.join(args.workdir, "hedge.toml")
    with open(cfg, "w") as f:
        f.write(bt.test_config(upstream, feat))
    boot_put(img, cfg, "hedge.toml")
    boot_del(img, "hedge-errors.txt")
    boot_del(img, "hedge-setup.txt")
    ports = {k: bt.hutil.free_port(("127.0.0.1",)) for k in ("dns", "http", "status")}
    guest = None
    try:
        lock = open("/tmp/hedge-bench.lock", "a")
        if not args.no_lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
        guest = PiGuest(args, img, files, cmdline, ports, 1)
        first = wait_answer(ports["dns"], bt.NORMAL, args.boot_timeout)
        boot_s = time.monotonic() - guest.started
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
        if first is None:
            print(f"image-test-pi: no DNS answer within {args.boot_timeout} s; console log: {guest.log}")
        else:
            print(f"image-test-pi: boot-to-first-answer {boot_s:.1f} s (qemu raspi3b, TCG, nice {args.nice})")
        got = a_records(first) if first else []
        res.add(1, "a normal name resolves through the test's upstream",
                first is not None and bt.NORMAL_A in got and upstream.count(bt.NORMAL) > 0,
                f"{bt.NORMAL} A {got}, upstream saw {upstream.count(bt.NORMAL)} queries")
        addrs = a_records(dns_ask(ports["dns"], bt.BLOCKED))
        st, body = http_get(ports["http"], "/", host=bt.BLOCKED.rstrip("."))
        res.add(2, "a sample blocked name gets the box's own address, and its block page is served",
                addrs == [bt.GUEST_IP] and st == 200 and "doubleclick.net" in body, f"A {addrs}, HTTP {st}")
        hs, hb = http_get(ports["status"], "/health")
        ms, mb = http_get(ports["status"], "/metrics")
        res.add(3, "/health and /metrics answer", hs in (200, 503) and ms == 200 and "hedge_" in mb,
                f"/health {hs} {hb.strip()[:80]!r}, /metrics {ms}")
        # First boot writes hedge-setup.txt once the box knows its address;
        # the host may read the FAT while the guest runs (a stale view at worst).
        end = time.time() + 180
        while time.time() < end and bt.GUEST_IP not in (boot_get(img, "hedge-setup.txt") or ""):
            time.sleep(5)
        guest.stop(settle=10)
        setup = boot_get(img, "hedge-setup.txt") or ""
        res.add(4, "first boot wrote hedge-setup.txt (address, console URL, first password) to the boot partition",
                bt.GUEST_IP in setup and "password" in setup.lower(),
                f"{len(setup.splitlines())} lines" + (f", e.g. {setup.splitlines()[0]!r}" if setup else ", missing"))
        parts = partitions(img)
        data = parts[-1]
        fs = data_fs_bytes(img, data)
        grown = data["size"] > shipped[-1]["size"] and fs is not None and fs > (data["size"] * 512) * 9 // 10
        res.add(5, "the data partition and its file system grew to fill the card",
                grown, f"partition {len(parts)}: {shipped[-1]['size'] * 512 >> 20} MiB shipped, now "
                f"{data['size'] * 512 >> 20} MiB; ext4 {fs >> 20 if fs else '?'} MiB; card {CARD_BYTES >> 20} MiB")
        # A broken technician's file: the box still filters, with the last good config.
        broken = bt.test_config(upstream, feat).replace('mode = "dhcp"', 'mode = "dhcpp"')
        bad_line = broken.splitlines().index('mode = "dhcpp"') + 1
        with open(cfg, "w") as f:
            f.write(broken)
        boot_put(img, cfg, "hedge.toml")
        guest = PiGuest(args, img, files, cmdline, ports, 2)
        ans = wait_answer(ports["dns"], bt.NORMAL, args.boot_timeout, want=bt.NORMAL_A)
        blocked = a_records(dns_ask(ports["dns"], bt.BLOCKED))
        guest.stop(settle=20)
        errs = (boot_get(img, "hedge-errors.txt") or "").replace("\r", "")
        want = f"hedge.toml:{bad_line}: network.mode:"
        res.add(6, "a broken hedge.toml still boots into filtering with the last good config; hedge-errors.txt "
                "names the line", ans is not None and blocked == [bt.GUEST_IP] and want in errs,
                f"{bt.NORMAL} {a_records(ans) if ans else 'no answer'}, {bt.BLOCKED} {blocked}, errors: "
                f"{[ln for ln in errs.splitlines() if 'hedge.toml:' in ln][:2]}")
    finally:
        if guest and guest.proc.poll() is None:
            guest.proc.kill()
            guest.proc.wait()
        upstream.stop()
    return res.exit_code("image-test-pi", 6)


if __name__ == "__main__":
    sys.exit(main())
