#!/usr/bin/python3
"""Blocking with a bundle made by `hedge compile` from small lists (plain-domain and hosts
files): listed names and their subdomains get A = block.ipv4, AAAA = block.ipv6 (NODATA
when ipv6 is absent), other types NODATA with a SOA; RA=1, AA=0; EDE 15 with the
category, EDE 16 for child-abuse/terrorism without the listed name; look-alike names
are not blocked; CNAME cloaking is caught; blocked names never reach the upstream."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client  # noqa: E402
from hedgetest.hedge import BLOCK_V4, BLOCK_V6  # noqa: E402

import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402

ALLOWED_A = "198.51.100.7"     # the fake upstream's answer for any unlisted name

# name -> category (every name here must be blocked)
BLOCKED = {
    "example.com": "pornography",
    "www.example.com": "pornography",
    "a.b.c.deep.example.com": "pornography",
    "porn.example.org": "pornography",
    "casino.example.org": "gambling",          # from a hosts-format file
    "live.casino.example.org": "gambling",
    "bet.example.net": "gambling",
    "malware.example.net": "malware",
    "x.malware.example.net": "malware",
}
ILLEGAL = {"abuse-test.example.net": "child-abuse", "img.abuse-test.example.net": "child-abuse",
           "terror-test.example.org": "terrorism"}
NOT_BLOCKED = ["evil\\.example.com",   # labels "evil.example" + "com": not under example.com
               "badexample.com", "notexample.com", "example.co", "example.com.safe.test",
               "example.org", "xporn.example.org", "casino.example", "example.net",
               "abuse-test-example.net", "malware.example.net.safe.test", "com.example.test"]


class Blocking(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.wildcard_a = ALLOWED_A
        cls.f.add("cloak.allowed.test.", "CNAME", "www.example.com.")
        cls.f.add("www.example.com.", "A", "198.51.100.50")
        cls.f.add("cloak2.allowed.test.", "CNAME", "mid.allowed.test.")
        cls.f.add("mid.allowed.test.", "CNAME", "live.casino.example.org.")
        cls.f.add("live.casino.example.org.", "A", "198.51.100.51")
        cls.f.add("cloak3.allowed.test.", "CNAME", "img.abuse-test.example.net.")
        cls.f.add("img.abuse-test.example.net.", "A", "198.51.100.52")
        cls.f.add("fine.allowed.test.", "CNAME", "target.allowed.test.")
        cls.f.add("target.allowed.test.", "A", "198.51.100.53")
        b = cls.bundle()
        cls.h = cls.serve([cls.f.server], b)
        cls.h6 = cls.serve([cls.f.server], b, block_v6=None)   # no [block] ipv6

    def check_block_header(self, r, what):
        self.assertEqual(r.rcode(), dns.rcode.NOERROR, f"{what}: rcode\n{client.describe(r)}")
        self.assertTrue(r.flags & dns.flags.RA, f"{what}: RA must be 1\n{client.describe(r)}")
        self.assertFalse(r.flags & dns.flags.AA, f"{what}: AA must be 0\n{client.describe(r)}")
        self.assertTrue(r.flags & dns.flags.QR)

    def check_ede(self, r, code, category, name, what):
        e = client.ede(r)
        self.assertEqual([c for c, _ in e], [code], f"{what}: expected one EDE {code}\n{client.describe(r)}")
        text = e[0][1]
        if code == 15:
            self.assertIn(category, text, f"{what}: EDE 15 extra text must name the category")
        else:
            low = text.lower()
            for part in (name.lower(), name.split(".")[-3] if name.count(".") >= 2 else name):
                self.assertNotIn(part, low, f"{what}: EDE 16 extra text '{text}' must not reveal the listed name")

    def test_a_and_aaaa(self):
        for name, cat in BLOCKED.items():
            for tcp in (False, True):
                with self.subTest(name=name, tcp=tcp):
                    r = client.ask(self.h.addr, name, "A", tcp=tcp)
                    self.check_block_header(r, f"{name} A")
                    self.assertEqual(client.rrs(r, "A"), [BLOCK_V4], f"{name} A\n{client.describe(r)}")
                    self.check_ede(r, 15, cat, name, f"{name} A")
                    r = client.ask(self.h.addr, name, "AAAA", tcp=tcp)
                    self.check_block_header(r, f"{name} AAAA")
                    self.assertEqual(client.rrs(r, "AAAA"), [BLOCK_V6], f"{name} AAAA\n{client.describe(r)}")
                    self.check_ede(r, 15, cat, name, f"{name} AAAA")

    def test_other_types_nodata_with_soa(self):
        for name in ("example.com", "www.example.com", "casino.example.org"):
            for t in ("MX", "TXT", "SRV", "CAA", "HTTPS", "NS", "SOA", "PTR"):
                with self.subTest(name=name, type=t):
                    r = client.ask(self.h.addr, name, t)
                    self.check_block_header(r, f"{name} {t}")
                    self.assertEqual(r.answer, [], f"{name} {t}: expected NODATA\n{client.describe(r)}")
                    self.assertIsNotNone(client.soa(r), f"{name} {t}: NODATA needs a SOA in authority\n"
                                         f"{client.describe(r)}")
                    self.check_ede(r, 15, BLOCKED[name], name, f"{name} {t}")

    def test_illegal_tier_ede16(self):
        for name, cat in ILLEGAL.items():
            for t in ("A", "AAAA", "TXT"):
                with self.subTest(name=name, type=t):
                    r = client.ask(self.h.addr, name, t)
                    self.check_block_header(r, f"{name} {t}")
                    want = {"A": [BLOCK_V4], "AAAA": [BLOCK_V6], "TXT": []}[t]
                    self.assertEqual(client.rrs(r, t), want, client.describe(r))
                    self.check_ede(r, 16, cat, name, f"{name} {t}")

    def test_illegal_tier_entry_not_revealed(self):
        # The confidential lists are stored as keyed hashes; a reply to a subdomain must not
        # name the listed entry (e.g. as the SOA owner of a NODATA).
        for qname, entry in (("img.abuse-test.example.net", "abuse-test.example.net."),
                             ("a.b.terror-test.example.org", "terror-test.example.org.")):
            for t in ("A", "AAAA", "TXT", "MX"):
                with self.subTest(qname=qname, type=t):
                    r = client.ask(self.h.addr, qname, t)
                    owners = {rr.name.to_text().lower() for sec in (r.answer, r.authority, r.additional)
                              for rr in sec}
                    self.assertNotIn(entry, owners, f"reply to {qname} {t} reveals the confidential list entry "
                                     f"{entry}:\n{client.describe(r)}")

    def test_lookalikes_not_blocked(self):
        for name in NOT_BLOCKED:
            with self.subTest(name=name):
                r = client.ask(self.h.addr, name, "A")
                self.assertEqual(client.rrs(r, "A"), [ALLOWED_A],
                                 f"{name} is not listed and must be forwarded\n{client.describe(r)}")
                self.assertEqual(client.ede(r), [], f"{name}: no EDE on an allowed answer")

    def test_case_and_trailing_forms(self):
        for qname in ("WwW.ExAmPlE.CoM", "EXAMPLE.COM", "Casino.Example.Org"):
            with self.subTest(qname=qname):
                q = client.make_query(qname, "A")
                w = client.udp_raw(q.to_wire(), self.h.addr)
                self.assertTrue(w)
                r = client.parse(w[0])
                self.assertEqual(client.rrs(r, "A"), [BLOCK_V4], f"{qname} must be blocked whatever its case")
                self.assertEqual(client.question_name_as_sent(w[0]), qname + ".", "question case must be echoed")

    def test_blocked_names_not_sent_upstream(self):
        self.f.reset()
        for name in list(BLOCKED) + list(ILLEGAL):
            client.ask(self.h.addr, name, "A")
        leaked = sorted({s.name for s in self.f.queries()} - {"hedge-ready.example.com."})
        self.assertEqual(leaked, [], "blocked names must be answered locally, not forwarded")

    def test_no_edns_block_answer(self):
        r = client.ask(self.h.addr, "www.example.com", "A", edns=False)
        self.assertEqual(client.rrs(r, "A"), [BLOCK_V4])
        self.assertEqual(r.edns, -1, "no OPT (and so no EDE) to a client that sent no OPT")

    def test_do_bit_on_block_answer(self):
        r = client.ask(self.h.addr, "www.example.com", "A", do=True)
        self.assertEqual(client.rrs(r, "A"), [BLOCK_V4])
        self.assertTrue(r.ednsflags & dns.flags.DO, "DO must be echoed on a block answer too")

    def test_no_ipv6_configured_nodata(self):
        r = client.ask(self.h6.addr, "www.example.com", "AAAA")
        self.check_block_header(r, "AAAA without block.ipv6")
        self.assertEqual(r.answer, [], f"without block.ipv6, AAAA must be NODATA\n{client.describe(r)}")
        self.assertIsNotNone(client.soa(r), f"NODATA needs a SOA\n{client.describe(r)}")
        self.check_ede(r, 15, "pornography", "www.example.com", "AAAA without block.ipv6")
        r = client.ask(self.h6.addr, "www.example.com", "A")
        self.assertEqual(client.rrs(r, "A"), [BLOCK_V4])

    def test_cname_cloaking(self):
        for name, cat, code in (("cloak.allowed.test", "pornography", 15),
                                ("cloak2.allowed.test", "gambling", 15),
                                ("cloak3.allowed.test", "child-abuse", 16)):
            for tcp in (False, True):
                with self.subTest(name=name, tcp=tcp):
                    r = client.ask(self.h.addr, name, "A", tcp=tcp)
                    text = r.to_text()
                    self.assertEqual(client.rrs(r, "A"), [BLOCK_V4],
                                     f"{name} is a CNAME to a blocked name: expected the block answer\n"
                                     f"{client.describe(r)}{self.ctx(self.h)}")
                    self.assertNotIn("198.51.100.5", text, "the blocked target's real address leaked")
                    self.assertEqual([c for c, _ in client.ede(r)], [code], client.describe(r))
                    if code == 16:
                        self.assertNotIn("abuse-test", text.lower(),
                                         "illegal-tier CNAME target must not appear in the reply")

    def test_cname_cloaking_aaaa_and_mx(self):
        r = client.ask(self.h.addr, "cloak.allowed.test", "AAAA")
        self.assertEqual(client.rrs(r, "AAAA"), [BLOCK_V6], f"CNAME to a blocked name, AAAA:\n{client.describe(r)}")
        r = client.ask(self.h.addr, "cloak.allowed.test", "MX")
        self.assertRcode(r, "NOERROR", "CNAME to a blocked name, MX")
        self.assertEqual(client.rrs(r, "MX"), [], client.describe(r))
        self.assertEqual([c for c, _ in client.ede(r)], [15],
                         f"CNAME to a blocked name, MX: expected the blocked NODATA with EDE 15\n{client.describe(r)}")

    def test_cname_to_allowed_not_blocked(self):
        r = client.ask(self.h.addr, "fine.allowed.test", "A")
        self.assertEqual(client.rrs(r, "A"), ["198.51.100.53"], client.describe(r))
        self.assertEqual(client.rrs(r, "CNAME"), ["target.allowed.test."])

    def test_dig_sees_ede(self):
        d = client.dig(self.h.addr, "www.example.com", "A")
        self.assertEqual(d["status"], "NOERROR", d["raw"])
        self.assertEqual([x[-1] for x in d["answer"]], [BLOCK_V4], d["raw"])
        self.assertEqual(d["ede"], [15], d["raw"])
        self.assertIn("pornography", d["raw"])


if __name__ == "__main__":
    hedgetest.main()
