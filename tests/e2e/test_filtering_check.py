#!/usr/bin/python3
"""The built-in filtering check (issue 9: the DfE's "record of filtering
checks", made by the box itself), end to end with the real compiler, CLI,
server and SQLite store.

- `hedge compile` adds each category's test names (the taxonomy's reserved
  NAME.filtering-check.invalid, or --test-name CATEGORY=NAME) to the lists of
  every category that has a source, and signs them into the manifest; a bad
  or unknown --test-name is refused and no bundle is written.
- `hedge check` runs every group's blocked categories through the real
  decision, prints a table, records a 'builtin' filtering check; exit 0.
- `hedge serve` records one when it starts; an allow exception over a test
  name (a real way filtering gets switched off) makes /health 503 naming
  group, category and reason, `hedge check` exit 1 and record "not as
  expected"; revoking it brings /health back to 200."""
import json
import os
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import hedge, util  # noqa: E402
import web_support as ws  # noqa: E402

PORN_TEST = "pornography.filtering-check.invalid"


class FilteringCheck(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        extra, cls.bp, cls.st = ws.web_extra(cls.tmp)
        cls.db = extra["store"]["path"]
        cls.lists = cls.bundle()
        cls.h = cls.serve([cls.f.server], cls.lists, extra=extra)

    def cli(self, *args, ok=True):
        p = subprocess.run([hedge.hedge_bin(), *args, "--config", self.h.config_path], capture_output=True,
                           text=True, timeout=60)
        if ok is not None:
            self.assertEqual(p.returncode == 0, ok, p.stdout + p.stderr)
        return p

    def checks(self):
        db = sqlite3.connect(self.db)
        rows = db.execute("SELECT by, kind, what, result, action FROM filtering_check ORDER BY id").fetchall()
        db.close()
        return rows

    def health(self):
        status, _, body = ws.get(self.st, "/health")
        return status, body

    def test_1_compile_adds_test_names_to_sourced_categories(self):
        with open(os.path.join(self.lists, "manifest.json")) as fh:
            man = json.load(fh)
        cats = {c["id"]: c for c in man["categories"]}
        self.assertEqual(cats["pornography"].get("test_names"), [PORN_TEST])
        self.assertEqual(cats["child-abuse"].get("test_names"), ["child-abuse.filtering-check.invalid"])
        self.assertNotIn("test_names", cats["drugs"])  # no source for drugs: not served, nothing to test
        p = subprocess.run([hedge.hedge_bin(), "lists", "lookup", PORN_TEST, "--bundle", self.lists],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("pornography", p.stdout)
        # Signed with its test names, the bundle still verifies: they are part of what the signature covers.
        key = os.path.join(self.tmp, "trust")
        subprocess.run([hedge.hedge_bin(), "keygen", "--out", key], check=True, capture_output=True, timeout=30)
        signed = os.path.join(self.tmp, "signed")
        hedge.compile_bundle(signed, {"pornography": ["porn.example.org"]}, self.tmp,
                             extra_args=["--sign", key + ".key"])
        p = subprocess.run([hedge.hedge_bin(), "verify", signed, "--pubkey", key + ".pub"], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("sha256 does not match", p.stdout + p.stderr)

    def test_2_trust_chooses_test_names_and_bad_ones_are_refused(self):
        out = os.path.join(self.tmp, "chosen")
        hedge.compile_bundle(out, {"pornography": ["porn.example.org"], "gambling": ["bet.example.net"]},
                             self.tmp, extra_args=["--test-name", "pornography=testsite.trust.example",
                                                   "--test-name", "pornography=second.trust.example"])
        with open(os.path.join(out, "manifest.json")) as fh:
            cats = {c["id"]: c for c in json.load(fh)["categories"]}
        self.assertEqual(cats["pornography"]["test_names"], ["testsite.trust.example", "second.trust.example"])
        self.assertEqual(cats["gambling"]["test_names"], ["gambling.filtering-check.invalid"])
        for bad, why in (("pornography=com", "not a public suffix"), ("nosuch=x.example", "unknown category"),
                         ("pornography=bad..name", "empty"), ("pornography", "expected CATEGORY=NAME")):
            dest = os.path.join(self.tmp, "bad-" + str(abs(hash(bad))))
            p = hedge.compile_bundle(dest, {"pornography": ["porn.example.org"]}, self.tmp,
                                     extra_args=["--test-name", bad], check=False)
            self.assertNotEqual(p.returncode, 0, bad)
            self.assertIn(why, p.stderr.lower() if why.islower() else p.stderr, (bad, p.stderr))
            self.assertFalse(os.path.exists(dest), f"{bad}: a bundle was written")

    def test_3_cli_check_passes_and_is_recorded(self):
        util.wait_until(lambda: any(r[0] == "hedge (at start)" for r in self.checks()), 5, 0.1,
                        "serve to record its check at start")
        p = self.cli("check")
        self.assertIn(PORN_TEST, p.stdout)
        self.assertIn("all blocked as expected", p.stdout)
        self.assertNotIn("child-abuse.filtering-check.invalid", p.stdout)  # confidential: never printed
        r = json.loads(self.cli("check", "--json", "--no-record").stdout)
        self.assertTrue(r["ok"])
        self.assertGreater(r["tested"], 0)
        self.assertTrue(all(row["outcome"] != "NOT BLOCKED" for row in r["rows"]))
        rows = [x for x in self.checks() if x[0] == "hedge check (command line)"]
        self.assertEqual(len(rows), 1, self.checks())  # --no-record wrote nothing
        by, kind, what, result, action = rows[0]
        self.assertEqual((kind, result), ("builtin", "as expected"))
        self.assertIn("lists version", what)
        status, body = self.health()
        self.assertEqual(status, 200, body)
        status, _, body = ws.get(self.st, "/status")
        self.assertTrue(json.loads(body)["filtering_check"]["ok"])
        status, _, body = ws.get(self.st, "/metrics")
        self.assertIn("hedge_filtering_check_failures 0", body)

    def test_4_an_exception_over_a_test_name_is_caught(self):
        self.cli("exception", "add", PORN_TEST, "--all-groups", "--allow", "--by", "e2e", "--reason",
                 "switching the check off", "--for", "1h")
        try:
            util.wait_until(lambda: "filtering check:" in self.health()[1], 10, 0.1,
                            "/health to report the failed check")
        except TimeoutError:
            self.fail(f"/health says {self.health()}{self.ctx(self.h)}")
        status, body = self.health()
        self.assertIn("filtering check:", body)
        self.assertIn(f"{PORN_TEST} not blocked (exception-allow)", body)
        status, _, body = ws.get(self.st, "/metrics")
        self.assertRegex(body, r"hedge_filtering_check_failures [1-9]")
        p = self.cli("check", ok=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("NOT BLOCKED: exception-allow", p.stdout)
        self.assertEqual(self.checks()[-1][3], "not as expected")
        # Revoked: the check passes again and /health recovers.
        ex = json.loads(self.cli("exception", "list", "--json").stdout)
        ex = ex if isinstance(ex, list) else ex.get("exceptions", [])
        eid = [e for e in ex if e["name"] == PORN_TEST][-1]["id"]
        self.cli("exception", "revoke", str(eid), "--by", "e2e", "--reason", "check restored")
        try:
            util.wait_until(lambda: "filtering check" not in self.health()[1], 10, 0.1,
                            "/health to recover after the revoke")
        except TimeoutError:
            self.fail(f"/health still says {self.health()}{self.ctx(self.h)}")
        self.cli("check")


if __name__ == "__main__":
    unittest.main()
