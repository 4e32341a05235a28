#!/usr/bin/python3
"""Reload verifies every bundle file off the loop before it is swapped in: a
new generation whose 4 MB public.cdb has flipped bytes (an SD card, a bad
copy) is refused with the default config ("reload refused" in the log) and
the names the old bundle blocks stay blocked; a cdb whose structure is broken
is refused even with `verify_hashes = false`. A good generation afterwards is
taken."""
import os
import random
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, STANDARD_LISTS  # noqa: E402
from hedgetest.hedge import BLOCK_V4  # noqa: E402

ALLOWED_A = "198.51.100.7"
FILLER = 90000   # names in a filler category: public.cdb of about 4 MB


def flip_link(link, target):
    tmp = link + ".new"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def filler_names(tag):
    return [f"n{i}.{tag}.filler.example.org" for i in range(FILLER)]


class ReloadVerify(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.wildcard_a = ALLOWED_A
        lists = {k: list(v) for k, v in STANDARD_LISTS.items()}
        lists["games"] = filler_names("a")
        cls.good = cls.bundle(lists, name="good")
        size = os.path.getsize(os.path.join(cls.good, "public.cdb"))
        assert size > 3_500_000, f"public.cdb is only {size} bytes"
        lists["games"] = filler_names("b")
        cls.good2 = cls.bundle(lists, name="good2")
        cls.current = os.path.join(cls.tmp, "current")
        flip_link(cls.current, cls.good)
        cls.h = cls.serve([cls.f.server], cls.current, log_level="info")

    def a(self, name):
        return client.rrs(client.ask(self.h.addr, name, "A"), "A")

    def corrupt_copy(self, name, mutate):
        d = os.path.join(self.tmp, name)
        shutil.copytree(self.good2, d)
        with open(os.path.join(d, "public.cdb"), "r+b") as f:
            data = bytearray(f.read())
            mutate(data)
            f.seek(0)
            f.write(data)
        return d

    def hup_expect_refused(self, target):
        before = len(self.h.full_output())
        flip_link(self.current, target)
        self.h.sighup()
        deadline = time.monotonic() + 10
        while "reload refused" not in self.h.full_output()[before:]:
            self.h.assert_alive()
            self.assertLess(time.monotonic(), deadline, f"no 'reload refused'{self.ctx(self.h)}")
            time.sleep(0.1)
        return self.h.full_output()[before:]

    def test_1_flipped_bytes_refused_by_hash(self):
        rnd = random.Random(7)

        def flip(data):
            for _ in range(64):
                i = rnd.randrange(2048, len(data) - 4096)
                data[i] ^= 0xFF
        bad = self.corrupt_copy("flipped", flip)
        try:
            out = self.hup_expect_refused(bad)
            # Refused by the hash, or earlier by the structure walk if a flip hit a length.
            self.assertRegex(out, r"public\.cdb: (sha256 does not match|not a valid cdb)")
            for name in ("www.example.com", "casino.example.org", "n5.a.filler.example.org",
                         "n89999.a.filler.example.org"):
                self.assertEqual(self.a(name), [BLOCK_V4], f"{name} must stay blocked")
            self.assertEqual(self.a("n5.b.filler.example.org"), [ALLOWED_A], "the refused bundle is not in use")
        finally:
            flip_link(self.current, self.good)

    def test_2_broken_structure_refused_without_hashes(self):
        cfg = open(self.h.config_path).read()
        self.h.write_config(cfg.replace("[lists]\n", "[lists]\nverify_hashes = false\n", 1))

        def break_table(data):
            # Hash table pointer 0 -> far past the end of the file.
            data[0:4] = (len(data) + 4096).to_bytes(4, "little")
            data[4:8] = (1000).to_bytes(4, "little")
        bad = self.corrupt_copy("broken-table", break_table)
        try:
            out = self.hup_expect_refused(bad)
            self.assertIn("not a valid cdb", out)
            self.assertEqual(self.a("www.example.com"), [BLOCK_V4])
        finally:
            self.h.write_config(cfg)
            flip_link(self.current, self.good)

    def test_3_good_generation_taken(self):
        flip_link(self.current, self.good2)
        self.h.sighup()
        deadline = time.monotonic() + 10
        while self.a("n5.b.filler.example.org") != [BLOCK_V4]:
            self.assertLess(time.monotonic(), deadline, f"good bundle not taken{self.ctx(self.h)}")
            time.sleep(0.1)
        self.assertEqual(self.a("www.example.com"), [BLOCK_V4])
        flip_link(self.current, self.good)
        self.h.sighup()


if __name__ == "__main__":
    hedgetest.main()
