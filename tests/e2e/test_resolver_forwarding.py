#!/usr/bin/python3
"""Forwarding through Hedge to a real nsd: A/AAAA/MX/TXT answers, 0x20 case echo,
UDP vs TCP, TCP pipelining, truncation (EDNS size and the 512-byte limit), EDNS
(OPT echo, BADVERS, DO), dig and kdig as clients, IPv6 listener."""
import os
import random
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client  # noqa: E402

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402

CASES = [
    ("example.test", "A"), ("example.test", "AAAA"), ("example.test", "MX"), ("example.test", "TXT"),
    ("www.example.test", "A"), ("www.example.test", "AAAA"), ("txt.example.test", "TXT"),
    ("mail.example.test", "A"),
]


class Forwarding(hedgetest.E2ECase):
    @classmethod
    def setup_peers(cls):
        cls.ns = cls.nsd()
        cls.h = cls.serve([cls.ns.server], cls.bundle(), listen_hosts=("127.0.0.1", "::1"))

    def direct(self, name, rdtype):
        return client.ask(self.ns.addr, name, rdtype)

    def test_answers_match_nsd(self):
        for name, t in CASES:
            with self.subTest(name=name, type=t):
                want = client.rrs(self.direct(name, t), t)
                self.assertTrue(want)
                r = client.ask(self.h.addr, name, t)
                self.assertRcode(r, "NOERROR", f"{name} {t}")
                self.assertEqual(client.rrs(r, t), want,
                                 f"{name} {t}: answer differs from nsd's{self.ctx(self.h)}")

    def test_header_flags(self):
        r = client.ask(self.h.addr, "www.example.test", "A")
        self.assertTrue(r.flags & dns.flags.QR, "QR must be set")
        self.assertTrue(r.flags & dns.flags.RA, f"RA must be set by a resolver: {client.describe(r)}")
        self.assertTrue(r.flags & dns.flags.RD, "RD must be copied from the query")
        self.assertFalse(r.flags & dns.flags.AA, f"a forwarded answer must not claim AA: {client.describe(r)}")

    def test_nxdomain_and_nodata(self):
        r = client.ask(self.h.addr, "no-such-name.example.test", "A")
        self.assertRcode(r, "NXDOMAIN", "nonexistent name")
        self.assertIsNotNone(client.soa(r), f"NXDOMAIN without SOA in authority:\n{client.describe(r)}")
        r = client.ask(self.h.addr, "mail.example.test", "MX")
        self.assertRcode(r, "NOERROR", "NODATA")
        self.assertEqual(r.answer, [], f"NODATA must have an empty answer:\n{client.describe(r)}")
        self.assertIsNotNone(client.soa(r), f"NODATA without SOA in authority:\n{client.describe(r)}")

    def test_cname_chain(self):
        r = client.ask(self.h.addr, "alias.example.test", "A")
        self.assertEqual(client.rrs(r, "CNAME"), ["www.example.test."], client.describe(r))
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.11"], client.describe(r))

    def test_0x20_case_echo(self):
        for qname in ("ExAmPlE.test", "wWw.ExAmPlE.TeSt", "EXAMPLE.TEST", "example.test"):
            for tcp in (False, True):
                with self.subTest(qname=qname, tcp=tcp):
                    q = client.make_query(qname, "A")
                    wire = (client.tcp_raw([q.to_wire()], self.h.addr) if tcp
                            else client.udp_raw(q.to_wire(), self.h.addr))
                    self.assertTrue(wire, f"no reply to {qname}")
                    got = client.question_name_as_sent(wire[0])
                    self.assertEqual(got, qname + ".",
                                     f"question must echo the client's case exactly: asked {qname}, got {got}")
                    self.assertTrue(client.rrs(client.parse(wire[0]), "A"))

    def test_tcp_same_answers(self):
        for name, t in CASES:
            with self.subTest(name=name, type=t):
                u = client.ask(self.h.addr, name, t)
                tc = client.ask(self.h.addr, name, t, tcp=True)
                self.assertEqual(tc.rcode(), u.rcode())
                self.assertEqual(client.rrs(tc, t), client.rrs(u, t), f"{name} {t}: UDP and TCP differ")

    def test_tcp_pipelining(self):
        qs = [client.make_query(n, t) for n, t in CASES] + [client.make_query("no-such.example.test", "A")]
        ids = random.sample(range(1, 65535), len(qs))
        for q, i in zip(qs, ids):
            q.id = i
        replies = [client.parse(w) for w in client.tcp_raw([q.to_wire() for q in qs], self.h.addr, timeout=5)]
        byid = {r.id: r for r in replies}
        self.assertEqual(sorted(byid), sorted(ids), "every pipelined query must be answered once, ids matched")
        for q in qs:
            r = byid[q.id]
            self.assertEqual(r.question[0].name, q.question[0].name, "reply matched to the wrong query")
            self.assertEqual(r.question[0].rdtype, q.question[0].rdtype)
            t = q.question[0].rdtype
            if q.question[0].name.to_text() == "no-such.example.test.":
                self.assertRcode(r, "NXDOMAIN", "pipelined NXDOMAIN")
            else:
                want = client.rrs(self.direct(q.question[0].name.to_text(), t), t)
                self.assertEqual(client.rrs(r, t), want)

    def test_tcp_connection_reuse(self):
        s = client.tcp_connect(self.h.addr)
        try:
            for name, t in CASES[:4]:
                q = client.make_query(name, t)
                w = q.to_wire()
                s.sendall(len(w).to_bytes(2, "big") + w)
                r = client.parse(client.tcp_read_msg(s, 3))
                self.assertEqual(r.id, q.id)
                self.assertTrue(client.rrs(r, t), f"sequential query {name} {t} on one connection")
        finally:
            s.close()

    def test_big_answer_truncated_over_udp_full_over_tcp(self):
        r, n = client.ask_size(self.h.addr, "big.example.test", "TXT", payload=1232)
        self.assertTrue(r.flags & dns.flags.TC,
                        f"2.7 kB TXT set over UDP with EDNS 1232 must set TC ({n} bytes):\n{client.describe(r)}")
        self.assertLessEqual(n, 1232, "UDP reply larger than the client's EDNS size")
        r, n = client.ask_size(self.h.addr, "big.example.test", "TXT", tcp=True)
        self.assertFalse(r.flags & dns.flags.TC, "TCP reply must not be truncated")
        self.assertEqual(len(client.rrs(r, "TXT")), 24, f"TCP must carry the full TXT set ({n} bytes)")

    def test_truncation_on_cache_hits(self):
        client.ask(self.h.addr, "big.example.test", "TXT", tcp=True)          # fill the cache
        client.ask(self.h.addr, "many.example.test", "A", payload=1232)
        for _ in range(2):
            r, n = client.ask_size(self.h.addr, "big.example.test", "TXT", payload=1232)
            self.assertTrue(r.flags & dns.flags.TC and n <= 1232, f"cache hit over UDP: TC must be set, {n} B")
            r, n = client.ask_size(self.h.addr, "many.example.test", "A", edns=False)
            self.assertTrue(r.flags & dns.flags.TC and n <= 512,
                            f"cache hit without EDNS: {n} B, TC={bool(r.flags & dns.flags.TC)}")
            self.assertEqual(r.edns, -1, "cache hit for a client without EDNS must carry no OPT")

    def test_truncated_reply_not_cached_as_answer(self):
        # A client without EDNS first: the ~560 B answer is truncated (upstream or Hedge);
        # an EDNS 1232 client right after must still get all 32 records over UDP.
        r, n = client.ask_size(self.h.addr, "mid.example.test", "A", edns=False)
        self.assertTrue(r.flags & dns.flags.TC and n <= 512, f"no EDNS: {n} B, TC={bool(r.flags & dns.flags.TC)}")
        r, n = client.ask_size(self.h.addr, "mid.example.test", "A", payload=1232)
        self.assertFalse(r.flags & dns.flags.TC, f"EDNS 1232 client got TC ({n} B) after a truncated reply to a "
                         f"client without EDNS:\n{client.describe(r)}")
        self.assertEqual(len(client.rrs(r, "A")), 32)

    def test_name_compression(self):
        # nsd sends the 40 A records of many.example.test in ~720 B; a forwarder that
        # re-encodes without name compression nearly doubles it (and truncates needlessly).
        direct, dn = client.ask_size(self.ns.addr, "many.example.test", "A", tcp=True)
        r, n = client.ask_size(self.h.addr, "many.example.test", "A", tcp=True)
        self.assertEqual(len(client.rrs(r, "A")), 40)
        self.assertLessEqual(n, dn + 100, f"Hedge's reply is {n} B where nsd's is {dn} B: names not compressed?")

    def test_small_edns_size_treated_as_512(self):
        r, n = client.ask_size(self.h.addr, "many.example.test", "A", payload=100)
        self.assertLessEqual(n, 512, f"EDNS size 100 must be treated as 512 (RFC 6891 §6.2.5), reply {n} B")
        self.assertTrue(r.flags & dns.flags.TC)

    def test_tcp_pipelining_many(self):
        # 60 distinct cache misses on one connection, all written before reading.
        qs = [client.make_query(f"pipe{i}.example.test", "A") for i in range(60)]
        for i, q in enumerate(qs):
            q.id = 1000 + i
        replies = [client.parse(w) for w in client.tcp_raw([q.to_wire() for q in qs], self.h.addr, timeout=10)]
        got = sorted(r.id for r in replies)
        self.assertEqual(got, [q.id for q in qs], "60 pipelined queries: every id answered exactly once")
        for r in replies:
            self.assertEqual(r.question[0].name.to_text(), f"pipe{r.id - 1000}.example.test.")
            self.assertRcode(r, "NXDOMAIN", "pipelined miss")

    def test_no_edns_512_limit(self):
        r, n = client.ask_size(self.h.addr, "many.example.test", "A", edns=False)
        self.assertLessEqual(n, 512, f"reply without EDNS is {n} bytes (> 512)")
        self.assertTrue(r.flags & dns.flags.TC, f"40 A records (~700 B) without EDNS must set TC:\n{client.describe(r)}")
        self.assertEqual(r.edns, -1, "no OPT in a reply to a query without OPT")
        r, n = client.ask_size(self.h.addr, "many.example.test", "A", payload=1232)
        self.assertFalse(r.flags & dns.flags.TC, f"~700 B fits in EDNS 1232 ({n} bytes) but TC was set")
        self.assertEqual(len(client.rrs(r, "A")), 40)
        r, n = client.ask_size(self.h.addr, "many.example.test", "A", edns=False, tcp=True)
        self.assertEqual(len(client.rrs(r, "A")), 40, "TCP without EDNS must carry all 40 A records")

    def test_edns_opt_echo(self):
        r = client.ask(self.h.addr, "www.example.test", "A", payload=1232)
        self.assertEqual(r.edns, 0, f"query with OPT must get OPT version 0 back:\n{client.describe(r)}")
        self.assertGreaterEqual(r.payload, 512)
        r = client.ask(self.h.addr, "www.example.test", "A", edns=False)
        self.assertEqual(r.edns, -1, f"query without OPT must get no OPT:\n{client.describe(r)}")

    def test_edns_badvers(self):
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                r = client.ask(self.h.addr, "www.example.test", "A", edns_version=1, tcp=tcp)
                self.assertEqual(r.rcode(), dns.rcode.BADVERS,
                                 f"EDNS version 1 must get BADVERS (16):\n{client.describe(r)}")
                self.assertEqual(r.edns, 0, "BADVERS reply must carry OPT with version 0")
                self.assertEqual(r.answer, [], "BADVERS reply must have no answer")

    def test_edns_do_bit_echoed(self):
        r = client.ask(self.h.addr, "www.example.test", "A", do=True)
        self.assertTrue(r.ednsflags & dns.flags.DO, f"DO must be copied to the reply (RFC 3225):\n{client.describe(r)}")
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.11"])

    def test_unknown_edns_option_ignored(self):
        opt = dns.edns.GenericOption(65001, b"\x01\x02\x03")
        r = client.ask(self.h.addr, "www.example.test", "A", options=[opt])
        self.assertRcode(r, "NOERROR", "unknown EDNS option must be ignored")
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.11"])

    def test_ipv6_listener(self):
        a6 = ("::1", self.h.port)
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                r = client.ask(a6, "www.example.test", "AAAA", tcp=tcp)
                self.assertEqual(client.rrs(r, "AAAA"), ["2001:db8::11"])

    def test_dig_and_kdig(self):
        for tool in (client.dig, client.kdig):
            for tcp in (False, True):
                with self.subTest(tool=tool.__name__, tcp=tcp):
                    d = tool(self.h.addr, "example.test", "MX", tcp=tcp)
                    self.assertEqual(d["status"], "NOERROR", d["raw"])
                    self.assertIn("ra", d["flags"], d["raw"])
                    self.assertEqual(sorted(" ".join(x[-2:]) for x in d["answer"]),
                                     ["10 mail.example.test.", "20 mail2.example.test."], d["raw"])


if __name__ == "__main__":
    hedgetest.main()
