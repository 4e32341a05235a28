#!/usr/bin/env python3
"""e2e_test_board: the appliance's rootfs-independent checks (issue 10), run by
`make test` without building an image:

- `systemd-analyze verify --root` of board/common/systemd/* in a stub tree (the
  host's own systemd units plus Hedge's files), failing on any message;
- `systemd-analyze security --offline=yes` of hedge.service: exposure <= 2.0;
- hedge-boot-config (board/common/sbin) on temp directories with the real hedge
  binary: a good boot-partition hedge.toml becomes the running config; a broken
  one keeps the last good config (else the built-in one) and hedge-errors.txt
  names the line; CRLF and a UTF-8 BOM from Windows editors are accepted; the
  shipped lists are seeded; [network] becomes a networkd file;
- the shipped configs (board/common/hedge.toml, boot/hedge.toml) pass
  --check-config with their optional blocks removed, as image/build.sh does.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("HEDGE_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HEDGE = os.environ.get("HEDGE_BIN", os.path.join(SRC, "build", "hedge"))
BOARD = os.path.join(SRC, "board", "common")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def stub_tree(tmp):
    root = os.path.join(tmp, "root")
    unitdir = os.path.join(root, "usr/lib/systemd/system")
    shutil.copytree("/lib/systemd/system", unitdir, symlinks=True)
    for u in os.listdir(os.path.join(BOARD, "systemd")):
        shutil.copy(os.path.join(BOARD, "systemd", u), unitdir)
    os.makedirs(os.path.join(root, "usr/bin"))
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy(HEDGE, os.path.join(root, "usr/bin/hedge"))
    shutil.copy("/bin/sh", os.path.join(root, "bin/sh"))  # ExecReload
    shutil.copytree(os.path.join(BOARD, "sbin"), os.path.join(root, "usr/lib/hedge"))
    return root, unitdir


def test_units(tmp):
    root, unitdir = stub_tree(tmp)
    units = sorted(os.path.join(unitdir, u) for u in os.listdir(os.path.join(BOARD, "systemd")))
    r = run(["systemd-analyze", "verify", f"--root={root}"] + units)
    msg = (r.stdout + r.stderr).strip()
    check(r.returncode == 0 and msg == "", f"systemd-analyze verify of {len(units)} units: {msg or 'clean'}")
    # The check can fail: a typo in a copy of hedge.service is reported.
    bad = os.path.join(unitdir, "hedge-typo.service")
    with open(os.path.join(unitdir, "hedge.service")) as f:
        text = f.read().replace("ProtectSystem=strict", "ProtectSystm=strict")
    with open(bad, "w") as f:
        f.write(text)
    r = run(["systemd-analyze", "verify", f"--root={root}", bad])
    check("ProtectSystm" in r.stdout + r.stderr, "systemd-analyze verify reports a misspelt key")
    os.unlink(bad)
    r = run(["systemd-analyze", "security", "--offline=yes", f"--root={root}", "--no-pager",
             os.path.join(unitdir, "hedge.service")])
    m = re.search(r"Overall exposure level for hedge.service: ([0-9.]+)", r.stdout + r.stderr)
    score = float(m.group(1)) if m else 99.0
    check(score <= 2.0, f"systemd-analyze security --offline=yes hedge.service: exposure {score}")
    check_nofail_ordering()


def check_nofail_ordering():
    """A nofail mount in the board's fstab is not ordered before local-fs.target, so a unit that runs
    hedge-boot-config (which reads and writes the boot partition) must order itself after that mount:
    without it the script raced the FAT's mount and, finding no hedge.toml, wrote no hedge-errors.txt."""
    nofail = []
    with open(os.path.join(BOARD, "fstab")) as f:
        for line in f:
            cols = line.split()
            if len(cols) >= 4 and not cols[0].startswith("#") and "nofail" in cols[3].split(","):
                nofail.append(cols[1])
    check("/boot/firmware" in nofail, f"the boot partition is nofail in board/common/fstab ({nofail})")
    for u in sorted(os.listdir(os.path.join(BOARD, "systemd"))):
        with open(os.path.join(BOARD, "systemd", u)) as f:
            text = f.read()
        if "hedge-boot-config" not in "".join(re.findall(r"^ExecStart=.*$", text, re.M)):
            continue
        after = " ".join(re.findall(r"^After=(.*)$", text, re.M)).split()
        mounts_for = " ".join(re.findall(r"^RequiresMountsFor=(.*)$", text, re.M)).split()
        for path in nofail:
            unit = run(["systemd-escape", "--path", "--suffix=mount", path]).stdout.strip()
            check(unit in after or path in mounts_for, f"{u} is ordered after the nofail {unit}")


def feature_strip(path, drop=()):
    out, skip = [], False
    for line in open(path):
        if line.startswith("# @feature "):
            skip = line.split()[2] in drop
            continue
        if line.startswith("# @end"):
            skip = False
            continue
        if not skip:
            out.append(line)
    return "".join(out)


def accepts(tmp, lists, snippet):
    p = os.path.join(tmp, "probe.toml")
    with open(p, "w") as f:
        f.write(f'[upstream]\nservers = ["192.0.2.53"]\n[lists]\nbundle = "{lists}"\n{snippet}\n')
    return run([HEDGE, "serve", "--check-config", "--config", p]).returncode == 0


class Box:
    """Temp directories standing in for the boot partition, /var/lib/hedge, /usr/share/hedge."""

    def __init__(self, tmp, lists, builtin):
        self.d = tempfile.mkdtemp(dir=tmp)
        self.boot = os.path.join(self.d, "boot")
        self.state = os.path.join(self.d, "state")
        self.share = os.path.join(self.d, "share")
        self.net = os.path.join(self.d, "network")
        for p in (self.boot, self.state, self.share):
            os.makedirs(p)
        shutil.copytree(lists, os.path.join(self.share, "lists", "shipped"))
        with open(os.path.join(self.share, "hedge.toml"), "w") as f:
            f.write(builtin.replace("/var/lib/hedge", self.state))

    def run(self, *args):
        env = dict(os.environ, HEDGE_BOOT_DIR=self.boot, HEDGE_STATE_DIR=self.state, HEDGE_SHARE_DIR=self.share,
                   HEDGE_RUN_DIR=os.path.join(self.d, "run"), HEDGE_NETWORK_DIR=self.net, HEDGE_BIN=HEDGE,
                   HEDGE_OWNER="nobody-hedge-test", HEDGE_SET_HOSTNAME="0")
        return run(["sh", os.path.join(BOARD, "sbin", "hedge-boot-config")] + list(args), env=env)

    def put(self, text, raw=None):
        with open(os.path.join(self.boot, "hedge.toml"), "wb") as f:
            f.write(raw if raw is not None else text.replace("/var/lib/hedge", self.state).encode())

    def read(self, *p):
        try:
            with open(os.path.join(*p), encoding="utf-8", errors="replace", newline="") as f:
                return f.read()
        except OSError:
            return None

    def running(self):
        return self.read(self.state, "config", "hedge.toml")

    def errors(self):
        e = self.read(self.boot, "hedge-errors.txt")
        return e.replace("\r", "") if e is not None else None


GOOD = """[network]
mode = "static"
address = "192.0.2.53/24"
gateway = "192.0.2.1"
dns = ["198.51.100.53"]
hostname = "hedge-test"
[server]
listen = ["127.0.0.1:5399"]
[lists]
bundle = "/var/lib/hedge/lists/current"
[block]
ipv4 = "192.0.2.99"
"""


def test_boot_config(tmp):
    lists = os.path.join(tmp, "lists")
    r = run([HEDGE, "compile", "--out", lists, "--quiet", f"ads={SRC}/blocklists/samples/ads.txt"])
    check(r.returncode == 0, "hedge compile of the sample list " + r.stderr.strip())
    builtin = feature_strip(os.path.join(BOARD, "hedge.toml"), ("http", "console")).replace("@BLOCK_IPV4@", "192.0.2.99")

    # No boot file, first boot: lists seeded, built-in config, no errors file.
    b = Box(tmp, lists, builtin)
    r = b.run()
    check(r.returncode == 0, "boot-config exits 0 with no boot-partition file")
    check(os.path.isfile(os.path.join(b.state, "lists", "current", "manifest.json")),
          "the shipped lists are seeded as lists/current")
    check(os.path.islink(os.path.join(b.state, "lists", "current")), "lists/current is a symlink (issue 11's layout)")
    check(b.running() is not None and "9.9.9.9" in b.running(), "without a boot file the built-in config runs")
    check(b.errors() is None, "no hedge-errors.txt without a boot file")

    # A good technician's file becomes the running config; networkd file written.
    b.put(GOOD)
    r = b.run()
    check(r.returncode == 0 and "198.51.100.53" in (b.running() or ""), "a good hedge.toml becomes the running config")
    net = b.read(b.net, "10-hedge.network") or ""
    check("Address=192.0.2.53/24" in net and "Gateway=192.0.2.1" in net, "[network] static -> networkd file")
    check(b.errors() is None, "no hedge-errors.txt for a good file")
    good_running = b.running()

    # Broken file: last good config kept, errors file names the line and key; still exit 0.
    broken = GOOD.replace('gateway = "192.0.2.1"', 'gateway = "192.0.3.1"').replace('mode = "static"', 'mode = "statik"')
    b.put(broken)
    r = b.run()
    errs = b.errors() or ""
    check(r.returncode == 0, "boot-config exits 0 for a broken file")
    check(b.running() == good_running, "a broken hedge.toml keeps the last good config")
    check("hedge.toml:2: network.mode: must be \"dhcp\" or \"static\", not \"statik\"" in errs,
          "hedge-errors.txt names line 2 and the key: " + repr([ln for ln in errs.splitlines() if "hedge.toml:" in ln]))
    check("with the last good settings" in errs, "hedge-errors.txt says what is used instead")
    check("hedge.toml:2:" in r.stdout, "the errors are printed (to the console, via journal+console)")
    raw = b.read(b.boot, "hedge-errors.txt") or ""
    check("\r\n" in raw, "hedge-errors.txt has Windows line ends")

    # Fixed again: errors file removed.
    b.put(GOOD.replace("hedge-test", "hedge-two"))
    b.run()
    check(b.errors() is None and "hedge-two" in (b.running() or ""), "a fixed file is used and hedge-errors.txt removed")

    # Windows editors: CRLF and a UTF-8 BOM.
    b.put(None, raw=b"\xef\xbb\xbf" + GOOD.replace("hedge-test", "hedge-crlf").replace("/var/lib/hedge", b.state)
          .replace("\n", "\r\n").encode())
    b.run()
    check("hedge-crlf" in (b.running() or "") and b.errors() is None, "a CRLF + BOM file (Notepad) is accepted")

    # Broken on the very first boot: built-in config, errors file.
    c = Box(tmp, lists, builtin)
    c.put("[server\nlisten = 1\n")
    c.run()
    check("9.9.9.9" in (c.running() or ""), "a broken file on first boot runs the built-in config")
    check("hedge.toml:1:" in (c.errors() or "") and "built-in settings" in (c.errors() or ""),
          "first-boot errors file names line 1 and the built-in settings")

    # A bundle that cannot be opened is a config error too (the lists are part of the check).
    d = Box(tmp, lists, builtin)
    d.put(GOOD.replace("/var/lib/hedge/lists/current", "/nonexistent/lists"))
    d.run()
    check(d.errors() is not None and "9.9.9.9" in (d.running() or ""), "a boot file naming missing lists is refused")

    # The setup file.
    r = b.run("--setup-file")
    setup = (b.read(b.boot, "hedge-setup.txt") or "").replace("\r", "")
    check(r.returncode == 0 and "Box address" in setup and "nslookup" in setup, "--setup-file writes hedge-setup.txt")


def test_shipped_configs(tmp):
    lists = os.path.join(tmp, "lists")
    drop = []
    if not accepts(tmp, lists, '[http]\nstatus_listen = ["127.0.0.1:8053"]\nblock_page_listen = ["127.0.0.1:8080"]'
                   '\nstatus_clients = ["127.0.0.0/8"]'):
        drop.append("http")
    if not accepts(tmp, lists, '[http]\nconsole_listen = ["127.0.0.1:8443"]'):
        drop.append("console")
    if not accepts(tmp, lists, '[school]\nname = "x"\ncontact = "y"'):
        drop.append("school")
    v4 = "self" if accepts(tmp, lists, '[block]\nipv4 = "self"') else "192.0.2.99"
    for name in ("hedge.toml", "boot/hedge.toml"):
        text = feature_strip(os.path.join(BOARD, name), drop).replace("@BLOCK_IPV4@", v4)
        p = os.path.join(tmp, "shipped.toml")
        with open(p, "w") as f:
            f.write(text)
        r = run([HEDGE, "serve", "--check-config", "--config", p, "--lists", lists])
        check(r.returncode == 0, f"shipped board/common/{name} passes --check-config (without {drop}, ipv4 {v4}): "
              + r.stdout.strip().splitlines()[0] if r.stdout.strip() else "")


def main():
    if not os.access(HEDGE, os.X_OK):
        print(f"test_board: {HEDGE} missing")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        test_units(tmp)
        test_boot_config(tmp)
        test_shipped_configs(tmp)
    print(f"test_board: {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
