"""Helpers for the issue-8 suites: a hedge with block page and status listeners
on free loopback ports and a store in the test's directory, and raw HTTP."""
import os
import re
import socket
import time

from hedgetest import util


def web_extra(tmp, **http):
    bp, st = util.free_port(), util.free_port()
    sections = {
        "http": {"block_page_listen": [f"127.0.0.1:{bp}"], "status_listen": [f"127.0.0.1:{st}"], **http},
        "school": {"name": "Test Primary School", "contact": "Ask Mrs Jones in class 3", "language": "en"},
        "store": {"path": os.path.join(tmp, "hedge.db")},
        "monitoring": {"flush_ms": 200},
    }
    return sections, ("127.0.0.1", bp), ("127.0.0.1", st)


def merge(a, b):
    out = {k: dict(v) for k, v in a.items()}
    for k, v in b.items():
        out.setdefault(k, {}).update(v)
    return out


def raw(addr, data, timeout=5.0, read_all=True):
    """Sends bytes, returns everything read until the server closes (or timeout)."""
    s = socket.create_connection(addr, timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if not read_all:
                break
        return out
    finally:
        s.close()


def get(addr, path="/", host="example.test", headers=None, method="GET", body=b""):
    h = {"Host": host, "Connection": "close"}
    h.update(headers or {})
    if body:
        h["Content-Length"] = str(len(body))
    req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    resp = raw(addr, req.encode() + body)
    head, _, payload = resp.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, payload.decode("utf-8", "replace")


def statuses(data):
    """Status codes of every response in a byte stream (pipelined responses follow bodies directly)."""
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]


def wait_for(fn, timeout=5.0, step=0.1):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(step)
