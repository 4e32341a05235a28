#!/usr/bin/python3
"""`hedge serve --check-config`: exit 0 for good configs (the example config with a
compiled bundle, a config using every key the suites use), exit 1 with
`file:line: key: message` for each error (listen = ["nonsense"], unknown keys, bad
types and addresses, TOML syntax); `hedge serve` refuses a broken config promptly."""
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import hedge, util  # noqa: E402

EXAMPLE = os.path.join(hedge.SOURCE_DIR, "resolver", "hedge.example.toml")


class CheckConfig(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        cls.b = cls.bundle()
        cls.n = 0

    def write(self, text):
        type(self).n += 1
        p = os.path.join(self.tmp, f"cfg{self.n}.toml")
        with open(p, "w") as f:
            f.write(text)
        return p

    def check(self, path, *extra):
        p = subprocess.run([hedge.hedge_bin(), "serve", "--check-config", "--config", path, *extra],
                           capture_output=True, text=True, timeout=20)
        return p.returncode, p.stdout + p.stderr

    def good(self):
        return (f'[server]\nlisten = ["127.0.0.1:{util.free_port()}"]\nallow_clients = ["127.0.0.0/8", "::1/128"]\n'
                f'rate_limit_qps = 0\n\n[upstream]\nservers = ["192.0.2.53:53", "198.51.100.53:53"]\n'
                f'timeout_ms = 300\n\n[lists]\nbundle = "{self.b}"\n\n[block]\nipv4 = "192.0.2.99"\n'
                f'ipv6 = "2001:db8::99"\n\n[cache]\nsize_mb = 16\n\n[log]\nlevel = "debug"\n')

    def assertError(self, out, path, line, key, rc):
        self.assertEqual(rc, 1, f"broken config must exit 1, got {rc}; output:\n{out}")
        pat = re.compile(rf"^{re.escape(path)}:{line}: ([\w.\[\]]*{re.escape(key)}[\w.\[\]]*): \S", re.M)
        self.assertRegex(out, pat, f"expected an error `{path}:{line}: <key containing '{key}'>: message`")

    def test_example_config_ok(self):
        self.assertTrue(os.path.exists(EXAMPLE), f"{EXAMPLE} missing")
        rc, out = self.check(EXAMPLE, "--lists", self.b)
        self.assertEqual(rc, 0, f"example config (with --lists {self.b}) must pass:\n{out}")

    def test_example_config_as_is(self):
        # Spec: exits 0 for the example config. Its bundle is /var/lib/hedge/lists/current;
        # where that does not exist, the only acceptable error is that one, at its line.
        rc, out = self.check(EXAMPLE)
        bundle = "/var/lib/hedge/lists/current"
        if os.path.exists(os.path.join(bundle, "manifest.json")):
            self.assertEqual(rc, 0, out)
            return
        with open(EXAMPLE) as fh:
            lines = fh.read().split("\n")
        line = next(i + 1 for i, l in enumerate(lines) if l.strip().startswith("bundle"))
        errs = [l for l in out.splitlines() if l.startswith(EXAMPLE + ":")]
        self.assertEqual(len(errs), 1, f"only the missing bundle may fail the example config:\n{out}")
        self.assertError(out, EXAMPLE, line, "bundle", rc)

    def test_missing_bundle_reported_at_its_line(self):
        text = self.good().replace(f'bundle = "{self.b}"', 'bundle = "/nonexistent/hedge-bundle"')
        line = text.split("\n").index('bundle = "/nonexistent/hedge-bundle"') + 1
        p = self.write(text)
        rc, out = self.check(p)
        self.assertError(out, p, line, "bundle", rc)

    def test_upstream_loop_reported_at_its_line(self):
        port = util.free_port()
        text = self.good()
        text = re.sub(r'listen = \["127.0.0.1:\d+"\]', f'listen = ["127.0.0.1:{port}"]', text)
        text = text.replace('servers = ["192.0.2.53:53", "198.51.100.53:53"]', f'servers = ["127.0.0.1:{port}"]')
        line = text.split("\n").index(f'servers = ["127.0.0.1:{port}"]') + 1
        p = self.write(text)
        rc, out = self.check(p)
        self.assertError(out, p, line, "servers", rc)

    def test_full_config_ok(self):
        rc, out = self.check(self.write(self.good()))
        self.assertEqual(rc, 0, f"a config with every key the suites use must pass:\n{out}")

    def test_listen_nonsense(self):
        p = self.write('[server]\nlisten = ["nonsense"]\n' + self.good().split("\n", 2)[2])
        rc, out = self.check(p)
        self.assertError(out, p, 2, "listen", rc)

    def test_unknown_key(self):
        text = self.good().replace("[cache]\n", "[cache]\nsize_gb = 1\n")
        line = text.split("\n").index("size_gb = 1") + 1
        p = self.write(text)
        rc, out = self.check(p)
        self.assertError(out, p, line, "size_gb", rc)

    def test_unknown_section(self):
        p = self.write(self.good() + "\n[upstreams]\nservers = []\n")
        with open(p) as fh:
            line = fh.read().split("\n").index("[upstreams]") + 1
        rc, out = self.check(p)
        self.assertError(out, p, line, "upstreams", rc)

    def test_every_error_reported(self):
        text = self.good()
        text = text.replace("timeout_ms = 300", 'timeout_ms = "fast"').replace(
            'ipv4 = "192.0.2.99"', 'ipv4 = "2001:db8::1"').replace(
            'allow_clients = ["127.0.0.0/8", "::1/128"]', 'allow_clients = ["300.0.0.0/8"]')
        lines = text.split("\n")
        p = self.write(text)
        rc, out = self.check(p)
        for needle, key in (('timeout_ms = "fast"', "timeout_ms"), ('ipv4 = "2001:db8::1"', "ipv4"),
                            ('allow_clients = ["300.0.0.0/8"]', "allow_clients")):
            with self.subTest(key=key):
                self.assertError(out, p, lines.index(needle) + 1, key, rc)

    def test_syntax_error(self):
        p = self.write('[server\nlisten = ["127.0.0.1:5300"]\n')
        rc, out = self.check(p)
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, rf"^{re.escape(p)}:1: ", f"syntax error must be reported at line 1:\n{out}")

    def test_serve_listen_port_busy(self):
        import socket as so
        port = util.free_port()
        busy = so.socket(so.AF_INET, so.SOCK_DGRAM)
        busy.bind(("127.0.0.1", port))
        try:
            text = re.sub(r'listen = \["127.0.0.1:\d+"\]', f'listen = ["127.0.0.1:{port}"]', self.good())
            p = self.write(text)
            t0 = time.monotonic()
            try:
                proc = subprocess.run([hedge.hedge_bin(), "serve", "--config", p], capture_output=True,
                                      text=True, timeout=10)
            except subprocess.TimeoutExpired:
                self.fail("serve kept running although its listen port is taken")
            self.assertNotEqual(proc.returncode, 0, "serve must fail when it cannot bind")
            self.assertLess(time.monotonic() - t0, 5)
            self.assertIn(str(port), proc.stdout + proc.stderr, "the error must name the address")
        finally:
            busy.close()

    def test_serve_refuses_broken_config(self):
        p = self.write('[server]\nlisten = ["nonsense"]\n')
        t0 = time.monotonic()
        proc = subprocess.run([hedge.hedge_bin(), "serve", "--config", p], capture_output=True, text=True,
                              timeout=20)
        self.assertNotEqual(proc.returncode, 0, "serve with a broken config must fail")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn(f"{p}:2:", proc.stdout + proc.stderr)


if __name__ == "__main__":
    hedgetest.main()
