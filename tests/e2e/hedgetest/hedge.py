"""Driving the real binary: `hedge compile` (bundles) and `hedge serve` (the resolver).

HEDGE_BIN names the binary (ctest sets it). Until the commands exist the placeholder
prints "<command>: not built yet" and exits 2: only that exact answer makes the
suites skip; any other failure to start is a test failure.
"""
import os
import signal
import subprocess
import time
import unittest

from . import client, util

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))          # tests/e2e
SOURCE_DIR = os.environ.get("HEDGE_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.environ.get("HEDGE_BUILD_DIR") or os.path.join(SOURCE_DIR, "build")

BLOCK_V4 = "192.0.2.99"
BLOCK_V6 = "2001:db8::99"
READY_NAME = "hedge-ready.example.com."   # under a listed name: answered without upstream
READY_NAME_NO_LISTS = "hedge-ready.example.test."   # nsd and the fake answer it (NXDOMAIN)


def hedge_bin():
    b = os.environ.get("HEDGE_BIN")
    if b:
        if not os.access(b, os.X_OK):
            raise AssertionError(f"HEDGE_BIN={b} is not an executable file")
        return b
    b = os.path.join(BUILD_DIR, "hedge")
    if not os.access(b, os.X_OK):
        raise unittest.SkipTest(f"no hedge binary (set HEDGE_BIN or build {b})")
    return b


def not_built(command):
    return _not_built([command, "--help"] if command != "serve" else
                      [command, "--check-config", "--config", "/nonexistent/hedge-e2e.toml"])


def _not_built(args):
    p = subprocess.run([hedge_bin()] + args, capture_output=True, text=True, timeout=20)
    out = p.stdout + p.stderr
    return p.returncode == 2 and "not built yet" in out


def require(*commands):
    """Skip the calling suite if one of the commands is still the placeholder."""
    for cmd in commands:
        if not_built(cmd):
            raise unittest.SkipTest(f"`hedge {cmd}` says: not built yet")


# ------------------------------------------------------------------ compile
def compile_bundle(out_dir, lists, tmpdir, extra_args=(), check=True):
    """lists: {category: [lines]} or {category: path}. Returns the CompletedProcess."""
    args = [hedge_bin(), "compile", "--out", out_dir]
    for cat, content in lists.items():
        if isinstance(content, str) and os.path.exists(content):
            path = content
        else:
            path = os.path.join(tmpdir, f"{cat}-{abs(hash(tuple(content))) % 10**8}.txt")
            with open(path, "w") as f:
                f.write("\n".join(content) + "\n")
        args.append(f"{cat}={path}")
    args.extend(extra_args)
    p = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"`{' '.join(args)}` exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p


# ------------------------------------------------------------------ config
def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(v)


def toml_text(sections):
    """{section: {key: value}} -> TOML text (keys whose value is None are left out)."""
    out = []
    for sec, kv in sections.items():
        out.append(f"[{sec}]")
        for k, v in kv.items():
            if v is not None:
                out.append(f"{k} = {toml_value(v)}")
        out.append("")
    return "\n".join(out)


def hostport(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Hedge:
    """One `hedge serve` process with a generated config."""

    def __init__(self, upstreams, bundle, tmpdir=None, listen_hosts=("127.0.0.1",), port=None,
                 allow=("127.0.0.0/8", "::1/128"), block_v4=BLOCK_V4, block_v6=BLOCK_V6,
                 timeout_ms=300, cache_mb=16, rate_limit_qps=0, log_level="debug", extra=None):
        self.dir = tmpdir or util.make_tmpdir("hedge-e2e-serve-")
        self.port = port or util.free_port(listen_hosts)
        self.listen_hosts = listen_hosts
        self.sections = {
            "server": {"listen": [hostport(h, self.port) for h in listen_hosts],
                       "allow_clients": list(allow), "rate_limit_qps": rate_limit_qps},
            "upstream": {"servers": list(upstreams), "timeout_ms": timeout_ms},
            "lists": {"bundle": bundle},
            "block": {"ipv4": block_v4, "ipv6": block_v6},
            "cache": {"size_mb": cache_mb},
            "log": {"level": log_level},
        }
        for sec, kv in (extra or {}).items():
            self.sections.setdefault(sec, {}).update(kv)
        self.config_path = os.path.join(self.dir, "hedge.toml")
        self.stderr_path = os.path.join(self.dir, "hedge.stderr")
        self.proc = None
        self.starts = 0
        self.stopped = None   # (status, seconds, killed) of the last stop() by SIGTERM

    @property
    def addr(self):
        return (self.listen_hosts[0], self.port)

    def write_config(self, text=None):
        with open(self.config_path + ".tmp", "w") as f:
            f.write(text if text is not None else toml_text(self.sections))
        os.replace(self.config_path + ".tmp", self.config_path)

    def start(self, timeout=15.0, write_config=True):
        if write_config:
            self.write_config()
        self.starts += 1
        self.stopped = None
        if self.starts > 1:   # a restart after a crash: keep the old output
            self.stderr_path = os.path.join(self.dir, f"hedge.stderr.{self.starts}")
        errf = open(self.stderr_path, "w")
        self.proc = util.register_child(subprocess.Popen(
            [hedge_bin(), "serve", "--config", self.config_path],
            stdout=errf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.dir))
        errf.close()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=15.0):
        attempt = [0]

        def ready():
            self.assert_alive()
            attempt[0] += 1
            name = READY_NAME if self.sections["lists"].get("bundle") else READY_NAME_NO_LISTS
            client.ask(self.addr, name, "A", timeout=min(0.2 * attempt[0], 2.0))
            return True
        try:
            util.wait_until(ready, timeout, 0.1, f"hedge serve on {self.addr} to answer UDP")
            s = client.tcp_connect(self.addr, timeout=2)
            s.close()
        except (TimeoutError, OSError) as e:
            raise AssertionError(f"{e}\nconfig:\n{toml_text(self.sections)}\n"
                                 f"hedge output:\n{self.output()}") from None

    def assert_alive(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"hedge serve exited with status {self.proc.returncode}; output:\n"
                                 f"{self.output()}")

    def output(self, n=60):
        return util.tail(self.stderr_path, n)

    def full_output(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def sighup(self):
        self.proc.send_signal(signal.SIGHUP)

    def stop(self):
        """SIGTERM; returns (status, seconds, killed)."""
        if self.proc is None:
            return (0, 0.0, False)
        if self.proc.poll() is None:
            self.stopped = util.stop_process(self.proc, signal.SIGTERM, timeout=5.0)
            return self.stopped
        return util.stop_process(self.proc, signal.SIGTERM, timeout=5.0)

    def stop_and_check(self, testcase=None):
        if getattr(self, "stopped", None) is not None and self.proc.poll() is not None:
            return 0.0   # stopped on purpose by a test, which checked the result itself
        was_running = self.proc is not None and self.proc.poll() is None
        status, secs, killed = self.stop()
        msgs = []
        if not was_running and self.proc is not None:
            msgs.append(f"hedge serve had already exited with status {status} before SIGTERM")
        elif killed:
            msgs.append(f"hedge serve did not exit within 5 s of SIGTERM (killed)")
        elif status != 0:
            msgs.append(f"hedge serve exited with status {status} after SIGTERM (expected 0)")
        out = self.full_output() if self.proc else ""
        for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "terminate called"):
            if marker in out:
                msgs.append(f"hedge output contains '{marker}'")
        if msgs:
            raise AssertionError("; ".join(msgs) + f"\nhedge output (tail):\n{self.output()}")
        return secs
