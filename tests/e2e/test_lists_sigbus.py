#!/usr/bin/python3
"""A mapped list file truncated or overwritten under a running resolver (as `cp`
over current/public.cdb or `truncate` do) under query load: Hedge must not die
of SIGBUS, must log an ALERT, must never answer a blocked name unfiltered
(SERVFAIL with EDE 14 while no verified bundle is usable), and must recover on
the next good bundle (SIGHUP)."""
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, STANDARD_LISTS  # noqa: E402
from hedgetest.hedge import BLOCK_V4  # noqa: E402

ALLOWED_A = "198.51.100.7"
BLOCKED = ["www.example.com", "casino.example.org", "abuse-test.example.net"]


class ListsSigbus(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.wildcard_a = ALLOWED_A
        lists = {k: list(v) for k, v in STANDARD_LISTS.items()}
        lists["games"] = [f"n{i}.filler.example.org" for i in range(60000)]   # a few MB of pages
        cls.good = cls.bundle(lists, name="good")
        cls.pristine = os.path.join(cls.tmp, "pristine.cdb")
        shutil.copyfile(os.path.join(cls.good, "public.cdb"), cls.pristine)
        other = {k: list(v) for k, v in STANDARD_LISTS.items()}
        other["games"] = [f"m{i}.other.example.org" for i in range(60000)]
        cls.other = cls.bundle(other, name="other")
        cls.h = cls.serve([cls.f.server], cls.good, log_level="info")

    def load(self, stop, leaks, errors):
        i = 0
        while not stop.is_set() and i < 20000:
            i += 1
            name = BLOCKED[i % len(BLOCKED)] if i % 2 else f"n{i % 60000}.filler.example.org"
            try:
                r = client.ask(self.h.addr, name, "A", timeout=2)
            except client.NoReply as e:
                errors.append(str(e))
                continue
            if name in BLOCKED and ALLOWED_A in client.rrs(r, "A"):
                leaks.append(name)
            time.sleep(0.002)

    def damage_under_load(self, damage):
        stop, leaks, errors = threading.Event(), [], []
        t = threading.Thread(target=self.load, args=(stop, leaks, errors))
        before = len(self.h.full_output())
        t.start()
        try:
            time.sleep(0.3)
            damage()
            time.sleep(1.0)
            self.h.assert_alive()
            # No verified bundle left: SERVFAIL with EDE 14, never the upstream's answer.
            r = client.ask(self.h.addr, "www.example.com", "A")
            self.assertRcode(r, "SERVFAIL", "damaged bundle")
            self.assertIn(14, [c for c, _ in client.ede(r)], client.describe(r))
            r = client.ask(self.h.addr, "n7.filler.example.org", "A")
            self.assertRcode(r, "SERVFAIL", "an allowed name is not forwarded unfiltered either")
        finally:
            stop.set()
            t.join(15)
        self.h.assert_alive()
        self.assertEqual(leaks, [], "blocked names answered unfiltered")
        self.assertEqual(errors, [], "queries went unanswered")
        self.assertIn("ALERT", self.h.full_output()[before:])

    def recover(self):
        with open(os.path.join(self.good, "public.cdb"), "r+b") as out, open(self.pristine, "rb") as src:
            out.truncate(0)
            out.write(src.read())
        time.sleep(0.3)
        self.h.sighup()
        deadline = time.monotonic() + 10
        while True:
            r = client.ask(self.h.addr, "www.example.com", "A")
            if client.rrs(r, "A") == [BLOCK_V4]:
                break
            self.assertLess(time.monotonic(), deadline, f"no recovery after SIGHUP{self.ctx(self.h)}")
            time.sleep(0.2)
            self.h.sighup()
        self.assertEqual(client.rrs(client.ask(self.h.addr, "fine.sigbus.test", "A"), "A"), [ALLOWED_A])

    def test_1_truncate(self):
        path = os.path.join(self.good, "public.cdb")
        self.damage_under_load(lambda: subprocess.run(["truncate", "-s", "0", path], check=True))
        self.recover()

    def test_2_cp_over(self):
        path = os.path.join(self.good, "public.cdb")
        self.damage_under_load(
            lambda: subprocess.run(["cp", os.path.join(self.other, "public.cdb"), path], check=True))
        # A SIGHUP with the wrong file in place is refused (hash): still SERVFAIL, never unfiltered.
        self.h.sighup()
        time.sleep(1.0)
        self.assertRcode(client.ask(self.h.addr, "www.example.com", "A"), "SERVFAIL", "after a refused reload")
        self.recover()


if __name__ == "__main__":
    hedgetest.main()
