"""unittest glue: a base class that owns peers/servers per test class, and main()."""
import contextlib
import os
import signal
import sys
import time
import unittest

from . import client, hedge, reference, util

CORPUS_DIR = os.environ.get("HEDGE_DNS_CORPUS") or os.path.join(
    os.path.dirname(hedge.SOURCE_DIR.rstrip("/")), "shared", "data", "dns-corpus")
if not os.path.isdir(CORPUS_DIR):
    CORPUS_DIR = "/work/shared/data/dns-corpus"

# The lists every suite compiles (made-up names under the example.* domains).
STANDARD_LISTS = {
    "pornography": ["# plain-domain list", "example.com", "porn.example.org"],
    "gambling": ["# hosts-file list", "0.0.0.0 casino.example.org", "127.0.0.1 bet.example.net"],
    "malware": ["malware.example.net"],
    "child-abuse": ["abuse-test.example.net"],
    "terrorism": ["terror-test.example.org"],
}


class E2ECase(unittest.TestCase):
    """Subclasses implement setup_peers(cls) using cls.stack / cls.tmp."""
    needs = ("serve",)          # add "compile" when the suite's checks need blocking
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not reference.REFERENCE:
            hedge.require(*cls.needs)
        cls.tmp = util.make_tmpdir()
        cls.servers = []
        cls.stack = contextlib.ExitStack()
        try:
            cls.setup_peers()
        except BaseException:
            cls.stack.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    @classmethod
    def setup_peers(cls):
        pass

    # ---------------------------------------------------------------- helpers
    @classmethod
    def bundle(cls, lists=None, name="bundle"):
        """Compile a bundle; None (no [lists] bundle key) while `hedge compile` is the
        placeholder and the suite does not need blocking."""
        if "compile" not in cls.needs and not reference.REFERENCE and hedge.not_built("compile"):
            return None
        out = os.path.join(cls.tmp, name)
        if reference.REFERENCE:
            os.makedirs(out, exist_ok=True)
            return out
        hedge.compile_bundle(out, lists or STANDARD_LISTS, cls.tmp)
        return out

    @classmethod
    def serve(cls, upstreams, bundle, **kw):
        kind = reference.Unbound if reference.REFERENCE == "unbound" else hedge.Hedge
        h = kind(upstreams, bundle, tmpdir=util.make_tmpdir("hedge-e2e-serve-"), **kw)
        cls.stack.callback(h.stop_and_check)   # raises (-> class error) on unclean exit
        h.start()
        cls.servers.append(h)
        return h

    def tearDown(self):
        """A server that died during a test fails that test (with its output) and is
        restarted, so that one crash does not turn every later test into noise."""
        dead = []
        for h in getattr(type(self), "servers", []):
            if h.proc is not None and h.proc.poll() is not None and h.stopped is None:
                dead.append(f"hedge serve on {h.addr} DIED during this test (status {h.proc.returncode});"
                            f" output tail:\n{h.output(25)}")
                try:
                    h.start(write_config=False)
                except Exception as e:  # noqa: BLE001
                    dead.append(f"restart failed: {e}")
        if dead:
            self.fail("\n".join(dead))

    @classmethod
    def fake(cls, **kw):
        from .fakeupstream import FakeUpstream
        f = FakeUpstream(**kw).start()
        cls.stack.callback(f.stop)
        return f

    @classmethod
    def nsd(cls, **kw):
        from .nsd import Nsd
        n = Nsd(**kw).start()
        cls.stack.callback(n.stop)
        return n

    def ctx(self, h):
        """Failure context: the hedge output tail."""
        return f"\n--- hedge output (tail) ---\n{h.output(30)}"

    def assertRcode(self, msg, rcode, what=""):
        want = rcode if isinstance(rcode, int) else client.dns.rcode.from_text(rcode)
        self.assertEqual(msg.rcode(), want,
                         f"{what}: expected rcode {client.dns.rcode.to_text(want)}, got\n{client.describe(msg)}")

    def assertAlive(self, h, name="www.example.test.", addr=None):
        h.assert_alive()
        try:
            client.ask(addr or h.addr, name, "A", timeout=3)
        except client.NoReply as e:
            self.fail(f"hedge no longer answers ({e}){self.ctx(h)}")


def main(budget=85):
    # A suite that renders many pages in Chromium may ask for a larger budget;
    # HEDGE_E2E_FILE_TIMEOUT overrides every suite's.
    timeout = int(os.environ.get("HEDGE_E2E_FILE_TIMEOUT", str(budget)))

    def on_alarm(*_):
        raise TimeoutError(f"test file exceeded its {timeout}s budget (HEDGE_E2E_FILE_TIMEOUT)")

    def on_term(*_):
        sys.exit(3)   # runs atexit cleanup (processes, namespaces, temp dirs)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(timeout)
    t0 = time.monotonic()
    prog = unittest.main(verbosity=2, exit=False)
    signal.alarm(0)
    print(f"[{os.path.basename(sys.argv[0])}: {time.monotonic() - t0:.1f}s]", file=sys.stderr)
    sys.exit(exit_status(prog.result))


SKIP_RETURN_CODE = 77   # ctest's SKIP_RETURN_CODE for every e2e suite (tests/CMakeLists.txt)


def skip_exit(message):
    """A whole suite cannot run here (no root, no netns, no binary): reported as
    skipped by ctest, or as a failure under HEDGE_REQUIRE_ALL=1 (CI, .ci/run)."""
    print(f"SKIP: {message}", file=sys.stderr)
    sys.exit(1 if os.environ.get("HEDGE_REQUIRE_ALL") == "1" else SKIP_RETURN_CODE)


def exit_status(result):
    """0 passed; 1 failed (or skipped anything under HEDGE_REQUIRE_ALL=1); 77 when every test skipped."""
    if not result.wasSuccessful():
        return 1
    if result.skipped:
        if os.environ.get("HEDGE_REQUIRE_ALL") == "1":
            print(f"FAIL: HEDGE_REQUIRE_ALL=1 and {len(result.skipped)} skipped: "
                  + "; ".join(str(r) for _, r in result.skipped[:3]), file=sys.stderr)
            return 1
        if result.testsRun - len(result.skipped) <= 0:
            return SKIP_RETURN_CODE
    return 0
