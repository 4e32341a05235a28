#!/usr/bin/python3
"""The block-page HTTP listener against hostile clients (issue 8): malformed
requests, oversized headers and bodies, slowloris, pipelining answered in order,
bad methods, 1,000 idle connections, markup in the Host header, every path, the
per-client connection cap; DNS keeps answering throughout."""
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client  # noqa: E402
import web_support as ws  # noqa: E402


class WebHttp(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
        cls.f = cls.fake()
        cls.f.wildcard_a = "198.51.100.7"
        extra, cls.bp, cls.st = ws.web_extra(cls.tmp, request_timeout_ms=1500, idle_timeout_ms=3000,
                                             max_connections_per_client=1500, max_connections=3000,
                                             max_body_bytes=1024, rate_limit_per_client=0)
        cls.h = cls.serve([cls.f.server], cls.bundle(), extra=extra)

    def dns_ok(self):
        m = client.ask(self.h.addr, "example.com", "A", timeout=2)   # blocked name: no upstream needed
        self.assertTrue(client.rrs(m, "A"), f"no answer{self.ctx(self.h)}")

    def test_block_page_any_path(self):
        for path in ["/", "/a/b/c?x=1", "/%2e%2e/etc/passwd", "/" + "x" * 2000, "/favicon.ico", "/status"]:
            status, hdrs, body = ws.get(self.bp, path, host="www.example.com")
            self.assertEqual(status, 200, path)
            self.assertIn("www.example.com", body)
            self.assertIn("Pornography", body)
            self.assertEqual(hdrs.get("content-type"), "text/html; charset=utf-8")
        self.dns_ok()

    def test_host_with_markup_is_escaped(self):
        status, _, body = ws.get(self.bp, "/", host='<script>alert(1)</script>"')
        self.assertEqual(status, 200)
        self.assertNotIn("<script>alert", body)
        status, _, body = ws.get(self.bp, "/?lang=<b>x</b>", host="example.com")
        self.assertNotIn("<b>x</b>", body)
        self.dns_ok()

    def test_malformed_requests(self):
        for junk in [b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET\r\n\r\n",
                     b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
                     b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"]:
            out = ws.raw(self.bp, junk, timeout=3)
            codes = ws.statuses(out)
            self.assertTrue(codes and codes[-1] >= 400, f"{junk!r} -> {out[:200]!r}")
        self.dns_ok()

    def test_oversized_header_and_body(self):
        big = b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
        self.assertEqual(ws.statuses(ws.raw(self.bp, big)), [431])
        body = b"x" * 5000
        out = ws.raw(self.bp, b"POST /_hedge/review HTTP/1.1\r\nHost: e\r\nContent-Length: 5000\r\n\r\n" + body)
        self.assertEqual(ws.statuses(out), [413])
        chunked = (b"POST /_hedge/review HTTP/1.1\r\nHost: e\r\nTransfer-Encoding: chunked\r\n\r\n" +
                   b"".join(b"400\r\n" + b"y" * 1024 + b"\r\n" for _ in range(3)) + b"0\r\n\r\n")
        self.assertEqual(ws.statuses(ws.raw(self.bp, chunked)), [413])
        self.dns_ok()

    def test_bad_methods(self):
        for m in ["PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"]:
            status, hdrs, _ = ws.get(self.bp, "/", host="example.com", method=m)
            self.assertEqual(status, 405, m)
            self.assertIn("GET", hdrs.get("allow", ""))
        out = ws.raw(self.bp, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", timeout=3)
        self.assertEqual(ws.statuses(out), [405])
        status, _, body = ws.get(self.bp, "/", host="example.com", method="HEAD")
        self.assertEqual((status, body), (200, ""))

    def test_pipelining_in_order(self):
        hosts = ["example.com", "casino.example.org", "fine.example.test", "malware.example.net"] * 3
        req = b"".join(f"GET /{i} HTTP/1.1\r\nHost: {h}\r\n\r\n".encode() for i, h in enumerate(hosts))
        req += b"GET /last HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
        out = ws.raw(self.bp, req)
        self.assertEqual(ws.statuses(out), [200] * (len(hosts) + 1))
        pages = out.split(b"HTTP/1.1 200 OK")[1:]
        want = ["Pornography", "Gambling", "not blocked", "Malware"] * 3
        for i, (p, w) in enumerate(zip(pages, want)):
            self.assertIn(w.encode(), p, f"response {i} out of order")
            self.assertIn(f'href="/{i}?lang=cy"'.encode(), p, f"response {i} is not for request {i}")
        self.dns_ok()

    def test_slowloris_cut_off(self):
        s = socket.create_connection(self.bp)
        s.sendall(b"GET / HTTP/1.1\r\n")
        t0 = time.time()
        got = b""
        s.settimeout(0.3)
        while time.time() - t0 < 6:
            try:
                s.sendall(b"X-a: b\r\n")
            except OSError:
                break
            try:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            except socket.timeout:
                pass
            except OSError:
                break
        took = time.time() - t0
        s.close()
        self.assertLess(took, 5, "a request trickled in byte by byte was not cut off")
        self.assertIn(b"408", got)
        self.dns_ok()

    def test_thousand_idle_connections(self):
        conns = []
        try:
            for _ in range(1000):
                conns.append(socket.create_connection(self.bp, timeout=2))
            t0 = time.time()
            for _ in range(20):
                self.dns_ok()
            self.assertLess(time.time() - t0, 2.0)
            status, _, _ = ws.get(self.bp, "/", host="example.com")
            self.assertEqual(status, 200)
            # idle_timeout_ms = 3000: every idle connection is closed by the server
            time.sleep(4)
            closed = 0
            for c in conns:
                c.settimeout(0.5)
                try:
                    if c.recv(1) == b"":
                        closed += 1
                except OSError:
                    closed += 1
            self.assertEqual(closed, len(conns))
        finally:
            for c in conns:
                c.close()
        self.dns_ok()


class WebHttpCaps(hedgetest.E2ECase):
    """Per-client connection cap and request rate limit."""
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        extra, cls.bp, cls.st = ws.web_extra(cls.tmp, max_connections_per_client=8, rate_limit_per_client=5,
                                             rate_limit_burst=10)
        cls.h = cls.serve([cls.f.server], cls.bundle(), extra=extra)

    def test_per_client_cap(self):
        conns = [socket.create_connection(self.bp) for _ in range(8)]
        try:
            extra = socket.create_connection(self.bp)
            extra.settimeout(2)
            self.assertEqual(extra.recv(10), b"", "a 9th connection from one client was kept")
            extra.close()
        finally:
            for c in conns:
                c.close()

    def test_rate_limit(self):
        time.sleep(2.5)   # refill
        req = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n" * 30
        codes = ws.statuses(ws.raw(self.bp, req))
        self.assertIn(429, codes)
        self.assertEqual(codes[-1], 429)
        self.assertTrue(all(c == 200 for c in codes[:-1]))
        self.assertTrue(client.rrs(client.ask(self.h.addr, "example.com", "A"), "A"))


class WebHttpBudget(hedgetest.E2ECase):
    """[http] max_requests_per_second: the listener serves every client together at
    that rate and no faster, refuses nothing (connections wait, unread), and DNS
    answers meanwhile. Per-client limits are off so that only the budget acts."""
    needs = ("compile", "serve")
    RATE = 50

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        extra, cls.bp, cls.st = ws.web_extra(cls.tmp, max_requests_per_second=cls.RATE, rate_limit_per_client=0,
                                             max_connections_per_client=100)
        cls.h = cls.serve([cls.f.server], cls.bundle(), extra=extra)

    def test_flood_is_served_at_the_budget_and_nothing_is_refused(self):
        per_conn, conns = 20, 5
        req = (b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n" * (per_conn - 1)
               + b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
        codes, dns = [], []

        def one():
            codes.extend(ws.statuses(ws.raw(self.bp, req, timeout=20)))

        time.sleep(0.3)  # a full bucket: a tenth of a second's requests
        t0 = time.monotonic()
        threads = [threading.Thread(target=one) for _ in range(conns)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads) and len(dns) < 50:  # bounded
            dns.append(client.rrs(client.ask(self.h.addr, "example.com", "A", timeout=1.0), "A"))
            time.sleep(0.05)
        for t in threads:
            t.join(timeout=25)
        took = time.monotonic() - t0
        self.assertEqual(codes, [200] * (per_conn * conns), "every request is answered, none refused")
        # 100 requests, a bucket of RATE/10 = 5: at least (100 - 5) / 50 s.
        self.assertGreater(took, (per_conn * conns - self.RATE / 10) / self.RATE * 0.95,
                           "served faster than max_requests_per_second")
        self.assertLess(took, 10, f"the budget stalled connections{self.ctx(self.h)}")
        self.assertTrue(dns and all(dns), "DNS answers while the block page is flooded")
        status = json.loads(ws.get(self.st, "/status")[2])
        held = sum(x.get("held_back", 0) for x in status["http"] if x["address"] == f"127.0.0.1:{self.bp[1]}")
        self.assertGreater(held, 0, status["http"])


if __name__ == "__main__":
    hedgetest.main()
