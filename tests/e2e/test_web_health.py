#!/usr/bin/python3
"""/health as a technician's monitoring sees it (issues 8 and 11): each reason
turns it to 503 with one line saying what is wrong, and it returns to 200 when
the cause goes away:
- a file of the bundle in use changed on disk after it was verified (lists broken);
- the bundle older than a small `[update] max_age` (the config value, not a fixed
  36 h), and past its valid-until (the policy clock moved with [debug] fake_clock_file);
- systemd-timesyncd present but not synchronised (HEDGE_TIMESYNC_DIR points the
  resolver at a test directory; read off the loop every 10 s);
- the system clock earlier than the newest trusted time in `hedge update`'s state file;
- the first-boot step ran with the built-in settings because hedge.toml was bad
  (HEDGE_RUN_DIR, as board/common/sbin/hedge-boot-config writes it).
/status and /metrics say the same (JSON parser, prometheus_client's parser)."""
import json
import os
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, hedge  # noqa: E402
import web_support as ws  # noqa: E402

WATCH_S = 14   # the system watch reads every 10 s


def metric(st, name, **labels):
    from prometheus_client.parser import text_string_to_metric_families
    found = []
    for f in text_string_to_metric_families(ws.get(st, "/metrics")[2]):
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                found.append(s.value)
    assert len(found) <= 1, f"{name}{labels} appears {len(found)} times"
    return found[0] if found else None


class WebHealth(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        t = cls.tmp
        cls.timesync = os.path.join(t, "timesync")
        os.makedirs(cls.timesync)
        open(os.path.join(cls.timesync, "synchronized"), "w").close()
        cls.boot = os.path.join(t, "hedge-boot")
        os.makedirs(cls.boot)
        cls.write_boot("ok", "the boot partition's hedge.toml", "")
        os.environ["HEDGE_TIMESYNC_DIR"] = cls.timesync
        os.environ["HEDGE_RUN_DIR"] = cls.boot
        cls.stack.callback(os.environ.pop, "HEDGE_TIMESYNC_DIR", None)
        cls.stack.callback(os.environ.pop, "HEDGE_RUN_DIR", None)
        cls.clock = os.path.join(t, "clock")
        cls.f = cls.fake()
        cls.f.wildcard_a = "198.51.100.7"
        extra, cls.bp, cls.st = ws.web_extra(t)
        extra["update"] = {"max_age": "1h"}
        extra["debug"] = {"fake_clock_file": cls.clock}
        cls.lists = cls.bundle(name="served")
        cls.h = cls.serve([cls.f.server], cls.lists, extra=extra)

    @classmethod
    def write_boot(cls, status, source, errors):
        for name, text in (("config-source", source + "\n"), ("errors.txt", errors), ("config-status", status + "\n")):
            with open(os.path.join(cls.boot, name + ".tmp"), "w") as fh:
                fh.write(text)
            os.replace(os.path.join(cls.boot, name + ".tmp"), os.path.join(cls.boot, name))

    def set_clock(self, t):
        with open(self.clock + ".tmp", "w") as fh:
            fh.write(str(int(t)))
        os.replace(self.clock + ".tmp", self.clock)

    def health(self):
        status, _, body = ws.get(self.st, "/health")
        return status, body

    def status(self):
        return json.loads(ws.get(self.st, "/status")[2])

    def wait_health(self, want_status, fragment=None, timeout=WATCH_S):
        """Polls /health until it answers want_status (and, if given, names fragment)."""
        def ok():
            s, b = self.health()
            return s == want_status and (fragment is None or fragment in b)
        got = ws.wait_for(ok, timeout=timeout, step=0.2)
        self.assertTrue(got, f"/health never became {want_status} {fragment!r}: {self.health()}{self.ctx(self.h)}")
        return self.health()[1]

    def setUp(self):
        # Every case starts healthy, with the real time.
        self.set_clock(time.time())
        self.wait_health(200, "ok")

    def test_1_healthy_says_so_everywhere(self):
        doc = self.status()
        self.assertTrue(doc["healthy"], doc["health"])
        self.assertEqual(doc["time_sync"], {"source": "systemd-timesyncd", "synchronised": True})
        self.assertEqual(doc["boot"]["config_status"], "ok")
        self.assertEqual(doc["bundle"]["max_age_s"], 3600, "[update] max_age is the config value")
        self.assertFalse(doc["bundle"]["broken"])
        self.assertEqual(metric(self.st, "hedge_healthy"), 1)
        self.assertEqual(metric(self.st, "hedge_lists_broken"), 0)
        self.assertEqual(metric(self.st, "hedge_time_synchronised"), 1)

    def test_2_lists_broken(self):
        cdb = os.path.join(self.lists, "public.cdb")
        with open(cdb, "rb") as fh:
            data = fh.read()
        # An in-place write to the mapped file (same size: one byte flipped, so no reload can verify it).
        with open(cdb, "r+b") as fh:
            fh.seek(len(data) - 1)
            fh.write(bytes([data[-1] ^ 0xFF]))
        body = self.wait_health(503, "lists: a file of the bundle in use changed on disk", timeout=5)
        self.assertEqual(body.count("\n"), len(body.splitlines()), "one reason per line")
        self.assertEqual(metric(self.st, "hedge_lists_broken"), 1)
        self.assertEqual(metric(self.st, "hedge_healthy"), 0)
        self.assertTrue(self.status()["bundle"]["broken"])
        # Fail closed meanwhile: no unfiltered answers.
        self.assertRcode(client.ask(self.h.addr, "www.example.com", "A"), "SERVFAIL", "broken lists")
        time.sleep(1.5)   # the server's own reload after the ALERT is refused (hash): still broken
        self.assertIn("lists: a file of the bundle in use", self.health()[1])
        # The signed bytes back in place: a reload brings back a good bundle.
        with open(cdb, "r+b") as fh:
            fh.seek(len(data) - 1)
            fh.write(data[-1:])
        deadline = time.monotonic() + 10
        while self.health()[0] != 200:
            self.assertLess(time.monotonic(), deadline, f"no recovery after SIGHUP: {self.health()}{self.ctx(self.h)}")
            self.h.sighup()
            time.sleep(0.5)
        self.assertEqual(metric(self.st, "hedge_lists_broken"), 0)
        self.assertEqual(client.rrs(client.ask(self.h.addr, "www.example.com", "A"), "A"), [hedge.BLOCK_V4])

    def test_3_bundle_older_than_max_age_and_past_valid_until(self):
        created = self.status()["bundle"]["created"]
        self.assertTrue(created, "the bundle has a creation time")
        self.set_clock(time.time() + 2 * 3600)
        body = self.wait_health(503, "more than max_age 1h", timeout=5)
        self.assertIn("lists: the bundle is 2h", body)
        self.assertNotIn("valid-until", body)
        self.assertGreaterEqual(metric(self.st, "hedge_bundle_age_seconds"), 2 * 3600 - 5)
        # Past the signed valid-until (7 days by default) as well.
        self.set_clock(time.time() + 8 * 86400)
        body = self.wait_health(503, "past its valid-until", timeout=5)
        self.assertIn("more than max_age", body)
        doc = self.status()
        self.assertIn("past its valid-until", " ".join(doc["update"]["problems"]))
        self.assertTrue(doc["update"]["degraded"])
        self.set_clock(time.time())
        self.wait_health(200, "ok", timeout=5)

    def test_4_time_not_synchronised(self):
        os.unlink(os.path.join(self.timesync, "synchronized"))
        try:
            self.wait_health(503, "time: the system clock is not synchronised (systemd-timesyncd)")
            self.assertEqual(self.status()["time_sync"]["synchronised"], False)
            self.assertEqual(metric(self.st, "hedge_time_synchronised"), 0)
        finally:
            open(os.path.join(self.timesync, "synchronized"), "w").close()
        self.wait_health(200, "ok")
        self.assertEqual(metric(self.st, "hedge_time_synchronised"), 1)

    def test_5_boot_with_built_in_settings(self):
        self.write_boot("error", "the last good settings", "hedge.toml:4: upstream.servers: must be a list\n")
        # Errors with the last good settings in use: shown on /status, not a health failure.
        self.assertTrue(ws.wait_for(lambda: self.status().get("boot", {}).get("config_status") == "error",
                                    timeout=WATCH_S, step=0.3), self.status().get("boot"))
        boot = self.status()["boot"]
        self.assertEqual(boot["errors"], ["hedge.toml:4: upstream.servers: must be a list"])
        self.assertEqual(self.health()[0], 200)
        self.write_boot("error", "the built-in settings", "hedge.toml:4: upstream.servers: must be a list\n")
        self.wait_health(503, "running with the built-in settings")
        self.write_boot("ok", "the boot partition's hedge.toml", "")
        self.wait_health(200, "ok")
        self.assertEqual(self.status()["boot"]["errors"], [])

    def test_6_clock_earlier_than_trusted_time(self):
        # `hedge update` once verified a bundle made a day from now: the clock must be wrong.
        state = os.path.join(os.path.dirname(self.lists), "update-state.json")
        trusted = int(time.time()) + 86400
        with open(state + ".tmp", "w") as fh:
            json.dump({"format": 1, "trusted_time": trusted, "high_water": 1}, fh)
        os.replace(state + ".tmp", state)
        try:
            body = self.wait_health(503, "time: clock earlier than trusted time")
            self.assertIn(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(trusted)), body)
            self.assertEqual(metric(self.st, "hedge_clock_behind_trusted_time"), 1)
            self.assertTrue(self.status()["update"]["clock_behind_trusted_time"])
        finally:
            os.unlink(state)
        self.wait_health(200, "ok")
        self.assertEqual(metric(self.st, "hedge_clock_behind_trusted_time"), 0)
        self.assertEqual(metric(self.st, "hedge_update_failures_total", reason="tls"), 0)


if __name__ == "__main__":
    hedgetest.main()
