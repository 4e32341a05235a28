#!/usr/bin/python3
"""`hedge update` against a real HTTPS origin (Debian nginx on loopback, a test CA and
certificates made by the test) while a real `hedge serve` uses the same config.

One box, one story, in order: first install with no resolver running, an unchanged
origin costs a 304, a new serial is installed and the resolver reloads through its
control socket; then every failure the issue lists (404, 500, slow, half body, body
larger than declared, endless body, wrong CA, wrong host, expired certificate,
tampered file, a file from another bundle, wrong signing key, a lower serial, valid-until
in the past, the clock at 1970 and a year ahead) must leave the installed generation
as it was, exit 1 with one line naming what failed, be recorded in the state file and
the audit log, and leave the resolver answering from the old lists. Then rollback
(audited, held), and the freeze attack: the installed generation deleted and an old,
validly signed bundle re-served: the persisted high-water mark refuses it.
The resolver's status listener is on throughout: /status "update" (last attempt,
last success, last error) and /metrics (hedge_update_failures_total{reason}
counting each failure, hedge_bundle_serial = the serial actually serving, each
family exactly once, read with prometheus_client's parser) follow the story."""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, hedge, origin, util, STANDARD_LISTS  # noqa: E402
from hedgetest.hedge import BLOCK_V4  # noqa: E402
import web_support as ws  # noqa: E402

ALLOWED_A = "198.51.100.7"


def marker(serial):
    """A name only bundle `serial` blocks: which bundle the resolver serves."""
    return f"serial-{serial}.example.org"


class Box:
    """The box's files: keys, the generations dir, configs for hedge update."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.lists = os.path.join(tmp, "lists")
        self.current = os.path.join(self.lists, "current")
        self.state = os.path.join(self.lists, "update-state.json")
        self.db = os.path.join(tmp, "hedge.db")

    def read_state(self):
        with open(self.state) as f:
            return json.load(f)

    def installed(self):
        """(generation name, serial) behind `current`, or (None, None)."""
        if not os.path.lexists(self.current):
            return None, None
        target = os.readlink(self.current)
        try:
            with open(os.path.join(self.current, "manifest.json")) as f:
                return target, json.load(f)["version"]
        except OSError:
            return target, None

    def audit(self):
        con = sqlite3.connect(self.db)
        try:
            return con.execute("SELECT action, object, reason, detail FROM audit ORDER BY seq").fetchall()
        finally:
            con.close()


class Update(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        t = cls.tmp
        cls.box = Box(t)
        hb = hedge.hedge_bin()
        for k in ("trust", "other"):
            subprocess.run([hb, "keygen", "--out", os.path.join(t, k)], check=True, capture_output=True)
        cls.pub = os.path.join(t, "trust.pub")
        cls.web = os.path.join(t, "web")          # the trust's real web root
        cls.roots = {"web": cls.web}
        for name in ("tampered", "mixed", "wrongkey", "older", "expired", "freeze"):
            cls.roots[name] = os.path.join(t, "root-" + name)
            os.makedirs(cls.roots[name])
        cls.origin = origin.Origin(cls.roots, tmpdir=os.path.join(t, "origin"))
        os.makedirs(cls.origin.dir)
        cls.origin.start()
        cls.stack.callback(cls.origin.stop)
        cls.f = cls.fake()
        cls.f.wildcard_a = ALLOWED_A
        cls.configs = {}
        cls.st = ("127.0.0.1", util.free_port())   # the resolver's status listener

    # ---------------------------------------------------------------- helpers
    @classmethod
    def make_bundle(cls, serial, key="trust", extra=(), name=None):
        lists = {k: list(v) for k, v in STANDARD_LISTS.items()}
        lists["gambling"] = lists["gambling"] + [marker(serial)]
        out = os.path.join(cls.tmp, name or f"b{serial}")
        shutil.rmtree(out, ignore_errors=True)
        hedge.compile_bundle(out, lists, cls.tmp, ["--quiet", "--sign", os.path.join(cls.tmp, key + ".key"),
                                                   "--version", str(serial)] + list(extra))
        return out

    @classmethod
    def publish(cls, bundle, root):
        p = subprocess.run([hedge.hedge_bin(), "publish", "--bundle", bundle, "--to", root],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
        return p

    def config(self, url, **update):
        """A config file for hedge update: same [lists]/[store] as the resolver."""
        sections = {
            "upstream": {"servers": [self.f.server]},
            "lists": {"bundle": self.box.current},
            "store": {"path": self.box.db},
            "update": dict({"url": url, "pubkey": self.pub, "ca_file": self.origin.ca,
                            "connect_timeout": "3s", "idle_timeout": "2s", "total_timeout": "20s"}, **update),
        }
        path = os.path.join(self.tmp, f"update-{len(self.configs)}.toml")
        with open(path, "w") as fh:
            fh.write(hedge.toml_text(sections))
        self.configs[path] = sections
        return path

    def update(self, cfg, *args, env_prefix=(), timeout=60):
        p = subprocess.run(list(env_prefix) + [hedge.hedge_bin(), "update", "--config", cfg] + list(args),
                           capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, FAKETIME_DONT_FAKE_MONOTONIC="1"))
        return p.returncode, p.stdout + p.stderr

    def blocked(self, name):
        return client.rrs(client.ask(self.h.addr, name, "A"), "A") == [BLOCK_V4]

    def assert_serving(self, serial):
        """The resolver answers from bundle `serial` (its marker blocked, others not)."""
        self.h.assert_alive()
        self.assertTrue(self.blocked(marker(serial)), f"{marker(serial)} must be blocked{self.ctx(self.h)}")
        self.assertTrue(self.blocked("www.example.com"), "the standard lists must still block")
        for other in (100, 101, 102, 103, 104, 105, 106):
            if other != serial:
                self.assertFalse(self.blocked(marker(other)), f"{marker(other)} must not be blocked")

    # ------------------------------------------------- what the resolver says
    def metrics(self):
        """{(sample name, frozenset(labels)): value}; a sample that appears twice fails."""
        from prometheus_client.parser import text_string_to_metric_families
        status, _, text = ws.get(self.st, "/metrics")
        self.assertEqual(status, 200)
        out, families = {}, []
        for f in text_string_to_metric_families(text):
            families.append(f.name)
            for smp in f.samples:
                key = (smp.name, frozenset(smp.labels.items()))
                self.assertNotIn(key, out, f"{smp.name}{smp.labels} appears twice in /metrics")
                out[key] = smp.value
        self.assertEqual(len(families), len(set(families)), f"a metric family appears twice: {families}")
        return out

    def metric(self, name, **labels):
        return self.metrics().get((name, frozenset(labels.items())))

    def status_update(self):
        status, _, body = ws.get(self.st, "/status")
        self.assertEqual(status, 200)
        return json.loads(body)["update"]

    def wait_status(self, pred, what):
        """The resolver re-reads the state file when it changes (and every 10 s)."""
        ok = ws.wait_for(lambda: pred(self.status_update()), timeout=12, step=0.2)
        self.assertTrue(ok, f"/status update never showed {what}: {self.status_update()}{self.ctx(self.h)}")
        return self.status_update()

    def assert_status_failure(self, reason, fragment, failures_before):
        """/status and /metrics record the failure that just happened."""
        st = self.box.read_state()
        u = self.wait_status(lambda u: u["failures"].get(reason, 0) == failures_before + 1,
                             f"failure {reason} #{failures_before + 1}")
        self.assertEqual(u["last_error_reason"], reason)
        self.assertIn(fragment, u["last_error"])
        self.assertEqual(u["last_error"], st["last_error"])
        self.assertIsNotNone(u["last_attempt"])
        self.assertEqual(self.metric("hedge_update_failures_total", reason=reason), failures_before + 1)
        self.assertEqual(self.metric("hedge_update_last_attempt_timestamp_seconds"), st["last_attempt"])
        # Still serving the installed bundle: its own manifest's serial.
        self.assertEqual(self.metric("hedge_bundle_serial"), self.box.installed()[1])
        self.assertEqual(u["bundle_serial"], self.box.installed()[1])

    def assert_refused(self, cfg, reason, *fragments, args=(), env_prefix=()):
        """The update fails with one line naming the reason; nothing changes."""
        gen_before = self.box.installed()
        audit_before = len(self.box.audit())
        rc, out = self.update(cfg, *args, env_prefix=env_prefix)
        self.assertEqual(rc, 1, f"expected exit 1:\n{out}")
        fails = [ln for ln in out.splitlines() if "FAILED" in ln]
        self.assertEqual(len(fails), 1, f"exactly one FAILED line expected:\n{out}")
        self.assertIn(f"FAILED ({reason})", fails[0], out)
        self.assertIn("the installed lists are unchanged", fails[0])
        for frag in fragments:
            self.assertIn(frag, fails[0])
        self.assertEqual(self.box.installed(), gen_before, "the installed generation must not change")
        st = self.box.read_state()
        self.assertEqual(st["last_error_reason"], reason)
        self.assertFalse(st["in_progress"])
        self.assertGreaterEqual(st["failures"].get(reason, 0), 1)
        self.assertGreater(st["next_retry"], 0)
        self.assertEqual(self.box.audit()[-1][0], "update.fail", "each failure is audited")
        self.assertEqual(len(self.box.audit()), audit_before + 1)
        self.assert_serving(gen_before[1])
        self.assertEqual(sorted(n for n in os.listdir(self.box.lists) if n.startswith(".staging")), [],
                         "no staging directory may be left behind")
        return fails[0]

    # ---------------------------------------------------------------- the story
    def test_01_first_install_without_resolver(self):
        self.publish(self.make_bundle(100), self.web)
        cfg = self.config(self.origin.url("web"))
        rc, out = self.update(cfg)
        self.assertEqual(rc, 0, out)
        self.assertIn("installed serial 100", out)
        self.assertIn("no resolver running", out)
        self.assertEqual(self.box.installed(), ("gen-100", 100))
        v = subprocess.run([hedge.hedge_bin(), "verify", self.box.current, "--pubkey", self.pub],
                           capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, "an installed generation is exactly the compiled files: " + v.stderr)
        st = self.box.read_state()
        self.assertEqual(st["high_water"], 100)
        self.assertGreater(st["trusted_time"], 0)
        # Now the resolver starts on the installed generation, with the same [lists]/[store].
        type(self).h = self.serve([self.f.server], self.box.current, extra={
            "store": {"path": self.box.db},
            "http": {"status_listen": [f"{self.st[0]}:{self.st[1]}"], "status_clients": ["127.0.0.0/8"]}})
        self.assert_serving(100)
        u = self.wait_status(lambda u: u["state_read"] and u["last_success"], "the first install")
        self.assertEqual(u["bundle_serial"], 100)
        self.assertIsNone(u["last_error"])
        self.assertEqual(self.metric("hedge_bundle_serial"), 100)
        self.assertEqual(self.metric("hedge_update_last_success_timestamp_seconds"), st["last_success"])
        self.assertEqual(self.metric("hedge_update_failures_total", reason="http"), 0)

    def test_02_unchanged_costs_a_304(self):
        cfg = self.config(self.origin.url("web"))
        rc, out = self.update(cfg)   # 200 for the pointer: same serial, validators saved
        self.assertEqual(rc, 0, out)
        self.assertIn("up to date", out)
        before = self.origin.access().count("\n")
        rc, out = self.update(cfg)
        self.assertEqual(rc, 0, out)
        self.assertIn("up to date", out)
        new = self.origin.access().splitlines()[before:]
        self.assertEqual(len(new), 1, f"an unchanged origin costs one request: {new}")
        self.assertIn("/web/stable.json", new[0])
        self.assertIn('" 304 ', new[0], new[0])

    def test_03_new_serial_installed_and_resolver_reloads(self):
        self.publish(self.make_bundle(101), self.web)
        cfg = self.config(self.origin.url("web"))
        rc, out = self.update(cfg, "--check")
        self.assertEqual(rc, 0, out)
        self.assertIn("would install serial 101", out)
        self.assertEqual(self.box.installed(), ("gen-100", 100), "--check must not install")
        rc, out = self.update(cfg)
        self.assertEqual(rc, 0, out)
        self.assertIn("installed serial 101", out)
        self.assertIn("resolver reloaded (serving 101)", out)
        self.assertEqual(self.box.installed(), ("gen-101", 101))
        self.assertEqual(os.readlink(os.path.join(self.box.lists, "previous")), "gen-100")
        self.assert_serving(101)
        self.assertEqual(self.box.audit()[-1][:2], ("update.install", "bundle/101"))
        st = self.box.read_state()
        u = self.wait_status(lambda u: u["bundle_serial"] == 101 and u["high_water_serial"] == 101,
                             "serial 101 installed")
        self.assertEqual(u["last_success"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st["last_success"])))
        self.assertEqual(self.metric("hedge_bundle_serial"), 101)
        self.assertEqual(self.metric("hedge_update_last_success_timestamp_seconds"), st["last_success"])
        # The next serial is published now; each failure below is on the way to it.
        self.publish(self.make_bundle(102), self.web)

    def test_10_404(self):
        before = self.metric("hedge_update_failures_total", reason="http")
        self.assertEqual(before, 0)
        self.assert_refused(self.config(self.origin.url("nothing-here")), "http", "HTTP 404")
        self.assert_status_failure("http", "HTTP 404", 0)
        self.assertEqual(self.metric("hedge_update_consecutive_failures"), 1)

    def test_11_500(self):
        self.assert_refused(self.config(self.origin.url("web", bad="500")), "http", "HTTP 500")

    def test_12_slow_server_times_out(self):
        t0 = time.monotonic()
        self.assert_refused(self.config(self.origin.url("web", bad="slow")), "timeout", "no data for 2 s")
        self.assertLess(time.monotonic() - t0, 15, "the idle timeout must cut a stalled server off")

    def test_13_body_stops_half_way(self):
        self.assert_refused(self.config(self.origin.url("web", bad="half")), "truncated", "public.cdb")

    def test_14_body_larger_than_declared(self):
        self.assert_refused(self.config(self.origin.url("web", bad="bigger")), "oversize", "public.cdb")

    def test_15_endless_body(self):
        t0 = time.monotonic()
        self.assert_refused(self.config(self.origin.url("web", bad="endless")), "oversize", "public.cdb")
        self.assertLess(time.monotonic() - t0, 15)

    def test_16_wrong_ca(self):
        self.assert_refused(self.config(self.origin.url("web", cert="untrusted")), "tls", "not issued by a CA")

    def test_17_wrong_host(self):
        self.assert_refused(self.config(self.origin.url("web", cert="wronghost")), "tls", "not for localhost")

    def test_18_expired_certificate(self):
        self.assert_refused(self.config(self.origin.url("web", cert="expired")), "tls", "certificate expired")

    def test_19_tampered_after_signing(self):
        root = self.roots["tampered"]
        origin.copy_root(self.web, root)
        cdb = os.path.join(root, "102", "public.cdb")
        with open(cdb, "r+b") as fh:
            fh.seek(-1, os.SEEK_END)
            last = fh.read(1)
            fh.seek(-1, os.SEEK_END)
            fh.write(bytes([last[0] ^ 0xff]))
        self.assert_refused(self.config(self.origin.url("tampered")), "hash", "public.cdb", "sha256 differs")

    def test_20_file_from_another_bundle(self):
        root = self.roots["mixed"]
        origin.copy_root(self.web, root)
        other = self.make_bundle(103, name="b103-mix")
        # Same names, other bundle's bytes: the report and the public cdb of bundle 103.
        for f in ("public.cdb",):
            shutil.copy(os.path.join(other, f), os.path.join(root, "102", f))
        self.assert_refused(self.config(self.origin.url("mixed")), "hash", "public.cdb", "another bundle")
        # And a pointer naming 103 over 102's signed manifest: the serials disagree.
        shutil.rmtree(os.path.join(root, "103"), ignore_errors=True)
        shutil.copytree(os.path.join(root, "102"), os.path.join(root, "103"))
        with open(os.path.join(root, "stable.json"), "w") as fh:
            json.dump({"format": 1, "serial": 103, "channel": "stable"}, fh)
        self.assert_refused(self.config(self.origin.url("mixed")), "manifest", "announced 103")

    def test_21_wrong_signing_key(self):
        self.publish(self.make_bundle(104, key="other"), self.roots["wrongkey"])
        self.assert_refused(self.config(self.origin.url("wrongkey")), "signature", "manifest.sig")

    def test_22_lower_serial_is_a_rollback(self):
        self.publish(self.make_bundle(50), self.roots["older"])
        before = self.metric("hedge_update_failures_total", reason="downgrade")
        self.assertEqual(before, 0)
        self.assert_refused(self.config(self.origin.url("older")), "downgrade", "older than the installed 101")
        self.assert_status_failure("downgrade", "older than the installed 101", 0)
        self.assertEqual(self.metric("hedge_bundle_serial"), 101, "a refused downgrade never changes the serial")

    def test_23_valid_until_in_the_past(self):
        self.publish(self.make_bundle(105, extra=["--valid-for", "1s"]), self.roots["expired"])
        time.sleep(1.2)
        self.assert_refused(self.config(self.origin.url("expired")), "expired", "expired at")

    def test_24_clock_at_1970(self):
        line = self.assert_refused(self.config(self.origin.url("web")), "clock", "the clock is wrong",
                                   env_prefix=["faketime", "-f", "@1970-01-02 00:00:00"])
        self.assertIn("1970-01-02", line)

    def test_25_clock_a_year_ahead(self):
        # The certificate (30 days) and the bundle (7 days) are both past their dates.
        self.assert_refused(self.config(self.origin.url("web")), "tls", "certificate expired",
                            env_prefix=["faketime", "-f", "+365d"])

    def test_30_good_update_after_failures(self):
        rc, out = self.update(self.config(self.origin.url("web")))
        self.assertEqual(rc, 0, out)
        self.assertIn("resolver reloaded (serving 102)", out)
        self.assertEqual(self.box.installed(), ("gen-102", 102))
        st = self.box.read_state()
        self.assertEqual(st["consecutive_failures"], 0)
        self.assertEqual(st["high_water"], 102, "refused bundles (103, 104, 105) never raise the high-water mark")
        self.assertEqual(st["next_retry"], 0)
        self.assert_serving(102)
        u = self.wait_status(lambda u: u["bundle_serial"] == 102 and u["consecutive_failures"] == 0, "serial 102")
        self.assertEqual(u["last_success"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st["last_success"])))
        self.assertEqual(self.metric("hedge_bundle_serial"), 102)
        self.assertEqual(self.metric("hedge_update_consecutive_failures"), 0)
        # Every failure of the story is still counted, by reason (monotonic counters).
        for reason, n in st["failures"].items():
            self.assertEqual(self.metric("hedge_update_failures_total", reason=reason), n, reason)
        self.assertGreaterEqual(self.metric("hedge_update_failures_total", reason="tls"), 4)
        gens = sorted(n for n in os.listdir(self.box.lists) if n.startswith("gen-"))
        self.assertEqual(gens, ["gen-101", "gen-102"], "current and previous are kept, older ones deleted")

    def test_31_rollback_is_audited_and_held(self):
        cfg = self.config(self.origin.url("web"))
        p = subprocess.run([hedge.hedge_bin(), "rollback", "--config", cfg, "--by", "J Smith", "--reason",
                            "102 blocks the timetable site"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("now serving serial 101", p.stdout)
        self.assertEqual(self.box.installed(), ("gen-101", 101))
        self.assert_serving(101)
        action, obj, reason, detail = self.box.audit()[-1]
        self.assertEqual((action, obj, reason), ("update.rollback", "bundle/101", "102 blocks the timetable site"))
        # The origin still offers 102: a rolled-back serial is not re-installed.
        rc, out = self.update(cfg)
        self.assertEqual(rc, 0, out)
        self.assertIn("rolled back by hand", out)
        self.assertEqual(self.box.installed(), ("gen-101", 101))
        # The audit chain is intact.
        a = subprocess.run([hedge.hedge_bin(), "audit", "verify", "--config", cfg], capture_output=True, text=True)
        self.assertEqual(a.returncode, 0, a.stdout + a.stderr)

    def test_35_scheduled_runs_honour_nightly_slot_and_backoff(self):
        cfg = self.config(self.origin.url("web"))
        before = self.origin.access().count("\n")
        rc, out = self.update(cfg, "--scheduled")   # just succeeded (test_31): nothing due tonight
        self.assertEqual(rc, 0, out)
        self.assertIn("nothing due: next nightly check at", out)
        self.assertEqual(self.origin.access().count("\n"), before, "a run that is not due makes no request")
        self.assert_refused(self.config(self.origin.url("nothing-here")), "http", "HTTP 404")
        st = self.box.read_state()
        self.assertEqual(st["consecutive_failures"], 1)
        self.assertGreaterEqual(st["next_retry"] - time.time(), 150 - 5, "first retry after 2.5-5 min (jittered)")
        self.assertLessEqual(st["next_retry"] - time.time(), 300 + 5)
        before = self.origin.access().count("\n")
        rc, out = self.update(cfg, "--scheduled")
        self.assertEqual(rc, 0, out)
        self.assertIn("backing off after 1 failure(s) until", out)
        self.assertEqual(self.origin.access().count("\n"), before)
        rc, out = self.update(cfg)   # a person is never held back by the backoff
        self.assertEqual(rc, 0, out)
        self.assertEqual(self.box.read_state()["consecutive_failures"], 0)

    def test_40_freeze_after_the_install_is_deleted(self):
        # An attacker (or an accident) deletes every installed generation, then the
        # origin re-serves an old, validly signed bundle.
        self.publish(self.make_bundle(100, name="b100-again"), self.roots["freeze"])
        for n in os.listdir(self.box.lists):
            if n.startswith("gen-") or n in ("current", "previous"):
                p = os.path.join(self.box.lists, n)
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.unlink(p)
        rc, out = self.update(self.config(self.origin.url("freeze")))
        self.assertEqual(rc, 1, out)
        self.assertIn("FAILED (downgrade)", out)
        self.assertIn("highest ever installed 102", out)
        self.assertFalse(os.path.lexists(self.box.current), "nothing may be installed")
        self.assertEqual(self.box.read_state()["high_water"], 102)
        # The running resolver still serves the generation it had mapped.
        self.assert_serving(101)
        # ... and says so: the serial comes from the serving bundle's manifest, not from the disk.
        u = self.wait_status(lambda u: u["last_error_reason"] == "downgrade" and u["high_water_serial"] == 102,
                             "the freeze refused")
        self.assertEqual(u["bundle_serial"], 101)
        self.assertEqual(self.metric("hedge_bundle_serial"), 101)


if __name__ == "__main__":
    hedgetest.main()
