#!/usr/bin/env python3
"""End-to-end: `hedge exception`, `hedge audit` and `hedge explain` against a
real bundle, config and SQLite store, with an injected clock (HEDGE_FAKE_NOW).

Covers: different groups get different decisions for the same name; a
scheduled category flips at the window edge; an exception (with approval by
someone other than the requester) takes effect and ends on expiry to the
second; the illegal tier cannot be unblocked; the audit chain verifies and a
hand-edited row is detected; config errors are reported as file:line: key.
"""
import json
import os
import sqlite3
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import policy_support as ps  # noqa: E402

T0 = 1795437000  # Mon 2026-11-23 12:30:00 GMT (inside lunchtime 12:00-13:15)


class PolicyCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="hedge-e2e-policy-")
        d = self.tmp.name
        self.bundle = os.path.join(d, "bundle")
        self.db = os.path.join(d, "hedge.db")
        self.conf = os.path.join(d, "hedge.toml")
        ps.write_bundle(self.bundle, ps.ENTRIES)
        with open(self.conf, "w") as f:
            f.write(ps.policy_toml(self.bundle, self.db))

    def tearDown(self):
        self.tmp.cleanup()

    def run_hedge(self, *args, now=T0, ok=True):
        p = ps.hedge(*args, "--config", self.conf, now=now)
        if ok:
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return p

    def answer(self, name, client, at):
        out = self.run_hedge("explain", name, "--client", client, "--at", at).stdout
        line = [l for l in out.splitlines() if l.startswith("answer:")][0]
        return line, out

    def test_groups_differ_and_schedule_flips(self):
        cases = [
            ("game.example", "10.10.0.5", str(T0), "ALLOW"),         # staff
            ("game.example", "10.20.0.5", "2026-11-23T11:59:59", "BLOCK"),  # pupils, before lunch
            ("game.example", "10.20.0.5", "2026-11-23T12:00:00", "ALLOW"),  # window opens
            ("game.example", "10.20.0.5", "2026-11-23T13:14:59", "ALLOW"),
            ("game.example", "10.20.0.5", "2026-11-23T13:15:00", "BLOCK"),  # window closes
            ("game.example", "10.30.0.5", str(T0), "BLOCK"),         # infants: allowlist
            ("www.bbc.co.uk", "10.30.0.5", str(T0), "ALLOW"),
            ("game.example", "172.16.0.1", str(T0), "BLOCK"),        # guests
            ("www.google.co.uk", "10.20.0.5", str(T0), "REWRITE: CNAME forcesafesearch.google.com"),
            ("www.google.co.uk", "10.10.0.5", str(T0), "ALLOW"),
            ("use-application-dns.net", "10.20.0.5", str(T0), "NXDOMAIN"),
            ("_dns.resolver.arpa", "172.16.0.1", str(T0), "NODATA"),
            ("abuse.example", "10.10.0.5", str(T0), "BLOCK"),
        ]
        for name, client, at, want in cases:
            with self.subTest(name=name, client=client, at=at):
                line, out = self.answer(name, client, at)
                self.assertIn(want, line, out)
        line, out = self.answer("game.example", "10.20.0.5", "2026-11-23T13:00:00")
        self.assertIn("TTL capped at 900 s", out)
        # Summer time: the same wall-clock window is an hour earlier in UTC.
        line, out = self.answer("game.example", "10.20.0.5", "2026-06-15T11:00:00Z")
        self.assertIn("ALLOW", line, out)
        line, out = self.answer("game.example", "10.20.0.5", "2026-06-15T10:59:59Z")
        self.assertIn("BLOCK", line, out)

    def test_explain_shows_cname_cloaking(self):
        # Without a chain, explain says the rule exists; with one, it decides it.
        out = self.run_hedge("explain", "cdn.example.net", "--client", "10.20.0.5", "--at", str(T0)).stdout
        self.assertIn("cname-cloaking", out)
        self.assertIn("ALLOW", [l for l in out.splitlines() if l.startswith("answer:")][0])
        out = self.run_hedge("explain", "cdn.example.net", "--client", "10.20.0.5", "--at", str(T0),
                             "--cname", "edge.example.net,bet.example").stdout
        self.assertIn("CNAME target edge.example.net is allowed", out)
        self.assertIn("=> cname-cloaking   CNAME target bet.example is blocked", out)
        self.assertIn("BLOCK", [l for l in out.splitlines() if l.startswith("answer:")][0])

    def test_exception_lifecycle_and_audit(self):
        # The two-person rule: requests and approvals prove who makes them (a console account and its password).
        jones, head = ps.add_account(self.conf, "ms.jones"), ps.add_account(self.conf, "mr.head")
        viewer = ps.add_account(self.conf, "mr.viewer", role="viewer")
        p = self.run_hedge("exception", "add", "bet.example", "--group", "staff", "--allow", "--by", "bob",
                           "--reason", "maths lesson on odds", "--for", "1h", ok=False)
        self.assertIn("no console account 'bob'", p.stderr)  # a typed name cannot ask for an unblock
        p = self.run_hedge("exception", "add", "bet.example", "--group", "staff", "--allow", "--by", "ms.jones",
                           "--password-file", jones, "--reason", "maths lesson on odds", "--for", "1h")
        self.assertIn("exception #1", p.stdout)
        self.assertIn("pending approval", p.stdout)
        # Pending: not yet applied.
        self.assertIn("BLOCK", self.answer("bet.example", "10.10.0.5", str(T0 + 60))[0])
        p = self.run_hedge("exception", "approve", "1", "--by", "mr.typed", now=T0 + 30, ok=False)
        self.assertIn("no console account 'mr.typed'", p.stderr)
        wrong = os.path.join(self.tmp.name, "wrong.password")
        with open(wrong, "w") as fh:
            fh.write("not the password at all\n")
        p = self.run_hedge("exception", "approve", "1", "--by", "mr.head", "--password-file", wrong, now=T0 + 30,
                           ok=False)
        self.assertIn("wrong password", p.stderr)
        p = self.run_hedge("exception", "approve", "1", "--by", "mr.viewer", "--password-file", viewer, now=T0 + 30,
                           ok=False)
        self.assertIn("may not do this", p.stderr)
        self.assertIn("BLOCK", self.answer("bet.example", "10.10.0.5", str(T0 + 60))[0])  # still pending
        # The requester cannot approve their own request, even with their password.
        p = self.run_hedge("exception", "approve", "1", "--by", "ms.jones", "--password-file", jones, now=T0 + 30,
                           ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("approver must not be the requester", p.stderr)
        self.run_hedge("exception", "approve", "1", "--by", "mr.head", "--password-file", head, now=T0 + 30)
        self.assertIn("ALLOW", self.answer("bet.example", "10.10.0.5", str(T0 + 60))[0])
        self.assertIn("ALLOW", self.answer("bet.example", "10.10.0.5", str(T0 + 3599))[0])
        self.assertIn("BLOCK", self.answer("bet.example", "10.10.0.5", str(T0 + 3600))[0])  # expired to the second
        self.assertIn("BLOCK", self.answer("bet.example", "10.20.0.5", str(T0 + 60))[0])    # other group
        # Allows must expire; the illegal tier can never be unblocked.
        p = self.run_hedge("exception", "add", "x.example", "--group", "staff", "--allow", "--by", "a", "--reason", "r",
                           "--until", "never", ok=False)
        self.assertIn("must expire", p.stderr)
        p = self.run_hedge("exception", "add", "x.example", "--group", "staff", "--allow", "--by", "a", "--reason", "r",
                           "--for", "31d", ok=False)
        self.assertIn("at most 30 days", p.stderr)
        p = self.run_hedge("exception", "add", "abuse.example", "--all-groups", "--allow", "--by", "a", "--reason", "r",
                           "--for", "1h", ok=False)
        self.assertIn("illegal tier", p.stderr)
        p = self.run_hedge("exception", "add", "x.example", "--group", "nobody", "--allow", "--by", "a", "--reason",
                           "r", "--for", "1h", ok=False)
        self.assertIn("no group 'nobody'", p.stderr)
        # A deny for everyone, revoked later.
        self.run_hedge("exception", "add", "news.example", "--all-groups", "--deny", "--by", "dsl", "--reason",
                       "incident", "--until", "never")
        self.run_hedge("exception", "approve", "2", "--by", "mr.head", "--password-file", head)
        self.assertIn("BLOCK", self.answer("news.example", "10.10.0.5", str(T0 + 60))[0])
        self.run_hedge("exception", "revoke", "2", "--by", "dsl", "--reason", "resolved", now=T0 + 100)
        self.assertIn("ALLOW", self.answer("news.example", "10.10.0.5", str(T0 + 120))[0])

        out = self.run_hedge("exception", "list", now=T0 + 60).stdout
        self.assertIn("bet.example", out)
        out = self.run_hedge("exception", "list", now=T0 + 4000).stdout  # also logs the expiry
        self.assertIn("no current exceptions", out)
        out = self.run_hedge("exception", "list", "--all", now=T0 + 4000).stdout
        self.assertIn("expired", out)
        self.assertIn("revoked", out)
        out = self.run_hedge("audit", "list").stdout
        for action in ("exception.create", "exception.approve", "exception.revoke", "exception.expire"):
            self.assertIn(action, out)
        rows = json.loads(self.run_hedge("audit", "list", "--json", "--limit", "100").stdout)
        actions = [r["action"] for r in rows]
        self.assertEqual(len([a for a in actions if a.startswith("exception.")]), 6, actions)
        self.assertNotIn("bob", [r["actor"] for r in rows])  # the refused request wrote nothing
        # The CLI approvals were checked like console logins, and audited as such (the wrong one too).
        logins = [r for r in rows if r["action"].startswith("login")]
        self.assertTrue(any(r["actor"] == "mr.head" and r["action"] == "login.fail" for r in logins), rows)
        out = self.run_hedge("audit", "verify").stdout
        self.assertIn(f"audit log OK: {len(rows)} rows", out)

        # Tamper: an append-only trigger blocks a plain edit...
        con = sqlite3.connect(self.db)
        with self.assertRaises(sqlite3.DatabaseError):
            con.execute("UPDATE audit SET actor = 'someone.else' WHERE seq = 1")
        # ...and a determined hand edit is detected.
        con.execute("DROP TRIGGER audit_no_update")
        con.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = 1")
        con.commit()
        con.close()
        p = self.run_hedge("audit", "verify", ok=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("TAMPERED: audit seq 1", p.stdout)

    def test_extending_an_exception_by_hand_is_detected(self):
        jones = ps.add_account(self.conf, "ms.jones")
        self.run_hedge("exception", "add", "bet.example", "--group", "staff", "--allow", "--by", "ms.jones",
                       "--password-file", jones, "--reason", "lesson", "--for", "1h")
        con = sqlite3.connect(self.db)
        con.execute("UPDATE exception SET expires = expires + 864000")
        con.commit()
        con.close()
        p = self.run_hedge("audit", "verify", ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("exception #1: differs from its audited state", p.stdout)

    def test_config_errors_name_file_line_and_key(self):
        with open(self.conf, "a") as f:
            f.write('\n[[group]]\nname = "bad"\nblock = ["gamez"]\nallow_during = { lunchtime = ["child-abuse"] }\n'
                    'clients = ["10.10.0.0/16"]\ncolour = "red"\n')
        p = ps.hedge("explain", "x.example", "--client", "10.0.0.1", "--config", self.conf)
        self.assertEqual(p.returncode, 1)
        err = p.stderr
        self.assertIn("unknown category 'gamez'", err)
        self.assertIn("illegal tier", err)
        self.assertIn("also a client of group 'staff'", err)
        self.assertIn("group[4].colour: unknown key", err)
        self.assertRegex(err, r"hedge\.toml:\d+: group\[4\]\.block: ")


if __name__ == "__main__":
    if not os.path.exists(ps.BIN):
        from hedgetest.case import skip_exit
        skip_exit(f"hedge binary not found at {ps.BIN}")
    prog = unittest.main(verbosity=2, exit=False)
    from hedgetest.case import exit_status
    sys.exit(exit_status(prog.result))
