#!/usr/bin/env python3
"""Measures DNS answer latency (p50/p99/max) from one client at a steady rate,
for showing that the console's work (TLS, reports) does not move the DNS
loop: run it once idle and once while reports render.

  tests/bench/dns_latency_probe.py --server 127.0.0.1:5300 --qps 500 --seconds 10 [--name example.com]

Bounded: exactly qps*seconds queries, 1 s timeout each (a timeout counts as
1000 ms). Stdlib only; the query is a fixed A question with a new id each time.
"""
import argparse
import os
import socket
import struct
import time


def query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.strip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default="127.0.0.1:5300")
    ap.add_argument("--qps", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--name", default="example.com")
    a = ap.parse_args()
    host, port = a.server.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    s.connect((host, int(port)))
    n = int(a.qps * a.seconds)
    lat = []
    start = time.perf_counter()
    for i in range(n):
        due = start + i / a.qps
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        qid = (i * 7919 + os.getpid()) & 0xFFFF
        t0 = time.perf_counter()
        s.send(query(a.name, qid))
        try:
            while True:
                r = s.recv(4096)
                if len(r) >= 2 and struct.unpack(">H", r[:2])[0] == qid:
                    break
            lat.append((time.perf_counter() - t0) * 1000)
        except socket.timeout:
            lat.append(1000.0)
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))]
    print(f"queries {n}  p50 {pct(0.50):.3f} ms  p99 {pct(0.99):.3f} ms  p99.9 {pct(0.999):.3f} ms  "
          f"max {lat[-1]:.3f} ms  timeouts {sum(1 for x in lat if x >= 1000)}")


if __name__ == "__main__":
    main()
