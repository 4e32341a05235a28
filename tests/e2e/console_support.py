"""Helpers for the console suites: a tiny monitoring-store seeder with known
identifiers, headless Chromium screenshots, and an HTTPS client with cookies."""
import http.client
import os
import shutil
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hedgetest import hedge  # noqa: E402

SCHEMA = open(os.path.join(hedge.SOURCE_DIR, "tests", "bench", "seed_console.py")).read().split('SCHEMA = """')[1].split('"""')[0]

# Identifiers a governor must never see.
SECRETS = ["192.0.2.77", "198.51.100.23", "2001:db8::77", "02:00:5e:10:00:01", "ipad-year9-17",
           "laptop-staff-mrsx", "badsite-seeded.example", "casino-seeded.example", "illegal-seeded.invalid",
           "Jamie Pupil", "ms.reviewer"]


def seed_small(db_path, day0):
    """day0: unix seconds of a UTC midnight. Pornography 12 (pupils), gambling 3 (staff), one illegal incident."""
    db = sqlite3.connect(db_path)
    db.executescript(SCHEMA)
    t = day0 + 36000
    db.execute("INSERT INTO events(at,last_at,minute,client_ip,device,mac,grp,qname,qtype,categories,tier,rule,count)"
               " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
               (t, t, t // 60, "192.0.2.77", "ipad-year9-17", "02:00:5e:10:00:01", "pupils",
                "badsite-seeded.example", 1, "pornography", "school", "category", 12))
    db.execute("INSERT INTO events(at,last_at,minute,client_ip,device,mac,grp,qname,qtype,categories,tier,rule,count)"
               " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
               (t, t, t // 60 + 1, "198.51.100.23", "laptop-staff-mrsx", "", "staff", "casino-seeded.example", 1,
                "gambling", "school", "category", 3))
    db.execute("INSERT INTO events(at,last_at,minute,client_ip,device,mac,grp,qname,qtype,categories,tier,rule,count)"
               " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
               (t, t, t // 60 + 2, "2001:db8::77", "", "", "pupils", "illegal-seeded.invalid", 1, "child-abuse",
                "illegal", "category", 1))
    h = t // 3600
    db.executemany("INSERT INTO hourly(hour,grp,category,allowed,blocked) VALUES(?,?,?,?,?)",
                   [(h, "pupils", "pornography", 1000, 12), (h, "staff", "gambling", 2, 3),
                    (h, "pupils", "child-abuse", 0, 1)])
    db.execute("INSERT INTO incidents(at,client_ip,device,mac,grp,qname,category,tier) VALUES(?,?,?,?,?,?,?,?)",
               (t, "2001:db8::77", "", "", "pupils", "illegal-seeded.invalid", "child-abuse", "illegal"))
    db.execute("INSERT INTO review_requests(at,kind,site,client_ip,grp,who,reason) VALUES(?,?,?,?,?,?,?)",
               (t, "unblock", "badsite-seeded.example", "192.0.2.77", "pupils", "Jamie Pupil", "for homework"))
    db.execute("INSERT INTO review_requests(at,kind,site,client_ip,grp,who,reason,status,decided_by)"
               " VALUES(?,?,?,?,?,?,?,?,?)",
               (t, "report", "casino-seeded.example", "198.51.100.23", "staff", "", "should be blocked", "declined",
                "ms.reviewer"))
    db.commit()
    db.close()


def chromium():
    for c in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.access(c, os.X_OK):
            return c
    return None


def screenshot(url, out_png, width=1200, height=900, extra=()):
    """Renders url in headless Chromium; returns the PNG path. Raises on failure."""
    exe = chromium()
    if not exe:
        raise AssertionError("Debian chromium is not installed (cmake/install-deps.sh installs it)")
    os.makedirs(os.path.dirname(out_png), exist_ok=True)
    prof = tempfile.mkdtemp(prefix="hedge-chromium-")
    try:
        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={prof}", f"--screenshot={out_png}", f"--window-size={width},{height}",
                "--hide-scrollbars", *extra, url]
        p = subprocess.run(args, capture_output=True, text=True, timeout=60)
        if p.returncode != 0 or not os.path.exists(out_png) or os.path.getsize(out_png) < 1000:
            raise AssertionError(f"chromium failed ({p.returncode}): {p.stderr[-2000:]}")
        return out_png
    finally:
        shutil.rmtree(prof, ignore_errors=True)


def screenshot_dir(suite):
    d = os.path.join(hedge.BUILD_DIR, "screenshots", suite)
    os.makedirs(d, exist_ok=True)
    return d


class Browser:
    """HTTPS client that keeps cookies like a browser (for the console)."""

    def __init__(self, host, port, cafile=None):
        self.host, self.port = host, port
        self.ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()
        if cafile:
            self.ctx.check_hostname = False  # the test cert names the box, not 127.0.0.1 by DNS
        self.cookies = {}

    def request(self, method, path, form=None, headers=None, cookies=True):
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
        h = dict(headers or {})
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if cookies and self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read().decode("utf-8", "replace")
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                val = rest.split(";")[0]
                if "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = val
        conn.close()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form, **kw):
        return self.request("POST", path, form=form, **kw)
