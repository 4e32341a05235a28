#!/usr/bin/python3
"""Self-test of the harness against the real peers, no Hedge needed: nsd answers dig,
kdig and dnspython; the fake upstream's scripted misbehaviours really happen on the
wire. If this file fails, the other suites' verdicts cannot be trusted."""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, Step, POISON_A  # noqa: E402

import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402


class NsdPeer(hedgetest.E2ECase):
    needs = ()

    @classmethod
    def setup_peers(cls):
        cls.ns = cls.nsd()

    def test_records(self):
        a = self.ns.addr
        self.assertEqual(client.rrs(client.ask(a, "example.test", "A"), "A"), ["192.0.2.10"])
        self.assertEqual(client.rrs(client.ask(a, "example.test", "AAAA"), "AAAA"), ["2001:db8::10"])
        self.assertEqual(client.rrs(client.ask(a, "example.test", "MX"), "MX"),
                         ["10 mail.example.test.", "20 mail2.example.test."])
        self.assertEqual(client.rrs(client.ask(a, "txt.example.test", "TXT"), "TXT"),
                         ['"hello from nsd" "second string"'])
        r = client.ask(a, "nope.example.test", "A")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)

    def test_case_echo_and_tools(self):
        r = client.ask(self.ns.addr, "ExAmPlE.test", "A")
        self.assertEqual(r.question[0].name.to_text(), "ExAmPlE.test.")
        d = client.dig(self.ns.addr, "www.example.test", "A")
        self.assertEqual(d["status"], "NOERROR")
        self.assertIn("aa", d["flags"])
        self.assertEqual([x[-1] for x in d["answer"]], ["192.0.2.11"])
        k = client.kdig(self.ns.addr, "www.example.test", "A", tcp=True)
        self.assertEqual(k["status"], "NOERROR")
        self.assertEqual([x[-1] for x in k["answer"]], ["192.0.2.11"])

    def test_sizes(self):
        a = self.ns.addr
        r, n = client.ask_size(a, "many.example.test", "A", edns=False)
        self.assertTrue(r.flags & dns.flags.TC and n <= 512, (n, r.flags))
        r, n = client.ask_size(a, "many.example.test", "A", payload=1232)
        self.assertFalse(r.flags & dns.flags.TC)
        self.assertEqual(len(client.rrs(r, "A")), 40)
        r, n = client.ask_size(a, "big.example.test", "TXT", payload=1232)
        self.assertTrue(r.flags & dns.flags.TC and n <= 1232, (n, r.flags))
        r, n = client.ask_size(a, "big.example.test", "TXT", tcp=True)
        self.assertEqual(len(client.rrs(r, "TXT")), 24)
        self.assertGreater(n, 1232)


class FakePeer(hedgetest.E2ECase):
    needs = ()

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake(neg_ttl=42)
        cls.f.add("a.test.", "A", "192.0.2.1", ttl=100)

    def test_answer_count_nx(self):
        f = self.f
        f.reset()
        r = client.ask(f.addr, "A.TeSt", "A")
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.1"])
        self.assertEqual(r.question[0].name.to_text(), "A.TeSt.")
        self.assertEqual(f.count("a.test"), 1)
        r = client.ask(f.addr, "a.test", "MX")
        self.assertEqual((r.rcode(), r.answer), (0, []))
        self.assertEqual(client.soa(r)[1].minimum, 42)
        r = client.ask(f.addr, "b.test", "A")
        self.assertEqual(r.rcode(), dns.rcode.NXDOMAIN)
        self.assertEqual(f.count(), 3)

    def test_scripts(self):
        f = self.f
        f.add("s.test.", "A", "192.0.2.2")
        q = client.make_query("s.test", "A")
        f.script("s.test", [Step("wrong_id"), Step("wrong_question", 0.05), Step("good", 0.1)])
        got = [client.parse(w) for w in client.udp_raw(q.to_wire(), f.addr, 2, expect=3)]
        self.assertEqual(len(got), 3)
        self.assertNotEqual(got[0].id, q.id)
        self.assertEqual(client.rrs(got[0], "A"), [POISON_A])
        self.assertEqual(got[1].question[0].name.to_text(), "poison.other.test.")
        self.assertEqual(client.rrs(got[2], "A"), ["192.0.2.2"])
        # wrong source port / address
        f.script("s.test", [Step("wrong_port"), Step("wrong_addr", 0.05)])
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(2)
        s.sendto(q.to_wire(), f.addr)
        srcs = [s.recvfrom(4096)[1] for _ in range(2)]
        s.close()
        self.assertNotEqual(srcs[0], f.addr)
        self.assertEqual(srcs[1], ("127.0.0.2", f.port))
        # truncation over UDP, full over TCP
        f.script("s.test", [Step("tc")])
        r = client.query(q, f.addr)
        self.assertTrue(r.flags & dns.flags.TC and not r.answer)
        r = client.query(q, f.addr, tcp=True)
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.2"])
        # delay and drop
        f.script("s.test", [Step("good", 0.4)])
        t0 = time.monotonic()
        client.query(q, f.addr, timeout=2)
        self.assertGreaterEqual(time.monotonic() - t0, 0.35)
        f.script("s.test", [])
        with self.assertRaises(client.NoReply):
            client.query(q, f.addr, timeout=0.3)
        f.script_nth("s.test", [[], [Step("good")]])
        f.reset()
        with self.assertRaises(client.NoReply):
            client.query(q, f.addr, timeout=0.3)
        client.query(q, f.addr, timeout=1)
        f.blackhole = True
        with self.assertRaises(client.NoReply):
            client.query(q, f.addr, timeout=0.3)
        f.blackhole = False

    def test_ede_parsing(self):
        self.f.ede = (15, "Blocked (pornography)")
        try:
            r = client.ask(self.f.addr, "a.test", "A")
            self.assertEqual(client.ede(r), [(15, "Blocked (pornography)")])
            d = client.dig(self.f.addr, "a.test", "A")
            self.assertEqual(d["ede"], [15], d["raw"])
            k = client.kdig(self.f.addr, "a.test", "A")
            self.assertEqual(k["ede"], [15], k["raw"])
        finally:
            self.f.ede = None


class Corpus(unittest.TestCase):
    def test_corpus_present(self):
        for d in ("deckard-raw", "c-ares-fuzzinput"):
            p = os.path.join(hedgetest.CORPUS_DIR, d)
            self.assertTrue(os.path.isdir(p) and len(os.listdir(p)) > 20, p)


if __name__ == "__main__":
    hedgetest.main()
