#!/usr/bin/env python3
"""End-to-end: `hedge user` and `hedge report` on a real SQLite store.

Covers: the first account with a generated password (only when none exists),
add/list/disable/passwd with password files, bad names and short passwords
refused, every change in the audit chain (`hedge audit verify`); the governor
report (HTML and CSV) from a store seeded with known addresses, MACs, device
names, people and domains shows none of them and suppresses the small counts;
the safeguarding report shows the detail but never the illegal-tier name; bad
dates are refused with a clear message; both reports rendered in headless
Chromium (screenshots under build/screenshots/console-cli/).
"""
import calendar
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import console_support as cs  # noqa: E402
from hedgetest import hedge  # noqa: E402

DAY0 = calendar.timegm((2026, 10, 5, 0, 0, 0))


class ConsoleCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="hedge-e2e-console-cli-")
        d = self.tmp.name
        self.db = os.path.join(d, "hedge.db")
        self.conf = os.path.join(d, "hedge.toml")
        with open(self.conf, "w") as f:
            f.write(f'[store]\npath = "{self.db}"\n[policy]\ntimezone = "Europe/London"\n')

    def tearDown(self):
        self.tmp.cleanup()

    def hedge(self, *args, ok=True):
        p = subprocess.run([hedge.hedge_bin(), *args, "--config", self.conf], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        if ok:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def pwfile(self, pw):
        path = os.path.join(self.tmp.name, "pw")
        with open(path, "w") as f:
            f.write(pw + "\n")
        return path

    def test_users(self):
        out = os.path.join(self.tmp.name, "first-password")
        p = self.hedge("user", "first", "dsl", "--role", "dsl", "--password-out", out)
        pw = open(out).read().strip()
        self.assertIn(pw, p.stdout)
        self.assertGreaterEqual(len(pw), 20)
        self.assertEqual(os.stat(out).st_mode & 0o777, 0o600)
        # Only when no account exists.
        p = self.hedge("user", "first", "other", "--role", "dsl", "--password-out", out + "2")
        self.assertIn("already exist", p.stdout)
        self.assertFalse(os.path.exists(out + "2"))
        self.hedge("user", "add", "tech1", "--role", "technician", "--password-file", self.pwfile("a good password"))
        self.hedge("user", "add", "gov1", "--role", "governor", "--password-file", self.pwfile("governor password"))
        p = self.hedge("user", "add", "tech1", "--role", "viewer", "--password-file", self.pwfile("another one!"),
                       ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("already exists", p.stderr)
        p = self.hedge("user", "add", "Bad Name", "--role", "viewer", "--password-file", self.pwfile("long enough 1"),
                       ok=False)
        self.assertIn("must be 1-64", p.stderr)
        p = self.hedge("user", "add", "short", "--role", "viewer", "--password-file", self.pwfile("2short"), ok=False)
        self.assertIn("at least 10", p.stderr)
        p = self.hedge("user", "add", "x", "--role", "admin", "--password-file", self.pwfile("long enough 1"), ok=False)
        self.assertEqual(p.returncode, 2)
        p = self.hedge("user", "add", "nopw", "--role", "viewer", ok=False)  # no terminal, no file
        self.assertIn("--password-file", p.stderr)
        self.hedge("user", "disable", "tech1")
        self.hedge("user", "passwd", "gov1", "--password-file", self.pwfile("a new governor pw"))
        lst = self.hedge("user", "list").stdout
        self.assertRegex(lst, r"tech1\s+technician\s+disabled")
        self.assertRegex(lst, r"gov1\s+governor\s+active")
        self.assertRegex(lst, r"dsl\s+dsl\s+active")
        self.assertNotIn("pbkdf2", lst)
        audit = self.hedge("audit", "list").stdout
        for action in ("user.add", "user.disable", "user.passwd"):
            self.assertIn(action, audit)
        self.assertEqual(self.hedge("audit", "verify").returncode, 0)

    def make_store(self):
        self.hedge("user", "first", "dsl", "--role", "dsl", "--password-out", os.path.join(self.tmp.name, "p"))
        cs.seed_small(self.db, DAY0)

    def test_governor_report_names_no_one(self):
        self.make_store()
        html = self.hedge("report", "governor", "--from", "2026-10-01", "--to", "2026-10-31").stdout
        csv = self.hedge("report", "governor", "--from", "2026-10-01", "--to", "2026-10-31", "--format", "csv").stdout
        for text, name in ((html, "html"), (csv, "csv")):
            for s in cs.SECRETS:
                self.assertNotIn(s, text, f"{s} appears in the governor {name}")
            self.assertNotIn("pupil-", text)
        # Pornography 12 shown, gambling 3 and child abuse 1 suppressed, totals omitted.
        self.assertIn("Pornography,12", csv)
        self.assertIn("Gambling,<5", csv)
        self.assertIn("Child sexual abuse content,<5", csv)
        self.assertIn("Total,not shown", csv)
        self.assertNotIn(",15", csv)
        self.assertNotIn(",16", csv)
        for line in csv.splitlines():
            for cell in line.split(","):
                if cell.isdigit():
                    self.assertFalse(0 < int(cell) < 5, f"unsuppressed small count in: {line}")
        self.assertIn("at least 12", html)
        out = os.path.join(cs.screenshot_dir("console-cli"), "governor-report.html")
        with open(out, "w") as f:
            f.write(html)
        cs.screenshot("file://" + out, out.replace(".html", ".png"), height=1600)

    def test_safeguarding_report(self):
        self.make_store()
        html = self.hedge("report", "safeguarding", "--from", "2026-10-01", "--to", "2026-10-31").stdout
        self.assertIn("badsite-seeded.example", html)
        self.assertIn("ipad-year9-17", html)
        self.assertIn("Jamie Pupil", html)
        self.assertNotIn("illegal-seeded.invalid", html)
        self.assertIn("withheld", html)
        self.assertIn("<svg", html)
        self.assertNotIn("<script", html)
        path = os.path.join(self.tmp.name, "sg.csv")
        self.hedge("report", "safeguarding", "--from", "2026-10-01", "--to", "2026-10-31", "--format", "csv",
                   "--out", path)
        self.assertIn("badsite-seeded.example", open(path).read())
        out = os.path.join(cs.screenshot_dir("console-cli"), "safeguarding-report.html")
        with open(out, "w") as f:
            f.write(html)
        cs.screenshot("file://" + out, out.replace(".html", ".png"), height=2000)

    def test_bad_dates(self):
        for args, msg in ((["--from", "2026-10-31", "--to", "2026-10-01"], "before the start"),
                          (["--from", "2026-02-30", "--to", "2026-03-01"], "is not a date"),
                          (["--from", "2025-01-01", "--to", "2026-10-01"], "at most 400 days"),
                          (["--from", "2026-10-01"], "required")):
            p = self.hedge("report", "governor", *args, ok=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(msg, p.stderr)


if __name__ == "__main__":
    unittest.main()
