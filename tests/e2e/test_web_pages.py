#!/usr/bin/python3
"""Block page and status pages as people and tools see them (issue 8): headless
Chromium renders the block page (English, Welsh, illegal tier, not blocked) and
submits the review form (the request appears in the store, thank-you page);
screenshots go to BUILD/screenshots/. /metrics is parsed by prometheus_client's
parser, /status by a JSON parser, /health flips to 503 when the upstream dies and
back when it returns; a blocked query becomes a row, a metric increment and an
incident; `hedge events export` and `hedge incident ack` work on that store."""
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, hedge  # noqa: E402
import web_support as ws  # noqa: E402

SHOTS = os.path.join(os.environ.get("HEDGE_BUILD_DIR", "build"), "screenshots")


def chromium_shot(url, name, extra=()):
    os.makedirs(SHOTS, exist_ok=True)
    out = os.path.join(SHOTS, name)
    if os.path.exists(out):
        os.unlink(out)
    profile = tempfile.mkdtemp(prefix="hedge-chromium-")
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", f"--screenshot={out}", "--window-size=1200,900", *extra, url]
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60, check=False)
    return out


def dump_dom(url, extra=()):
    profile = tempfile.mkdtemp(prefix="hedge-chromium-")
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--dump-dom", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False).stdout


class WebPages(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.wildcard_a = "198.51.100.7"
        extra, cls.bp, cls.st = ws.web_extra(cls.tmp)
        extra["monitoring"]["upstream_health_s"] = 1
        cls.db = extra["store"]["path"]
        cls.h = cls.serve([cls.f.server], cls.bundle(), extra=extra)
        # Chromium resolves every name to the block page listener, as the school's DNS would.
        cls.rules = [f"--host-resolver-rules=MAP * 127.0.0.1:{cls.bp[1]}"]

    def url(self, host, path="/"):
        return f"http://{host}{path}"

    def test_screenshots_block_pages(self):
        cases = [("block-en.png", "www.example.com", "/", ["--lang=en-GB", "--accept-lang=en-GB"], "Pornography"),
                 ("block-cy.png", "casino.example.org", "/", ["--lang=cy", "--accept-lang=cy"], "Gamblo"),
                 ("block-illegal.png", "abuse-test.example.net", "/", [], "cannot be opened"),
                 ("not-blocked.png", "fine.example.test", "/", [], "not blocked")]
        for name, host, path, lang, want in cases:
            # The text through HTTP (with the browser's Accept-Language), the rendering through Chromium.
            al = {"Accept-Language": lang[-1].split("=")[1]} if lang else {}
            status, _, dom = ws.get(self.bp, path, host=host, headers=al)
            self.assertEqual(status, 200)
            self.assertIn(want, dom, f"{name}: {dom[:500]}")
            shot = chromium_shot(self.url(host, path), name, self.rules + lang)
            self.assertTrue(os.path.getsize(shot) > 5000, shot)
            if "illegal" in name:
                self.assertNotIn("abuse-test", dom)
                self.assertNotIn("child", dom.lower())
                self.assertNotIn("<form", dom)

    def test_form_submits_and_is_stored(self):
        # A page that submits the block page's own form as a browser would (no JS on the block page).
        page = os.path.join(self.tmp, "submit.html")
        with open(page, "w") as f:
            f.write(f"""<!doctype html><form method=post action="http://www.example.com/_hedge/review">
<input name=site value="www.example.com"><input name=lang value=en>
<input name=who value="Class 4 &lt;b&gt;"><input name=reason value="Our Romans project"></form>
<script>document.forms[0].submit()</script>""")
        dom = dump_dom("file://" + page, self.rules + ["--virtual-time-budget=3000"])
        self.assertIn("Thank you", dom)
        chromium_shot("file://" + page, "form-thanks.png", self.rules + ["--virtual-time-budget=3000"])

        def row():
            with sqlite3.connect(self.db) as c:
                return c.execute("SELECT site, who, reason, status, kind FROM review_requests "
                                 "WHERE reason = 'Our Romans project'").fetchall()
        rows = ws.wait_for(row)
        self.assertTrue(rows, "review request not stored")
        self.assertEqual(rows[0][0], "www.example.com")
        self.assertEqual(rows[0][3:], ("open", "unblock"))

    def test_report_form_any_host(self):
        """/report ("Report an unsuitable site") on the block-page listener, for any Host, linked
        from the block page; a report joins the review queue as kind 'report'."""
        status, _, dom = ws.get(self.bp, "/", host="www.example.com")
        self.assertIn('href="/report"', dom)
        for host, lang, want in (("anything.example.test", "en-GB", "Tell us about a website"),
                                 ("fine.example.test", "cy", "Dyweda wrthym am wefan")):
            status, _, dom = ws.get(self.bp, "/report", host=host, headers={"Accept-Language": lang})
            self.assertEqual(status, 200)
            self.assertIn(want, dom)
            self.assertIn('<form method="post" action="/report">', dom)
        chromium_shot(self.url("anything.example.test", "/report"), "report-form-en.png",
                      self.rules + ["--lang=en-GB", "--accept-lang=en-GB"])
        chromium_shot(self.url("anything.example.test", "/report?lang=cy"), "report-form-cy.png", self.rules)
        # Not a web address: the form again, with the error and what was typed (escaped).
        body = "site=%3Cb%3Enot+an+address&what=%3Cscript%3Ex%3C%2Fscript%3E&lang=en"
        status, _, dom = ws.get(self.bp, "/report", host="x.example.test", method="POST", body=body.encode(),
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 400)
        self.assertIn("does not look like a website address", dom)
        self.assertIn("&lt;script&gt;x&lt;/script&gt;", dom)
        self.assertNotIn("<script>", dom)
        # Through a real browser: the form's own submit, as a pupil would.
        page = os.path.join(self.tmp, "report.html")
        with open(page, "w") as f:
            f.write("""<!doctype html><form method=post action="http://any.example.test/report">
<input name=site value="https://Games.Example.NET/level/3?x=1"><input name=lang value=en>
<input name=who value="Year 5 &lt;i&gt;"><input name=what value="Shooting game in lessons"></form>
<script>document.forms[0].submit()</script>""")
        dom = dump_dom("file://" + page, self.rules + ["--virtual-time-budget=3000"])
        self.assertIn("Thank you for telling us", dom)
        self.assertIn("games.example.net", dom)
        chromium_shot("file://" + page, "report-thanks.png", self.rules + ["--virtual-time-budget=3000"])

        def row():
            with sqlite3.connect(self.db) as c:
                return c.execute("SELECT site, who, reason, status, kind FROM review_requests "
                                 "WHERE kind = 'report'").fetchall()
        rows = ws.wait_for(row)
        self.assertTrue(rows, "report not stored")   # the screenshot submits the page once more
        self.assertEqual(len(set(rows)), 1, rows)
        self.assertEqual(rows[0][0], "games.example.net")
        self.assertEqual(rows[0][1], "Year 5 <i>")
        self.assertIn("Shooting game in lessons", rows[0][2])
        self.assertIn("https://Games.Example.NET/level/3", rows[0][2])
        self.assertEqual(rows[0][3:], ("open", "report"))

    def test_status_json_and_metrics(self):
        from prometheus_client.parser import text_string_to_metric_families
        client.ask(self.h.addr, "porn.example.org", "A")
        client.ask(self.h.addr, "terror-test.example.org", "A")

        def metric(fam, **labels):
            _, _, text = ws.get(self.st, "/metrics")
            for f in text_string_to_metric_families(text):
                for s in f.samples:
                    if s.name == fam and all(s.labels.get(k) == v for k, v in labels.items()):
                        return s.value
            return None
        before = metric("hedge_blocked_total", category="pornography", group="default") or 0
        client.ask(self.h.addr, "example.com", "A")
        self.assertEqual(metric("hedge_blocked_total", category="pornography", group="default"), before + 1)
        self.assertIsNotNone(metric("hedge_bundle_serial"))
        self.assertIsNotNone(metric("hedge_upstream_latency_seconds_bucket", le="+Inf"))
        status, hdrs, body = ws.get(self.st, "/status")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        for key in ("version", "uptime_s", "bundle", "upstream", "cache", "queries", "blocked", "store", "incidents"):
            self.assertIn(key, doc)
        self.assertIn("pornography", doc["bundle"]["categories"])
        # No alert sender here: a count not taken yet is null, never -1 on the page.
        negative = {k: v for k, v in doc.get("alerts", {}).items() if isinstance(v, int) and v < 0}
        self.assertEqual(negative, {}, doc.get("alerts"))
        # incidents carry only time and category
        # (wait for this test's own incident: another test's may be listed first)
        self.assertTrue(ws.wait_for(lambda: "terrorism" in [
            i["category"] for i in json.loads(ws.get(self.st, "/status")[2])["incidents"]]))
        incs = json.loads(ws.get(self.st, "/status")[2])["incidents"]
        for inc in incs:
            self.assertEqual(set(inc), {"at", "category"})
        self.assertIn("terrorism", [i["category"] for i in incs])
        chromium_shot(f"http://127.0.0.1:{self.st[1]}/status", "status.png")

    def test_health_incident_ack_and_events(self):
        client.ask(self.h.addr, "abuse-test.example.net", "A")
        ws.wait_for(lambda: ws.get(self.st, "/health")[0] == 503)
        status, _, body = ws.get(self.st, "/health")
        self.assertEqual(status, 503)
        self.assertIn("unacknowledged incident", body)
        with sqlite3.connect(self.db) as c:
            ids = [r[0] for r in c.execute("SELECT id FROM incidents WHERE acked_at IS NULL")]
            ev = c.execute("SELECT qname, tier, rule, categories FROM events WHERE qname = 'abuse-test.example.net'"
                           ).fetchall()
        self.assertEqual(ev, [("abuse-test.example.net", "illegal", "category", "child-abuse")])
        for i in ids:
            r = subprocess.run([hedge.hedge_bin(), "incident", "ack", str(i), "--by", "DSL Smith", "--note", "seen",
                                "--config", self.h.config_path], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([hedge.hedge_bin(), "incident", "ack", str(ids[0]), "--by", "x", "--note", "y",
                            "--config", self.h.config_path], capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already acknowledged", r.stderr)
        self.assertTrue(ws.wait_for(lambda: ws.get(self.st, "/health")[0] == 200, timeout=8), ws.get(self.st, "/health"))
        r = subprocess.run([hedge.hedge_bin(), "audit", "verify", "--config", self.h.config_path],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run([hedge.hedge_bin(), "events", "export", "--format", "json", "--config",
                            self.h.config_path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("abuse-test.example.net", [e["qname"] for e in json.loads(r.stdout)])
        r = subprocess.run([hedge.hedge_bin(), "events", "export", "--since", "2000-01-01", "--config",
                            self.h.config_path], capture_output=True, text=True)
        self.assertTrue(r.stdout.startswith("id,time,"), r.stdout[:200])

    def test_health_follows_upstream(self):
        self.assertTrue(ws.wait_for(lambda: "upstream" not in ws.get(self.st, "/health")[2], timeout=5))
        self.f.blackhole = True   # the upstream dies: no replies at all
        try:
            for i in range(4):
                try:
                    client.ask(self.h.addr, f"down{i}.example.test", "A", timeout=2)
                except client.NoReply:
                    pass
            self.assertTrue(ws.wait_for(lambda: "upstream" in ws.get(self.st, "/health")[2], timeout=6),
                            ws.get(self.st, "/health"))
            self.assertEqual(ws.get(self.st, "/health")[0], 503)
        finally:
            self.f.blackhole = False
        # The forwarder backs off a dead server: ask until a real answer comes back.
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if client.ask(self.h.addr, f"up{time.time()}.example.test", "A", timeout=2).rcode() == 0:
                    break
            except client.NoReply:
                pass
            time.sleep(0.3)
        self.assertTrue(ws.wait_for(lambda: "upstream" not in ws.get(self.st, "/health")[2], timeout=6),
                        ws.get(self.st, "/health"))

    def test_status_clients_only(self):
        status, _, _ = ws.get(self.st, "/metrics")
        self.assertEqual(status, 200)
        status, _, _ = ws.get(self.st, "/nope")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    hedgetest.main()
