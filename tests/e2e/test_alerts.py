#!/usr/bin/python3
"""Safeguarding alerts end to end (issue 9 "Alerts"): a real `hedge serve` with an
[alerts] section, a real SMTP server (Debian's aiosmtpd, STARTTLS required, AUTH
PLAIN only inside TLS) and an HTTPS webhook receiver (http.server in ssl), both
with certificates from a test CA made here with the openssl CLI.

In order: an illegal-tier attempt becomes one mail (headers checked; the body has
the category, the time and the incident id and no name, client address or device)
and one JSON POST; with both receivers dead DNS keeps answering promptly, the
alert waits in the store's queue with its error, survives a restart of hedge, and
is delivered once the receivers come back (backoff capped at 2 s here)."""
import email
import email.policy
import email.utils
import http.server
import json
import os
import socketserver
import sqlite3
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, origin, util  # noqa: E402

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword
except ImportError:   # cmake/install-deps.sh installs python3-aiosmtpd
    Controller = None

SMTP_USER, SMTP_PASSWORD = "hedge-box", "s3cret pass"
TO = ["dsl@school.example", "head@school.example"]
FROM = "hedge@school.example"


class Mailbox:
    """aiosmtpd handler: keeps each accepted message with how it arrived."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                  "data": envelope.content, "tls": session.ssl is not None,
                                  "auth": session.authenticated})
        return "250 OK queued"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok)


class SmtpServer:
    def __init__(self, port, crt, key):
        self.port, self.crt, self.key = port, crt, key
        self.box = Mailbox()
        self.ctl = None

    def start(self):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.crt, self.key)
        self.ctl = Controller(self.box, hostname="127.0.0.1", port=self.port, tls_context=ctx,
                              require_starttls=True, authenticator=authenticator, auth_required=True,
                              auth_require_tls=True, server_hostname="localhost")
        self.ctl.start()

    def stop(self):
        if self.ctl:
            self.ctl.stop()
            self.ctl = None


class Webhook:
    """HTTPS POST receiver on loopback with the test CA's certificate."""

    def __init__(self, port, crt, key):
        self.port, self.crt, self.key = port, crt, key
        self.posts = []
        self.server = None

    def start(self):
        hook = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                hook.posts.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = S(("127.0.0.1", self.port), H)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.crt, self.key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def wait_for(fn, timeout, step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


class Alerts(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        if Controller is None:
            raise unittest.SkipTest("python3-aiosmtpd is not installed (cmake/install-deps.sh)")
        t = cls.tmp
        ca_key, cls.ca = origin.make_ca(t, "alerts-ca")
        key, crt = origin.make_cert(t, "localhost", ca_key, cls.ca, "localhost")
        cls.crt, cls.key = crt, key
        cls.smtp = SmtpServer(util.free_port(), crt, key)
        cls.hook = Webhook(util.free_port(), crt, key)
        cls.smtp.start()
        cls.stack.callback(cls.smtp.stop)
        cls.hook.start()
        cls.stack.callback(cls.hook.stop)
        pw = os.path.join(t, "smtp-password")
        with open(pw, "w") as f:
            f.write(SMTP_PASSWORD + "\n")
        cls.db = os.path.join(t, "hedge.db")
        extra = {
            "store": {"path": cls.db},
            "school": {"name": "Test Primary School"},
            "monitoring": {"flush_ms": 100},
            "alerts": {"smtp": f"smtp://localhost:{cls.smtp.port}", "smtp_user": SMTP_USER,
                       "smtp_password_file": pw, "email_from": FROM, "email_to": TO,
                       "webhook": f"https://localhost:{cls.hook.port}/hooks/safeguarding",
                       "ca_file": cls.ca, "retry_min_s": 1, "retry_max_s": 2, "timeout_s": 3},
        }
        cls.f = cls.fake()
        cls.h = cls.serve([cls.f.server], cls.bundle(), extra=extra)

    def incidents(self):
        with sqlite3.connect(self.db) as c:
            return c.execute("SELECT id, at, category, tier FROM incidents ORDER BY id").fetchall()

    def queue(self):
        with sqlite3.connect(self.db) as c:
            return c.execute("SELECT id, kind, attempts, sent_at, last_error FROM alert_queue ORDER BY id"
                             ).fetchall()

    def check_mail(self, m, inc_id, category, names):
        self.assertTrue(m["tls"], "the mail was sent before STARTTLS")
        self.assertTrue(m["auth"], "the mail was sent without AUTH")
        self.assertEqual(m["from"], FROM)
        self.assertEqual(sorted(m["to"]), sorted(TO))
        msg = email.message_from_bytes(m["data"], policy=email.policy.default)
        self.assertEqual(msg["From"].addresses[0].addr_spec, FROM)
        self.assertEqual(sorted(a.addr_spec for a in msg["To"].addresses), sorted(TO))
        self.assertIn(f"incident {inc_id}", msg["Subject"])
        self.assertIn(category, msg["Subject"])
        self.assertIsNotNone(email.utils.parsedate_to_datetime(msg["Date"]))
        self.assertTrue(msg["Message-ID"].startswith("<hedge-alert-"), msg["Message-ID"])
        body = msg.get_content()
        self.assertIn(f"Incident:  {inc_id}", body)
        self.assertIn(f"Category:  {category}", body)
        self.assertRegex(body, r"Time:      \d{4}-\d\d-\d\d \d\d:\d\d UTC")
        raw = m["data"].decode("utf-8", "replace")
        for n in names + ["127.0.0.1"]:
            self.assertNotIn(n, raw)

    def check_post(self, p, inc_id, names):
        self.assertEqual(p["path"], "/hooks/safeguarding")
        self.assertEqual(p["headers"].get("Content-Type"), "application/json")
        doc = json.loads(p["body"])
        self.assertIn(f"incident {inc_id}", doc["title"])
        self.assertIn(f"Incident:  {inc_id}", doc["text"])
        for n in names + ["127.0.0.1"]:
            self.assertNotIn(n, p["body"].decode())

    def test_1_incident_mail_and_webhook(self):
        client.ask(self.h.addr, "terror-test.example.org", "A")
        incs = wait_for(self.incidents, 10)
        self.assertTrue(incs, "no incident was recorded" + self.h.output())
        inc_id, _, category, tier = incs[-1]
        self.assertEqual((category, tier), ("terrorism", "illegal"))
        mails = wait_for(lambda: self.smtp.box.messages, 15)
        self.assertEqual(len(mails), 1, self.h.output())
        self.check_mail(mails[0], inc_id, "terrorism", ["terror-test"])
        posts = wait_for(lambda: self.hook.posts, 10)
        self.assertEqual(len(posts), 1, self.h.output())
        self.check_post(posts[0], inc_id, ["terror-test"])
        q = wait_for(lambda: [r for r in self.queue() if r[3]] if len(
            [r for r in self.queue() if r[3]]) == 2 else None, 5)
        self.assertEqual(sorted(r[1] for r in q), ["email", "webhook"])

    def test_2_dead_receivers_dns_answers_and_delivery_after_restart(self):
        self.smtp.stop()
        self.hook.stop()
        sent_before = len(self.smtp.box.messages), len(self.hook.posts)
        client.ask(self.h.addr, "abuse-test.example.net", "A")
        inc = wait_for(lambda: [i for i in self.incidents() if i[2] == "child-abuse"], 10)
        self.assertTrue(inc, self.h.output())
        inc_id = inc[-1][0]

        # The sender fails (connection refused), records why, and keeps retrying.
        def failing():
            rows = [r for r in self.queue() if not r[3]]
            return rows if len(rows) == 2 and all(r[2] >= 2 and r[4] for r in rows) else None
        rows = wait_for(failing, 15)
        self.assertTrue(rows, f"{self.queue()}\n{self.h.output()}")
        self.assertTrue(any("cannot connect" in r[4] for r in rows), rows)
        # Meanwhile DNS answers every query at once.
        worst = 0.0
        for i in range(50):
            self.f.add(f"n{i}.example.org", "A", "198.51.100.7")
            t0 = time.monotonic()
            r = client.ask(self.h.addr, f"n{i}.example.org", "A", timeout=1.0)
            worst = max(worst, time.monotonic() - t0)
            self.assertTrue(client.rrs(r, "A"))
        self.assertLess(worst, 0.5)
        self.assertEqual((len(self.smtp.box.messages), len(self.hook.posts)), sent_before)

        # A restart keeps the queue (it is in the store).
        status, _, killed = self.h.stop()
        self.assertFalse(killed, "hedge did not stop on SIGTERM while the relay was down")
        self.h.start()
        self.smtp.start()
        self.hook.start()
        mails = wait_for(lambda: self.smtp.box.messages[sent_before[0]:], 20)
        self.assertEqual(len(mails), 1, self.h.output())
        self.check_mail(mails[0], inc_id, "child-abuse", ["abuse-test"])
        posts = wait_for(lambda: self.hook.posts[sent_before[1]:], 10)
        self.assertEqual(len(posts), 1, self.h.output())
        self.check_post(posts[0], inc_id, ["abuse-test"])
        self.assertTrue(wait_for(lambda: all(r[3] for r in self.queue()), 5), self.queue())


    def test_3_weekly_digest(self):
        # The digest for last week goes out once, when the week turns: the
        # store remembers the week it last summarised. Make the store believe
        # its last digest was long ago; the next round (2 s) queues and sends
        # one for the previous week, by mail and webhook, with counts only.
        mails_before, posts_before = len(self.smtp.box.messages), len(self.hook.posts)
        with sqlite3.connect(self.db) as c:
            c.execute("INSERT INTO alert_state(key, value) VALUES('digest_week', 1) "
                      "ON CONFLICT(key) DO UPDATE SET value = 1")

        def digests():
            out = []
            for m in self.smtp.box.messages[mails_before:]:
                msg = email.message_from_bytes(m["data"], policy=email.policy.default)
                if "weekly filtering summary" in msg["Subject"]:
                    out.append((m, msg))
            return out
        got = wait_for(digests, 15)
        self.assertEqual(len(got), 1, self.h.output())
        m, msg = got[0]
        self.assertTrue(m["tls"] and m["auth"])
        self.assertEqual(sorted(m["to"]), sorted(TO))
        body = msg.get_content()
        self.assertIn("Test Primary School", body)
        for line in ("Blocked attempts:", "Safeguarding incidents:", "Incidents still to acknowledge:",
                     "Review requests waiting:", "counts only"):
            self.assertIn(line, body)
        raw = m["data"].decode("utf-8", "replace")
        for n in ("terror-test", "abuse-test", "127.0.0.1", "example.org", "example.net"):
            self.assertNotIn(n, raw)  # counts only: no name, address or device
        posts = wait_for(lambda: [p for p in self.hook.posts[posts_before:]
                                  if "weekly filtering summary" in json.loads(p["body"])["title"]], 10)
        self.assertEqual(len(posts), 1, self.h.output())
        time.sleep(3)  # two more rounds: the week is recorded, nothing is sent twice
        self.assertEqual(len(digests()), 1)
        with sqlite3.connect(self.db) as c:
            week = c.execute("SELECT value FROM alert_state WHERE key = 'digest_week'").fetchone()[0]
        self.assertGreater(week, time.time() - 8 * 86400)

    def test_4_sighup_reloads_alerts(self):
        # A new webhook address and no email any more: after SIGHUP the next
        # incident goes to the new receiver only (the sender restarted off the
        # DNS loop, and incidents before the reload are not sent twice).
        hook2 = Webhook(util.free_port(), self.crt, self.key)
        hook2.start()
        self.addCleanup(hook2.stop)
        mails_before, posts_before = len(self.smtp.box.messages), len(self.hook.posts)
        self.h.sections["alerts"]["webhook"] = f"https://localhost:{hook2.port}/hooks/new"
        for k in ("smtp", "smtp_user", "smtp_password_file", "email_from", "email_to"):
            self.h.sections["alerts"].pop(k, None)
        self.h.write_config()
        self.h.sighup()
        self.assertTrue(wait_for(lambda: "alerts: settings changed" in self.h.full_output(), 10), self.h.output())
        client.ask(self.h.addr, "terror-test.example.org", "AAAA")
        posts = wait_for(lambda: hook2.posts, 15)
        self.assertEqual(len(posts), 1, self.h.output())
        self.assertEqual(posts[0]["path"], "/hooks/new")
        time.sleep(1.0)  # nothing else arrives at the old receivers
        self.assertEqual((len(self.smtp.box.messages), len(self.hook.posts)), (mails_before, posts_before))
        # [alerts] removed: the sender stops; DNS goes on.
        del self.h.sections["alerts"]
        self.h.write_config()
        self.h.sighup()
        self.assertTrue(wait_for(lambda: "the sender stopped" in self.h.full_output(), 10), self.h.output())
        self.assertTrue(client.rrs(client.ask(self.h.addr, "example.com", "A", timeout=2), "A"))


if __name__ == "__main__":
    hedgetest.main()
