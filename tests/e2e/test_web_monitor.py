#!/usr/bin/python3
"""The monitoring log end to end (issue 8): a blocked query from a pupil host in
a network namespace becomes a row naming that host's device (from a dnsmasq
leases file), a metric increment and an RFC 5424 message at a syslog receiver
started here; a later lease change does not rewrite the row; a full queue drops
and counts; kill -9 during a write burst leaves a database that passes
integrity_check with its rows."""
import os
import re
import socket
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, hedge, util  # noqa: E402
from hedgetest.netns import ClientNetns  # noqa: E402
import web_support as ws  # noqa: E402

HOST, PUPIL = "198.51.100.1", "198.51.100.20"


class SyslogReceiver:
    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self.sock.settimeout(0.2)
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            try:
                self.lines.append(self.sock.recv(65536).decode("utf-8", "replace"))
            except socket.timeout:
                pass
            except OSError:
                return


def metric(st, name, **labels):
    from prometheus_client.parser import text_string_to_metric_families
    for f in text_string_to_metric_families(ws.get(st, "/metrics")[2]):
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0


class MonitorNetns(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root for ip netns")
        cls.ns = cls.stack.enter_context(ClientNetns([f"{HOST}/24"], [f"{PUPIL}/24"]))
        cls.f = cls.fake()
        cls.syslog = SyslogReceiver()
        cls.stack.callback(setattr, cls.syslog, "stop", True)
        cls.leases = os.path.join(cls.tmp, "dnsmasq.leases")
        with open(cls.leases, "w") as f:
            f.write(f"1796180000 02:00:00:00:00:20 {PUPIL} pupil-laptop-07 01:02:00:00:00:00:20\n")
        extra, cls.bp, cls.st = ws.web_extra(cls.tmp)
        extra["monitoring"].update({"devices": cls.leases, "syslog": f"udp://127.0.0.1:{cls.syslog.port}",
                                    "alert_categories": ["malware"]})
        cls.h = cls.serve([cls.f.server], cls.bundle(), listen_hosts=(HOST, "127.0.0.1"),
                          allow=("127.0.0.0/8", "198.51.100.0/24"), extra=extra)
        time.sleep(0.5)   # the devices file is read on the store thread's first round

    def pupil_dig(self, name):
        p = self.ns.run(["dig", "+short", "+time=2", "+tries=1", "-p", str(self.h.port), f"@{HOST}", name])
        return p.stdout.strip() if hasattr(p, "stdout") else str(p)

    def rows(self, name):
        with sqlite3.connect(os.path.join(self.tmp, "hedge.db")) as c:
            return c.execute("SELECT client_ip, device, mac, grp, qname, categories, tier, rule, count FROM events "
                             "WHERE qname = ? ORDER BY id", (name,)).fetchall()

    def test_pupil_block_row_metric_syslog_and_frozen_device(self):
        before = metric(self.st, "hedge_blocked_total", category="gambling", group="default")
        self.assertEqual(self.pupil_dig("casino.example.org"), "192.0.2.99")
        rows = ws.wait_for(lambda: self.rows("casino.example.org"))
        self.assertEqual(rows, [(PUPIL, "pupil-laptop-07", "02:00:00:00:00:20", "default", "casino.example.org",
                                 "gambling", "school", "category", 1)], self.ctx(self.h))
        self.assertEqual(metric(self.st, "hedge_blocked_total", category="gambling", group="default"), before + 1)
        got = ws.wait_for(lambda: [line for line in self.syslog.lines if "casino.example.org" in line], timeout=5)
        self.assertTrue(got, f"no syslog message; got {self.syslog.lines}")
        self.assertRegex(got[0], r'^<133>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \S+ hedge \d+ blocked \[hedge@32473 ')
        self.assertIn('device="pupil-laptop-07"', got[0])
        self.assertIn(f'client="{PUPIL}"', got[0])

        # The lease moves to another device: the old row keeps the name it had.
        with open(self.leases + ".new", "w") as f:
            f.write(f"1796190000 02:00:00:00:00:99 {PUPIL} visitor-phone *\n")
        os.replace(self.leases + ".new", self.leases)
        deadline = time.time() + 12
        while time.time() < deadline:
            self.pupil_dig(f"n{int(time.time() * 1000)}.example.com")
            with sqlite3.connect(os.path.join(self.tmp, "hedge.db")) as c:
                if c.execute("SELECT 1 FROM events WHERE device = 'visitor-phone'").fetchall():
                    break
            time.sleep(0.5)
        else:
            self.fail("the re-read leases file was not used" + self.ctx(self.h))
        self.assertEqual(self.rows("casino.example.org")[0][1], "pupil-laptop-07")

    def test_alert_category_raises_an_incident(self):
        # [monitoring] alert_categories: a blocked attempt in one of them is an incident too,
        # though not in the illegal tier; other categories are not.
        self.assertEqual(self.pupil_dig("malware.example.net"), "192.0.2.99")
        self.assertEqual(self.pupil_dig("bet.example.net"), "192.0.2.99")
        db = os.path.join(self.tmp, "hedge.db")

        def incidents():
            with sqlite3.connect(db) as c:
                return c.execute("SELECT qname, category, device FROM incidents WHERE qname IN "
                                 "('malware.example.net', 'bet.example.net')").fetchall()
        got = ws.wait_for(incidents, timeout=5)
        self.assertEqual(got, [("malware.example.net", "malware", "pupil-laptop-07")],
                         self.ctx(self.h))
        lines = ws.wait_for(lambda: [line for line in self.syslog.lines
                                     if " incident " in line and 'category="malware"' in line], timeout=5)
        self.assertTrue(lines, self.syslog.lines)

    def test_illegal_incident_syslog_without_name(self):
        self.pupil_dig("terror-test.example.org")
        got = ws.wait_for(lambda: [line for line in self.syslog.lines
                                   if " incident " in line and 'category="terrorism"' in line], timeout=5)
        self.assertTrue(got, self.syslog.lines)
        self.assertTrue(got[0].startswith("<129>1 "), got[0])   # local0.alert
        self.assertIn('category="terrorism"', got[0])
        self.assertNotIn("terror-test", "".join(self.syslog.lines))
        self.assertIn("SAFEGUARDING INCIDENT", self.h.full_output())
        self.assertNotIn("terror-test", "".join(l for l in self.h.full_output().splitlines() if "INCIDENT" in l))


class MonitorQueue(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        extra, cls.bp, cls.st = ws.web_extra(cls.tmp)
        extra["monitoring"].update({"queue_max": 16, "flush_ms": 60000})
        cls.h = cls.serve([cls.f.server], cls.bundle(), extra=extra)

    def test_full_queue_drops_and_counts(self):
        for i in range(60):
            client.ask(self.h.addr, f"q{i}.example.com", "A")
        blocked = metric(self.st, "hedge_queries_total", result="blocked")   # ours and the harness's
        self.assertGreaterEqual(blocked, 60)
        self.assertEqual(metric(self.st, "hedge_store_queue_depth"), 16)
        self.assertEqual(metric(self.st, "hedge_store_dropped_total"), blocked - 16)
        self.assertTrue(client.rrs(client.ask(self.h.addr, "example.com", "A"), "A"))


class MonitorCrash(hedgetest.E2ECase):
    needs = ("compile", "serve")

    def test_kill9_during_write_burst(self):
        f = self.fake()
        extra, bp, st = ws.web_extra(self.tmp)
        extra["monitoring"].update({"flush_ms": 20})
        h = hedge.Hedge([f.server], self.bundle(), extra=extra)
        h.start()
        db = os.path.join(self.tmp, "hedge.db")
        stop = threading.Event()

        def burst():
            i = 0
            while not stop.is_set() and i < 20000:
                try:
                    client.ask(h.addr, f"k{i}.example.com", "A", timeout=0.5)
                except client.NoReply:
                    pass
                i += 1
        threads = [threading.Thread(target=burst, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        ws.wait_for(lambda: os.path.exists(db) and sqlite3.connect(db).execute(
            "SELECT count(*) FROM events").fetchone()[0] > 200, timeout=20)
        h.proc.kill()   # SIGKILL in the middle of the burst
        h.proc.wait()
        h.stopped = (h.proc.returncode, 0.0, True)
        stop.set()
        for t in threads:
            t.join(timeout=5)
        with sqlite3.connect(db) as c:
            self.assertEqual(c.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            n = c.execute("SELECT count(*) FROM events").fetchone()[0]
        self.assertGreater(n, 200)
        # and the box starts again on that file
        h.start()
        self.assertTrue(client.rrs(client.ask(h.addr, "example.com", "A"), "A"))
        h.stop()


if __name__ == "__main__":
    hedgetest.main()
