#!/usr/bin/python3
"""`hedge update` safety under failure of the box itself, against real nginx and a real
`hedge serve`:
- kill -9 of `hedge update` at random points of the download and the install (50 runs,
  each killed somewhere within the time a whole update takes): afterwards `current`
  always names a complete generation that `hedge verify` accepts, the resolver reloads
  it and serves it, and the next update records the crash and succeeds;
- disk full during the install (a size-limited tmpfs made by the test): the update fails
  with reason `disk`, the old generation stays intact and serving;
- the systemd units in board/ pass `systemd-analyze verify` (with the built binary in
  ExecStart), and a broken copy does not (so the check can fail)."""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, hedge, origin, util, STANDARD_LISTS  # noqa: E402
from hedgetest.hedge import BLOCK_V4  # noqa: E402

RUNS = int(os.environ.get("HEDGE_CRASH_RUNS", "50"))


def marker(serial):
    return f"serial-{serial}.example.org"


class Base(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def keys_and_origin(cls):
        t = cls.tmp
        hb = hedge.hedge_bin()
        subprocess.run([hb, "keygen", "--out", os.path.join(t, "trust")], check=True, capture_output=True)
        cls.pub = os.path.join(t, "trust.pub")
        cls.web = os.path.join(t, "web")
        os.makedirs(cls.web)
        cls.origin = origin.Origin({"web": cls.web}, tmpdir=os.path.join(t, "origin"))
        os.makedirs(cls.origin.dir)
        cls.origin.start()
        cls.stack.callback(cls.origin.stop)
        cls.f = cls.fake()
        cls.f.wildcard_a = "198.51.100.7"

    @classmethod
    def make_bundle(cls, serial, more_names=()):
        lists = {k: list(v) for k, v in STANDARD_LISTS.items()}
        lists["gambling"] = lists["gambling"] + [marker(serial)]
        if more_names:
            lists["malware"] = lists["malware"] + list(more_names)
        out = os.path.join(cls.tmp, f"b{serial}")
        shutil.rmtree(out, ignore_errors=True)
        hedge.compile_bundle(out, lists, cls.tmp, ["--quiet", "--sign", os.path.join(cls.tmp, "trust.key"),
                                                   "--version", str(serial)])
        p = subprocess.run([hedge.hedge_bin(), "publish", "--bundle", out, "--to", cls.web],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        shutil.rmtree(out, ignore_errors=True)

    @classmethod
    def write_config(cls, lists_dir, name):
        path = os.path.join(cls.tmp, name)
        with open(path, "w") as fh:
            fh.write(hedge.toml_text({
                "upstream": {"servers": [cls.f.server]},
                "lists": {"bundle": os.path.join(lists_dir, "current")},
                "store": {"path": os.path.join(cls.tmp, "hedge.db")},
                "update": {"url": cls.origin.url("web"), "pubkey": cls.pub, "ca_file": cls.origin.ca,
                           "idle_timeout": "5s", "total_timeout": "30s"},
            }))
        return path

    def run_update(self, cfg, *args):
        p = subprocess.run([hedge.hedge_bin(), "update", "--config", cfg] + list(args),
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr

    def serial_of(self, link):
        with open(os.path.join(link, "manifest.json")) as f:
            return json.load(f)["version"]

    def blocked(self, h, name):
        return client.rrs(client.ask(h.addr, name, "A"), "A") == [BLOCK_V4]


class CrashSafety(Base):
    @classmethod
    def setup_peers(cls):
        cls.keys_and_origin()
        cls.lists = os.path.join(cls.tmp, "lists")
        cls.current = os.path.join(cls.lists, "current")
        cls.cfg = cls.write_config(cls.lists, "hedge-update.toml")
        cls.make_bundle(1000)
        p = subprocess.run([hedge.hedge_bin(), "update", "--config", cls.cfg], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        cls.h = cls.serve([cls.f.server], cls.current, extra={"store": {"path": os.path.join(cls.tmp, "hedge.db")}})

    def test_kill_9_at_random_points(self):
        # How long a whole update takes here (the window the kills are spread over).
        self.make_bundle(1001)
        t0 = time.monotonic()
        rc, out = self.run_update(self.cfg)
        whole = time.monotonic() - t0
        self.assertEqual(rc, 0, out)
        rng = random.Random(int(os.environ.get("HEDGE_CRASH_SEED", str(int(time.time())))))
        killed_before_flip = killed_after_flip = finished = 0
        serial = 1001
        for i in range(RUNS):
            serial += 1
            self.make_bundle(serial)
            before = self.serial_of(self.current)
            delay = rng.uniform(0, whole * 1.1)
            p = subprocess.Popen([hedge.hedge_bin(), "update", "--config", self.cfg],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(delay)
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait(timeout=30)
            if p.returncode == 0:
                finished += 1
            after = self.serial_of(self.current)
            if p.returncode != 0:
                killed_after_flip += after != before
                killed_before_flip += after == before
            self.assertIn(after, (before, serial), f"run {i}: current must be the old or the new bundle")
            v = subprocess.run([hedge.hedge_bin(), "verify", self.current, "--pubkey", self.pub],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(v.returncode, 0, f"run {i} (killed after {delay:.3f}s): {v.stdout}{v.stderr}")
            with open(os.path.join(self.lists, "update-state.json")) as fh:
                json.load(fh)   # always whole (written by rename)
            # The resolver loads it and serves it.
            self.h.sighup()
            util.wait_until(lambda: self.blocked(self.h, marker(after)), 5, 0.05,
                            f"run {i}: the resolver to serve serial {after}")
        print(f"\n{RUNS} kill -9 runs over {whole * 1.1:.3f}s windows: {killed_before_flip} killed before the flip, "
              f"{killed_after_flip} after it, {finished} finished", file=sys.stderr)
        self.assertGreater(killed_before_flip, 0, "some kills must land during the download/install")
        # The next normal run records the crash (if the last run died) and installs the newest.
        rc, out = self.run_update(self.cfg)
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.serial_of(self.current), serial)
        with open(os.path.join(self.lists, "update-state.json")) as fh:
            st = json.load(fh)
        self.assertGreaterEqual(st["failures"].get("crash", 0), 1, "killed runs are recorded as crashes")
        self.assertFalse(st["in_progress"])
        left = [n for n in os.listdir(self.lists) if n.startswith(".staging") or n.endswith(".new")]
        self.assertEqual(left, [], "leftovers of killed runs are cleaned up")
        gens = [n for n in os.listdir(self.lists) if n.startswith("gen-")]
        self.assertLessEqual(len(gens), 2, f"old generations are deleted: {gens}")


class FirstBootImageBundle(Base):
    """The image ships a plain bundle directory at `current` (made by hedge compile --out):
    the first update adopts it as the previous generation, atomically."""

    @classmethod
    def setup_peers(cls):
        cls.keys_and_origin()
        cls.lists = os.path.join(cls.tmp, "lists")
        os.makedirs(cls.lists)
        cls.current = os.path.join(cls.lists, "current")
        cls.cfg = cls.write_config(cls.lists, "hedge-adopt.toml")
        lists = {k: list(v) for k, v in STANDARD_LISTS.items()}
        lists["gambling"] = lists["gambling"] + [marker(3000)]
        hedge.compile_bundle(cls.current, lists, cls.tmp, ["--quiet", "--sign", os.path.join(cls.tmp, "trust.key"),
                                                           "--version", "3000"])
        cls.h = cls.serve([cls.f.server], cls.current, extra={"store": {"path": os.path.join(cls.tmp, "hedge.db")}})

    def test_adopts_the_shipped_directory(self):
        self.assertTrue(self.blocked(self.h, marker(3000)))
        self.make_bundle(3001)
        rc, out = self.run_update(self.cfg)
        self.assertEqual(rc, 0, out)
        self.assertIn("resolver reloaded (serving 3001)", out)
        self.assertTrue(os.path.islink(self.current))
        prev = os.readlink(os.path.join(self.lists, "previous"))
        self.assertTrue(prev.startswith("gen-adopted-"), prev)
        self.assertEqual(self.serial_of(os.path.join(self.lists, "previous")), 3000)
        self.assertTrue(self.blocked(self.h, marker(3001)))
        self.assertFalse(self.blocked(self.h, marker(3000)))


class DiskFull(Base):
    @classmethod
    def setup_peers(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root to mount a size-limited tmpfs")
        cls.keys_and_origin()
        cls.mnt = os.path.join(cls.tmp, "small")
        os.makedirs(cls.mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", cls.mnt], check=True)
        cls.stack.callback(lambda: subprocess.run(["umount", "-l", cls.mnt]))
        cls.lists = os.path.join(cls.mnt, "lists")
        cls.current = os.path.join(cls.lists, "current")
        cls.cfg = cls.write_config(cls.lists, "hedge-disk.toml")
        cls.make_bundle(2000)
        p = subprocess.run([hedge.hedge_bin(), "update", "--config", cls.cfg], capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        cls.h = cls.serve([cls.f.server], cls.current, extra={"store": {"path": os.path.join(cls.tmp, "hedge.db")}})

    def test_disk_full_during_install(self):
        # 6000 more names: a public.cdb several times what is left on the 160 KiB filesystem.
        self.make_bundle(2001, more_names=[f"n{i}.filler.example.net" for i in range(6000)])
        rc, out = self.run_update(self.cfg)
        self.assertEqual(rc, 1, out)
        self.assertIn("FAILED (disk)", out)
        self.assertIn("No space left on device", out)
        self.assertEqual(self.serial_of(self.current), 2000)
        v = subprocess.run([hedge.hedge_bin(), "verify", self.current, "--pubkey", self.pub],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertEqual([n for n in os.listdir(self.lists) if n.startswith(".staging")], [])
        self.h.sighup()
        time.sleep(0.5)
        self.assertTrue(self.blocked(self.h, marker(2000)))
        self.assertFalse(self.blocked(self.h, "n5.filler.example.net"))


def read(path):
    with open(path) as fh:
        return fh.read()


def write(path, text):
    with open(path, "w") as fh:
        fh.write(text)


class SystemdUnits(unittest.TestCase):
    def test_units_verify(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze not installed")
        src = os.path.join(hedge.SOURCE_DIR, "board", "common", "systemd")
        tmp = util.make_tmpdir("hedge-e2e-units-")
        for n in ("hedge-update.service", "hedge-update.timer"):
            shutil.copy(os.path.join(src, n), tmp)
        svc = os.path.join(tmp, "hedge-update.service")
        text = read(svc)
        self.assertIn("ExecStart=/usr/bin/hedge update --scheduled --config /etc/hedge/hedge.toml", text)
        # The real path is absent on a build machine: point at the built binary.
        write(svc, text.replace("/usr/bin/hedge", hedge.hedge_bin()))
        timer = read(os.path.join(tmp, "hedge-update.timer"))
        for want in ("RandomizedDelaySec=", "Persistent=true", "OnCalendar="):
            self.assertIn(want, timer)
        units = [os.path.join(tmp, "hedge-update.timer"), svc]
        p = subprocess.run(["systemd-analyze", "verify"] + units, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        noise = [ln for ln in (p.stdout + p.stderr).splitlines() if "hedge-update" in ln]
        self.assertEqual(noise, [], "systemd-analyze must have nothing to say about our units")
        # The timer fires more often than the shortest backoff step (5 min) is worth waiting for.
        m = re.search(r"OnCalendar=\*:0/(\d+)", timer)
        self.assertTrue(m and int(m.group(1)) <= 15, timer)
        # And the check can fail: a broken copy is refused.
        write(units[0], timer.replace("OnCalendar=*:0/", "OnCalendar=bogus"))
        p = subprocess.run(["systemd-analyze", "verify"] + units, capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout + p.stderr)


if __name__ == "__main__":
    hedgetest.main()
