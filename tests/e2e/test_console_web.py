#!/usr/bin/env python3
"""End-to-end: the safeguarding console served by `hedge serve` over HTTPS
(mbedTLS) on its own thread, driven through its real forms.

Covers: login through the form (CSRF double-submit, session cookie flags);
a review request from a pupil's device granted by the DSL as a time-limited
exception that only takes effect when a second, different account approves it
(the DSL's own approval is refused), after which the name resolves for that
group over DNS and the audit chain verifies; wrong-password lockout; CSRF
token missing or wrong (403); session idle expiry (fake clock); a governor
asking for DSL pages (403) and landing on the governor report; a viewer
submitting a change (403); markup in every typed field shown escaped; plain
HTTP to the console port answered with "use https"; every page as each role
rendered in headless Chromium (screenshots under build/screenshots/console/).
"""
import calendar
import html.parser
import http.server
import os
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import console_support as cs  # noqa: E402
from hedgetest import case, client, fakeupstream, hedge, util  # noqa: E402

PASSWORDS = {"dsl1": ("dsl", "dsl password 1"), "tech1": ("technician", "tech password 1"),
             "viewer1": ("viewer", "viewer password 1"), "gov1": ("governor", "governor password 1"),
             "dsl2": ("dsl", "dsl password 2")}
SITE = "casino.example.org"  # gambling: blocked for pupils
PAGES = {
    "dsl": ["/", "/reviews", "/exceptions", "/incidents", "/events", "/checks", "/report", "/reports",
            "/reports/view?kind=safeguarding&from=2026-10-01&to=2026-12-31",
            "/reports/view?kind=governor&from=2026-10-01&to=2026-12-31"],
    "technician": ["/", "/reviews", "/exceptions", "/incidents", "/events", "/checks"],
    "viewer": ["/", "/reviews", "/incidents"],
    "governor": ["/reports", "/reports/view?kind=governor&from=2026-10-01&to=2026-12-31"],
}


def csrf_of(page):
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    return m.group(1) if m else None


class Console(case.E2ECase):
    needs = ("serve", "compile")

    @classmethod
    def setup_peers(cls):
        cls.fake = cls.stack.enter_context(fakeupstream.FakeUpstream())
        cls.fake.wildcard_a = "198.51.100.7"
        bundle = cls.bundle()
        cls.db = os.path.join(cls.tmp, "hedge.db")
        cls.clock = os.path.join(cls.tmp, "clock")
        cls.port = util.free_port()
        cls.dns_port = util.free_port()
        conf = os.path.join(cls.tmp, "hedge.toml")
        cls.conf = conf
        with open(conf, "w") as f:
            f.write(f"""
[server]
listen = ["127.0.0.1:{cls.dns_port}"]
allow_clients = ["127.0.0.0/8"]
rate_limit_qps = 0
[upstream]
servers = ["{cls.fake.addr[0]}:{cls.fake.addr[1]}"]
[lists]
bundle = "{bundle}"
[block]
ipv4 = "{hedge.BLOCK_V4}"
[log]
level = "debug"
[[group]]
name = "pupils"
clients = ["127.0.0.0/8"]
block = ["pornography", "gambling", "malware"]
[[group]]
name = "staff"
clients = ["10.10.0.0/16"]
block = ["malware"]
[policy]
timezone = "Europe/London"
require_approval = true
exception_max_days = 30
[store]
path = "{cls.db}"
[http]
console_listen = ["127.0.0.1:{cls.port}"]
[debug]
fake_clock_file = "{cls.clock}"
""")
        for name, (role, pw) in PASSWORDS.items():
            pwf = os.path.join(cls.tmp, "pw-" + name)
            with open(pwf, "w") as f:
                f.write(pw + "\n")
            p = subprocess.run([hedge.hedge_bin(), "user", "add", name, "--role", role, "--password-file", pwf,
                                "--config", conf], capture_output=True, text=True, timeout=60)
            assert p.returncode == 0, p.stdout + p.stderr
        cls.now = int(time.time())
        cls.set_clock(cls.now)
        errf = open(os.path.join(cls.tmp, "hedge.stderr"), "w")
        cls.proc = util.register_child(subprocess.Popen([hedge.hedge_bin(), "serve", "--config", conf], stdout=errf,
                                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        errf.close()
        cls.stack.callback(cls.stop_server)
        util.wait_until(cls.console_up, 20, 0.1, "the console to accept TLS connections")
        cs.seed_small(cls.db, calendar.timegm((2026, 11, 2, 0, 0, 0)))

    @classmethod
    def stop_server(cls):
        status, secs, killed = util.stop_process(cls.proc, timeout=5.0)
        assert status == 0 and not killed, f"hedge serve exited {status} (killed={killed}):\n{cls.output()}"

    @classmethod
    def output(cls):
        return util.tail(os.path.join(cls.tmp, "hedge.stderr"), 80)

    @classmethod
    def console_up(cls):
        if cls.proc.poll() is not None:
            raise AssertionError(f"hedge serve exited {cls.proc.returncode}:\n{cls.output()}")
        try:
            status, _, _ = cs.Browser("127.0.0.1", cls.port).get("/login")
            return status == 200
        except OSError:
            return False

    @classmethod
    def set_clock(cls, t):
        with open(cls.clock + ".tmp", "w") as f:
            f.write(str(t))
        os.replace(cls.clock + ".tmp", cls.clock)

    def login(self, name, password=None, expect=303):
        b = cs.Browser("127.0.0.1", self.port)
        status, headers, page = b.get("/login")
        self.assertEqual(status, 200)
        self.assertIn("hedge_login", b.cookies)
        status, headers, page = b.post("/login", {"csrf": csrf_of(page), "user": name,
                                                  "password": password or PASSWORDS[name][1], "next": "/"})
        self.assertEqual(status, expect, page)
        if expect == 303:
            sc = headers.get("set-cookie", "")
            self.assertIn("hedge_session", b.cookies)
        return b

    def token(self, b, path="/"):
        status, _, page = b.get(path)
        self.assertEqual(status, 200, page)
        t = csrf_of(page)
        self.assertTrue(t, page)
        return t

    def dns(self, name):
        r = client.ask(("127.0.0.1", self.dns_port), name, "A")
        return [rr.to_text() for rrset in r.answer for rr in rrset]

    def add_review(self, site, who="Year 9", reason="history lesson"):
        db = sqlite3.connect(self.db)
        cur = db.execute("INSERT INTO review_requests(at,kind,site,client_ip,grp,who,reason) VALUES(?,?,?,?,?,?,?)",
                         (self.now, "unblock", site, "127.0.0.1", "pupils", who, reason))
        db.commit()
        rid = cur.lastrowid
        db.close()
        return rid

    # ------------------------------------------------------------------ the flow
    def test_review_granted_needs_a_second_person(self):
        self.assertEqual(self.dns(SITE), [hedge.BLOCK_V4])
        rid = self.add_review(SITE)
        dsl = self.login("dsl1")
        status, _, page = dsl.get("/reviews")
        self.assertIn(SITE, page)
        t = csrf_of(page)
        status, hdr, page = dsl.post("/reviews/decide", {"csrf": t, "id": rid, "action": "grant", "group": "pupils",
                                                         "days": "1", "note": "Y9 lesson on gambling harms"})
        self.assertEqual(status, 303, page)
        status, _, page = dsl.get("/exceptions")
        self.assertIn("waiting for approval", page)
        ex = int(re.search(r"<td>(\d+)</td><td>" + re.escape(SITE), page).group(1))
        # The requesting account can never approve its own.
        status, _, page = dsl.post("/exceptions/approve", {"csrf": t, "id": ex})
        self.assertEqual(status, 400)
        self.assertIn("must not be the requester", page)
        time.sleep(0.5)
        self.assertEqual(self.dns(SITE), [hedge.BLOCK_V4])
        # A second account approves: now it resolves for pupils.
        tech = self.login("tech1")
        status, _, page = tech.post("/exceptions/approve", {"csrf": self.token(tech, "/exceptions"), "id": ex})
        self.assertEqual(status, 303, page)
        util.wait_until(lambda: self.dns(SITE) == ["198.51.100.7"], 5, 0.2, f"{SITE} to resolve after approval")
        p = subprocess.run([hedge.hedge_bin(), "audit", "verify", "--config", self.conf], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        audit = subprocess.run([hedge.hedge_bin(), "audit", "list", "--config", self.conf], capture_output=True,
                               text=True, timeout=60).stdout
        self.assertIn("dsl1", audit)
        self.assertIn("tech1", audit)
        self.assertIn("review.granted", audit)
        self.assertIn("exception.approve", audit)

    def test_builtin_check_and_answers_from_the_filter(self):
        # Any user may run the built-in check; it is recorded with who ran it.
        viewer = self.login("viewer1")
        status, _, page = viewer.get("/checks")
        self.assertEqual(status, 200, page)
        self.assertIn("Run the check now", page)
        status, hdr, page = viewer.post("/checks/run", {"csrf": csrf_of(page)})
        self.assertEqual(status, 303, page)
        status, _, page = viewer.get("/checks?ran=1")
        self.assertIn("The built-in check has run", page)
        db = sqlite3.connect(self.db)
        rows = db.execute("SELECT by, kind, what, result FROM filtering_check WHERE kind = 'builtin' "
                          "ORDER BY id").fetchall()
        db.close()
        self.assertTrue(any(r[0] == "viewer1" for r in rows), rows)
        self.assertTrue(any(r[0] == "hedge (at start)" for r in rows), rows)  # recorded when serve started
        mine = [r for r in rows if r[0] == "viewer1"][-1]
        self.assertIn("all blocked as expected", mine[2])
        self.assertIn("groups (default, pupils, staff)", page)  # the result as recorded, shown in the table
        self.assertEqual(mine[3], "as expected")
        # The dashboard's health and the review queue's "filter now" come from the filter itself.
        dsl = self.login("dsl1")
        status, _, page = dsl.get("/")
        self.assertEqual(status, 200)
        self.assertRegex(page, r'<span class="v">(Working|\d+ problems?)</span><span class="l">Filter health')
        if "problem" in page:  # each reason is listed in words under the tiles
            self.assertIn("What needs attention", page)
        rid = self.add_review("bet.example.net")
        status, _, page = dsl.get("/reviews")
        self.assertIn("bet.example.net", page)
        self.assertRegex(page, r"Filter now</dt><dd>(blocked|allowed)[^<]* for pupils")

    # ------------------------------------------------------------------ security
    def test_lockout(self):
        for _ in range(5):
            self.login("dsl2", "wrong password!", expect=401)
        self.login("dsl2", expect=429)  # even the right password, for the rest of the window

    def test_csrf(self):
        b = self.login("dsl1")
        rid = self.add_review("csrf-test.example")
        for form in ({"id": rid, "action": "decline", "note": "x"},
                     {"csrf": "0" * 64, "id": rid, "action": "decline", "note": "x"}):
            status, _, page = b.post("/reviews/decide", form)
            self.assertEqual(status, 403, page)
        # The login form's own token: missing cookie or field -> 403.
        anon = cs.Browser("127.0.0.1", self.port)
        status, _, _ = anon.post("/login", {"user": "dsl1", "password": PASSWORDS["dsl1"][1]})
        self.assertEqual(status, 403)
        status, _, page = b.get("/reviews")
        self.assertIn("csrf-test.example", page)  # still open: nothing was decided

    def test_session_cookie_and_expiry(self):
        b = cs.Browser("127.0.0.1", self.port)
        _, _, page = b.get("/login")
        status, headers, _ = b.post("/login", {"csrf": csrf_of(page), "user": "viewer1",
                                               "password": PASSWORDS["viewer1"][1]})
        cookie = headers["set-cookie"]
        for flag in ("HttpOnly", "Secure", "SameSite=Strict"):
            self.assertIn(flag, cookie)
        self.assertEqual(b.get("/")[0], 200)
        try:
            self.set_clock(self.now + 31 * 60)
            status, headers, _ = b.get("/")
            self.assertEqual(status, 303)
            self.assertTrue(headers["location"].startswith("/login"))
        finally:
            self.set_clock(self.now)
        self.assertEqual(b.get("/")[0], 303)  # the session is gone, not just hidden

    def test_roles(self):
        gov = self.login("gov1")
        status, headers, _ = gov.get("/")
        self.assertEqual(status, 303)
        self.assertEqual(headers["location"], "/reports")
        for path in ("/incidents", "/events", "/reviews", "/exceptions", "/checks",
                     "/reports/view?kind=safeguarding&from=2026-11-01&to=2026-11-30", "/events.csv"):
            self.assertEqual(gov.get(path)[0], 403, path)
        status, _, page = gov.get("/reports/view?kind=governor&from=2026-11-01&to=2026-11-30")
        self.assertEqual(status, 200)
        for s in cs.SECRETS:
            self.assertNotIn(s, page)
        viewer = self.login("viewer1")
        t = self.token(viewer, "/reviews")
        rid = self.add_review("viewer-test.example")
        for path, form in (("/reviews/decide", {"id": rid, "action": "decline", "note": "no"}),
                           ("/exceptions/approve", {"id": 1}), ("/exceptions/revoke", {"id": 1, "reason": "x"}),
                           ("/incidents/ack", {"id": 1, "note": "x"}), ("/checks", {"what": "x", "result": "as expected"})):
            form["csrf"] = t
            self.assertEqual(viewer.post(path, form)[0], 403, path)
        # Illegal-tier names: the DSL sees them, the technician does not.
        self.assertIn("illegal-seeded.invalid", self.login("dsl1").get("/incidents")[2])
        self.assertNotIn("illegal-seeded.invalid", self.login("tech1").get("/incidents")[2])

    def test_markup_is_escaped(self):
        evil = '<script>alert(1)</script><img src=x onerror=alert(2)>"\'&'
        rid = self.add_review("markup-test.example", who=evil, reason=evil)
        b = self.login("dsl1")
        t = self.token(b, "/checks")
        self.assertEqual(b.post("/checks", {"csrf": t, "what": evil, "result": "as expected", "action": evil})[0], 303)
        self.assertEqual(b.post("/report", {"csrf": t, "site": "markup-report.example", "what": evil})[0], 200)
        status, _, page = b.post("/reviews/decide", {"csrf": t, "id": rid, "action": "decline", "note": evil})
        self.assertEqual(status, 303, page)
        for path in ("/reviews", "/checks", "/reports/view?kind=safeguarding&from=2026-01-01&to=2026-12-31"):
            page = b.get(path)[2]
            self.assertNotIn("<script>alert", page, path)
            self.assertNotIn("<img src=x", page, path)
            self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", page, path)
        status, _, page = b.get("/login?next=%22%3E%3Cscript%3E")
        self.assertNotIn('"><script>', page)

    def test_plain_http_on_the_console_port(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: hedge\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertIn(b"400", data.split(b"\r\n")[0])
        self.assertIn(b"only speaks HTTPS", data)

    # ------------------------------------------------------------------ pages in Chromium
    def test_pages_in_chromium(self):
        out = cs.screenshot_dir("console")
        # The login page over real TLS (mbedTLS <-> Chromium).
        cs.screenshot(f"https://127.0.0.1:{self.port}/login", os.path.join(out, "login.png"),
                      extra=("--ignore-certificate-errors",))
        self.add_review("www.history-lesson.example", who="Mr Khan, Year 5", reason="Roman Britain topic")
        for role, paths in PAGES.items():
            name = {"dsl": "dsl1", "technician": "tech1", "viewer": "viewer1", "governor": "gov1"}[role]
            b = self.login(name)
            with CookieProxy(b) as proxy:
                for path in paths:
                    status, _, page = b.get(path)
                    self.assertEqual(status, 200, f"{role} {path}")
                    if path == "/exceptions":  # never a bare table header: rows, or a sentence saying none
                        self.assertTrue("<td>" in page or "No exceptions yet" in page, page)
                    slug = re.sub(r"[^a-z0-9]+", "-", path.split("&")[0]).strip("-") or "dashboard"
                    cs.screenshot(f"http://127.0.0.1:{proxy.port}{path}", os.path.join(out, f"{role}-{slug}.png"),
                                  height=1100)


class CookieProxy:
    """Loopback HTTP server that fetches each path from the console with the
    logged-in browser's cookies, so headless Chromium (which has no cookie
    flag) renders exactly the console's pages."""

    def __init__(self, browser):
        self.browser = browser

    def __enter__(self):
        b = self.browser

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, headers, body = b.get(self.path)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", headers.get("content-type", "text/html"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    case.main(budget=240)   # about 25 pages rendered in Chromium
