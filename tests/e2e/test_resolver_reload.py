#!/usr/bin/python3
"""SIGHUP: a broken config or a broken bundle keeps Hedge serving with the old ones; a
fixed config change (block address) and a new bundle behind the `current` symlink are
picked up (newly listed names blocked, delisted names forwarded, cached answers do not
bypass a new block). SIGTERM then exits 0 (checked at teardown)."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, hedge, STANDARD_LISTS  # noqa: E402
from hedgetest.hedge import BLOCK_V4  # noqa: E402

ALLOWED_A = "198.51.100.7"
NEW = "newly-blocked.example.org"


def flip(link, target):
    tmp = link + ".new"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)


class Reload(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.wildcard_a = ALLOWED_A
        cls.b1 = cls.bundle(name="b1")
        lists2 = {k: list(v) for k, v in STANDARD_LISTS.items()}
        lists2["gambling"].append(NEW)
        lists2["malware"] = ["other-malware.example.net"]      # malware.example.net delisted
        cls.b2 = cls.bundle(lists2, name="b2")
        cls.current = os.path.join(cls.tmp, "current")
        flip(cls.current, cls.b1)
        cls.h = cls.serve([cls.f.server], cls.current)
        with open(cls.h.config_path) as fh:
            cls.good_config = fh.read()

    def a(self, name):
        return client.rrs(client.ask(self.h.addr, name, "A"), "A")

    def hup_and_wait(self, pred, what, timeout=5.0):
        self.h.sighup()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.h.assert_alive()
            if pred():
                return
            time.sleep(0.2)
        self.fail(f"{what}: not seen within {timeout}s of SIGHUP{self.ctx(self.h)}")

    def test_1_broken_config_keeps_old(self):
        before = len(self.h.full_output())
        broken = self.good_config.replace("[server]\n", '[server]\nbogus_key = 1\n', 1).replace(
            "listen = [", 'listen = ["nonsense", ', 1)
        self.h.write_config(broken)
        try:
            self.h.sighup()
            time.sleep(1.0)
            self.h.assert_alive()
            self.assertEqual(self.a("www.example.com"), [BLOCK_V4], "old lists must stay after a failed reload")
            self.assertEqual(self.a("fine.reload.test"), [ALLOWED_A], "must keep forwarding after a failed reload")
            new_out = self.h.full_output()[before:]
            self.assertIn("bogus_key", new_out, f"the failed reload must log the config errors; new output:\n{new_out}")
        finally:
            self.h.write_config(self.good_config)
            self.h.sighup()
            time.sleep(0.5)

    def test_2_config_change_applied(self):
        changed = self.good_config.replace(f'ipv4 = "{BLOCK_V4}"', 'ipv4 = "192.0.2.98"')
        self.assertNotEqual(changed, self.good_config)
        self.h.write_config(changed)
        try:
            self.hup_and_wait(lambda: self.a("www.example.com") == ["192.0.2.98"], "new block.ipv4 192.0.2.98")
        finally:
            self.h.write_config(self.good_config)
            self.hup_and_wait(lambda: self.a("www.example.com") == [BLOCK_V4], "block.ipv4 restored")

    def test_3_new_bundle(self):
        self.assertEqual(self.a(NEW), [ALLOWED_A], f"{NEW} is not in the first bundle")   # now cached
        self.assertEqual(self.a("malware.example.net"), [BLOCK_V4])
        flip(self.current, self.b2)
        self.hup_and_wait(lambda: self.a(NEW) == [BLOCK_V4], f"{NEW} blocked after the new bundle")
        r = client.ask(self.h.addr, NEW, "A")
        self.assertEqual([c for c, _ in client.ede(r)], [15], client.describe(r))
        self.assertIn("gambling", client.ede(r)[0][1])
        self.assertEqual(self.a("malware.example.net"), [ALLOWED_A], "a delisted name must be forwarded again")
        self.assertEqual(self.a("www.example.com"), [BLOCK_V4], "names in both bundles stay blocked")

    def test_4_broken_bundle_keeps_old(self):
        flip(self.current, self.b2)
        self.hup_and_wait(lambda: self.a(NEW) == [BLOCK_V4], "bundle b2 active")
        bad = os.path.join(self.tmp, "bad-bundle")
        os.makedirs(bad, exist_ok=True)
        with open(os.path.join(bad, "manifest.json"), "w") as fh:
            fh.write('{"format": 1, "version": "garbage"')
        flip(self.current, bad)
        try:
            self.h.sighup()
            time.sleep(1.0)
            self.h.assert_alive()
            self.assertEqual(self.a(NEW), [BLOCK_V4], "a broken bundle must not replace the working one")
            self.assertEqual(self.a("www.example.com"), [BLOCK_V4])
            self.assertEqual(self.a("fine2.reload.test"), [ALLOWED_A])
        finally:
            flip(self.current, self.b2)

    def test_6_sighup_storm_under_load(self):
        import threading
        stop = threading.Event()
        bad = []

        def load():
            i = 0
            while not stop.is_set() and i < 2000:
                i += 1
                try:
                    r = client.ask(self.h.addr, f"load{i % 50}.reload.test", "A", timeout=2)
                    if client.rrs(r, "A") != [ALLOWED_A]:
                        bad.append(client.describe(r))
                except client.NoReply as e:
                    bad.append(str(e))
        t = threading.Thread(target=load)
        t.start()
        try:
            for _ in range(20):
                self.h.sighup()
                time.sleep(0.05)
        finally:
            time.sleep(0.3)
            stop.set()
            t.join(10)
        self.h.assert_alive()
        self.assertEqual(bad[:3], [], f"{len(bad)} bad/missing answers during 20 SIGHUPs")
        self.assertEqual(self.a("www.example.com"), [BLOCK_V4])

    def test_5_missing_bundle_keeps_old(self):
        flip(self.current, os.path.join(self.tmp, "does-not-exist"))
        try:
            self.h.sighup()
            time.sleep(1.0)
            self.h.assert_alive()
            self.assertEqual(self.a("www.example.com"), [BLOCK_V4], "a missing bundle must not drop the lists")
        finally:
            flip(self.current, self.b2)


if __name__ == "__main__":
    hedgetest.main()
