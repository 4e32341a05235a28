#!/usr/bin/env python3
"""DNS latency while the console renders reports (issue 9's "Done means": DNS
p99 does not move while the safeguarding and governor reports render).

One `hedge serve` with the sample lists, the console on 127.0.0.1 and a store
seeded with 90 days of a 1,500-device school (tests/bench/seed_console.py,
cached in the work directory). tests/bench/dns_latency_probe.py asks a blocked
name at a steady rate twice: once with the console idle, once while one
logged-in browser renders the 90-day safeguarding and governor reports back to
back. Bounded: the probe sends exactly qps*seconds queries; the renderer stops
when the probe ends.

  flock /tmp/hedge-bench.lock tests/bench/report_dns_latency.py [--build build] [--qps 500] [--seconds 20]
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
import console_support as cs  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(port, qps, seconds, name):
    p = subprocess.run([sys.executable, os.path.join(HERE, "dns_latency_probe.py"), "--server", f"127.0.0.1:{port}",
                        "--qps", str(qps), "--seconds", str(seconds), "--name", name],
                       capture_output=True, text=True, timeout=seconds * 3 + 30)
    return p.stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--work", default="/tmp/hedge-bench-report")
    ap.add_argument("--qps", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=20)
    a = ap.parse_args()
    hedge = os.path.join(a.build, "hedge")
    os.makedirs(a.work, exist_ok=True)
    db = os.path.join(a.work, "hedge.db")
    if not os.path.exists(db):
        t0 = time.monotonic()
        subprocess.run([sys.executable, os.path.join(HERE, "seed_console.py"), "--db", db, "--end", "2026-11-30"],
                       check=True)
        print(f"seeded {db} in {time.monotonic() - t0:.0f} s")
    dns_port, console_port = free_port(), free_port()
    conf = os.path.join(a.work, "hedge.toml")
    with open(conf, "w") as f:
        f.write(f"""
[server]
listen = ["127.0.0.1:{dns_port}"]
allow_clients = ["127.0.0.0/8"]
rate_limit_qps = 0
[upstream]
servers = ["127.0.0.1:9"]
[lists]
bundle = "{os.path.join(a.build, 'samples')}"
[policy]
timezone = "Europe/London"
[store]
path = "{db}"
[http]
console_listen = ["127.0.0.1:{console_port}"]
[log]
level = "warn"
""")
    pw = os.path.join(a.work, "password")
    with open(pw, "w") as f:
        f.write("bench password 123\n")
    subprocess.run([hedge, "user", "add", "bench", "--role", "dsl", "--password-file", pw, "--config", conf],
                   capture_output=True, text=True)  # exists already on a second run: fine
    log = open(os.path.join(a.work, "serve.log"), "w")
    srv = subprocess.Popen([hedge, "serve", "--config", conf], stdout=log, stderr=subprocess.STDOUT)
    try:
        b = cs.Browser("127.0.0.1", console_port)
        for _ in range(100):
            try:
                status, _, page = b.get("/login")
                if status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)
        status, _, _ = b.post("/login", {"csrf": token, "user": "bench", "password": "bench password 123",
                                         "next": "/"})
        assert status == 303, status
        name = "pornhub.com"  # blocked by the sample lists: answered by the DNS loop alone
        print("idle console:      ", probe(dns_port, a.qps, a.seconds, name))
        stop = threading.Event()
        renders = []

        def render():
            while not stop.is_set():
                for kind in ("safeguarding", "governor"):
                    t0 = time.monotonic()
                    status, _, body = b.get(f"/reports/view?kind={kind}&from=2026-09-02&to=2026-11-30")
                    renders.append((kind, status, time.monotonic() - t0, len(body)))
                    if stop.is_set():
                        break
        th = threading.Thread(target=render)
        th.start()
        time.sleep(1.0)  # the first render is under way
        out = probe(dns_port, a.qps, a.seconds, name)
        stop.set()
        th.join(timeout=120)
        print("reports rendering: ", out)
        for kind in ("safeguarding", "governor"):
            rs = [r for r in renders if r[0] == kind]
            ok = [r for r in rs if r[1] == 200]
            if rs:
                print(f"  {kind}: {len(ok)}/{len(rs)} renders ok, {min(r[2] for r in rs):.2f}-"
                      f"{max(r[2] for r in rs):.2f} s each, {max(r[3] for r in rs)} bytes")
    finally:
        srv.terminate()
        srv.wait(timeout=10)
        log.close()


if __name__ == "__main__":
    main()
