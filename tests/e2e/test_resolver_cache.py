#!/usr/bin/python3
"""Caching, checked with the fake upstream's query counter: hits do not reach the
upstream, TTLs count down, entries expire, negative answers (NXDOMAIN and NODATA)
are cached for min(SOA TTL, SOA MINIMUM) (RFC 2308), the cache is case-insensitive
but the reply echoes the client's case, and identical queries in flight at once
make one upstream query."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, Step  # noqa: E402

import dns.rcode  # noqa: E402

NEG_TTL = 30   # SOA MINIMUM of the fake's negative answers (SOA record TTL is 3600)


class Cache(hedgetest.E2ECase):
    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake(neg_ttl=NEG_TTL, soa_ttl=3600)
        f = cls.f
        f.add("hit.cache.test.", "A", "192.0.2.31", ttl=300)
        f.add("ttl.cache.test.", "A", "192.0.2.32", ttl=300)
        f.add("short.cache.test.", "A", "192.0.2.33", ttl=2)
        f.add("types.cache.test.", "A", "192.0.2.34")
        f.add("types.cache.test.", "AAAA", "2001:db8::34")
        f.add("nodata.cache.test.", "A", "192.0.2.35")
        f.add("case.cache.test.", "A", "192.0.2.36")
        f.add("herd.cache.test.", "A", "192.0.2.37")
        f.add("herd2.cache.test.", "A", "192.0.2.38")
        f.add("lowsoa.cache.test.", "A", "192.0.2.39")
        f.add("\\200x.cache.test.", "A", "192.0.2.40")     # label bytes 0xC8 'x'
        f.add("\\232x.cache.test.", "A", "192.0.2.41")     # 0xE8 'x': differs only in bit 0x20
        # One try per question (it waits the whole budget, > the herd delay of 0.4 s): the
        # herd tests count upstream queries per question, and a retransmission (after
        # the adaptive timeout, ~50 ms on loopback) would count twice.
        cls.h = cls.serve([f.server], cls.bundle(), timeout_ms=1000, extra={"upstream": {"attempts": 1}})

    def count(self, name, t=None):
        return self.f.count(name, t)

    def test_second_query_from_cache(self):
        r1 = client.ask(self.h.addr, "hit.cache.test", "A")
        self.assertEqual(client.rrs(r1, "A"), ["192.0.2.31"])
        n = self.count("hit.cache.test")
        self.assertEqual(n, 1, f"first query: expected 1 upstream query, saw {n}")
        for tcp in (False, True, False):
            r = client.ask(self.h.addr, "hit.cache.test", "A", tcp=tcp)
            self.assertEqual(client.rrs(r, "A"), ["192.0.2.31"])
        self.assertEqual(self.count("hit.cache.test"), 1,
                         f"repeated identical queries (UDP and TCP) must be answered from the cache; "
                         f"upstream saw {self.count('hit.cache.test')} queries{self.ctx(self.h)}")

    def test_ttl_counts_down(self):
        r1 = client.ask(self.h.addr, "ttl.cache.test", "A")
        t1 = client.rr_ttls(r1, "A")[0]
        self.assertLessEqual(t1, 300)
        self.assertGreaterEqual(t1, 295, f"fresh answer TTL {t1} (upstream gave 300)")
        time.sleep(2.2)
        r2 = client.ask(self.h.addr, "ttl.cache.test", "A")
        t2 = client.rr_ttls(r2, "A")[0]
        self.assertEqual(self.count("ttl.cache.test"), 1, "second query went upstream")
        self.assertLessEqual(t2, t1 - 1, f"TTL must count down: {t1} then {t2} 2.2 s later")
        self.assertGreaterEqual(t2, t1 - 4, f"TTL dropped too fast: {t1} then {t2} 2.2 s later")

    def test_entry_expires(self):
        r1 = client.ask(self.h.addr, "short.cache.test", "A")
        self.assertLessEqual(client.rr_ttls(r1, "A")[0], 2)
        time.sleep(3.2)
        r2 = client.ask(self.h.addr, "short.cache.test", "A")
        self.assertEqual(client.rrs(r2, "A"), ["192.0.2.33"])
        self.assertEqual(self.count("short.cache.test"), 2,
                         "a 2 s TTL entry must be fetched again after 3.2 s")

    def test_types_cached_separately(self):
        a = client.ask(self.h.addr, "types.cache.test", "A")
        aaaa = client.ask(self.h.addr, "types.cache.test", "AAAA")
        self.assertEqual(client.rrs(a, "A"), ["192.0.2.34"])
        self.assertEqual(client.rrs(aaaa, "AAAA"), ["2001:db8::34"], client.describe(aaaa))
        self.assertEqual((self.count("types.cache.test", "A"), self.count("types.cache.test", "AAAA")), (1, 1))

    def _negative(self, name, t, rcode):
        r1 = client.ask(self.h.addr, name, t)
        time.sleep(1.1)
        r2 = client.ask(self.h.addr, name, t)
        for r, what in ((r1, "first"), (r2, "cached")):
            self.assertRcode(r, rcode, f"{name} {t} ({what})")
            self.assertEqual(r.answer, [])
            self.assertIsNotNone(client.soa(r), f"{what} negative answer without SOA:\n{client.describe(r)}")
        self.assertEqual(self.count(name, t), 1, f"negative answer {name} {t} was not cached "
                         f"(upstream saw {self.count(name, t)} queries){self.ctx(self.h)}")
        t1, t2 = client.soa(r1)[0], client.soa(r2)[0]
        self.assertLessEqual(t1, NEG_TTL,
                             f"SOA TTL in a negative answer must be min(SOA TTL 3600, MINIMUM {NEG_TTL}) "
                             f"per RFC 2308 §3/§5, got {t1} (then {t2} from the cache)")
        self.assertLess(t2, t1, f"negative TTL must count down in the cache: {t1} then {t2}")

    def test_nxdomain_cached(self):
        self._negative("nx.cache.test", "A", "NXDOMAIN")

    def test_nodata_cached(self):
        self._negative("nodata.cache.test", "MX", "NOERROR")

    def test_negative_ttl_uses_soa_ttl_when_lower(self):
        # SOA record TTL 5 < MINIMUM 3600: the negative TTL is 5 (RFC 2308 §3 and §5).
        f = self.f
        old = (f.neg_ttl, f.soa_ttl)
        f.neg_ttl, f.soa_ttl = 3600, 5
        try:
            r = client.ask(self.h.addr, "nx-lowsoa.cache.test", "A")
        finally:
            f.neg_ttl, f.soa_ttl = old
        s = client.soa(r)
        self.assertIsNotNone(s, client.describe(r))
        self.assertLessEqual(s[0], 5, f"negative TTL must be min(SOA TTL 5, MINIMUM 3600), got {s[0]}")

    def test_cache_case_insensitive_echoes_case(self):
        client.ask(self.h.addr, "case.cache.test", "A")
        q = client.make_query("CaSe.CaChE.TeSt", "A")
        w = client.udp_raw(q.to_wire(), self.h.addr)
        self.assertTrue(w)
        self.assertEqual(client.question_name_as_sent(w[0]), "CaSe.CaChE.TeSt.",
                         "a cache hit must echo the client's letter case")
        self.assertEqual(client.rrs(client.parse(w[0]), "A"), ["192.0.2.36"])
        self.assertEqual(self.count("case.cache.test"), 1, "the cache must be case-insensitive")

    def test_burst_of_hits_all_answered(self):
        # 20 sockets x 50 queries (1000 cache hits) in flight at once, rate limit off.
        import socket as so
        import select
        client.ask(self.h.addr, "hit.cache.test", "A")
        socks = [so.socket(so.AF_INET, so.SOCK_DGRAM) for _ in range(20)]
        want = {}
        try:
            for k, s in enumerate(socks):
                for j in range(50):
                    q = client.make_query("hit.cache.test", "A", qid=k * 50 + j)
                    s.sendto(q.to_wire(), self.h.addr)
                    want[(k, q.id)] = True
            got = 0
            wrong = 0
            deadline = time.monotonic() + 5
            while got < 1000 and time.monotonic() < deadline:
                rl, _, _ = select.select(socks, [], [], 0.5)
                for s in rl:
                    r = client.parse(s.recv(4096))
                    got += 1
                    if client.rrs(r, "A") != ["192.0.2.31"] or (socks.index(s), r.id) not in want:
                        wrong += 1
        finally:
            for s in socks:
                s.close()
        self.assertEqual(wrong, 0, "replies with a wrong answer or an id not sent on that socket")
        self.assertGreaterEqual(got, 990, f"1000 cache hits sent in a burst, only {got} answered within 5 s")

    def test_non_ascii_labels_are_case_sensitive(self):
        # DNS case-insensitivity covers A-Z only (RFC 4343): bytes 0xC8 and 0xE8 are different names.
        r1 = client.ask(self.h.addr, "\\200x.cache.test", "A")
        r2 = client.ask(self.h.addr, "\\232x.cache.test", "A")
        self.assertEqual(client.rrs(r1, "A"), ["192.0.2.40"], client.describe(r1))
        self.assertEqual(client.rrs(r2, "A"), ["192.0.2.41"],
                         f"\\232x (0xE8) answered from the cache entry of \\200x (0xC8): non-ASCII bytes "
                         f"must not be case-folded\n{client.describe(r2)}")
        self.assertEqual(r2.question[0].name.to_text(), "\\232x.cache.test.")

    def _herd(self, name, want, tcp=False):
        self.f.script(name, [Step("good", delay=0.4)])
        results, errors = [], []

        def one():
            try:
                results.append(client.ask(self.h.addr, name, "A", timeout=4, tcp=tcp))
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        threads = [threading.Thread(target=one) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        self.assertEqual(errors, [], "every concurrent query must be answered")
        self.assertEqual(len(results), 10)
        for r in results:
            self.assertEqual(client.rrs(r, "A"), [want], client.describe(r))
        n = self.count(name)
        self.assertEqual(n, 1, f"10 identical queries in flight at once must make one upstream query, "
                         f"upstream saw {n}{self.ctx(self.h)}")

    def test_inflight_dedup_udp(self):
        self._herd("herd.cache.test", "192.0.2.37")

    def test_inflight_dedup_tcp(self):
        self._herd("herd2.cache.test", "192.0.2.38", tcp=True)


if __name__ == "__main__":
    hedgetest.main()
