#!/usr/bin/python3
"""Hedge against a misbehaving upstream (the scripted fake): replies with a wrong id,
wrong question, from a wrong port or address are ignored; TC from upstream makes Hedge
retry over TCP; unreachable upstreams give SERVFAIL + EDE 22 and recover; a dead first
upstream falls back to the second; DO passes through; hostile reply bytes from the
corpus do not poison or crash; outgoing port and id are randomised."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, Step, POISON_A, util  # noqa: E402

import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402

BIG_TXT = [f'"upstream-big-{i:02d}-' + "y" * 90 + '"' for i in range(30)]   # ~3.3 kB


def no_poison(tc, r, what):
    tc.assertNotIn(POISON_A, client.rrs(r, "A"),
                   f"{what}: the forged reply was accepted (client got {POISON_A}):\n{client.describe(r)}")


class Upstream(hedgetest.E2ECase):
    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        for i in range(40):
            cls.f.add(f"n{i}.up.test.", "A", f"192.0.2.{100 + i}")
        cls.f.add("big.up.test.", "TXT", *BIG_TXT)
        cls.h = cls.serve([cls.f.server], cls.bundle(), timeout_ms=300)

    def _forged_then_good(self, name, kind):
        self.f.script(name, [Step(kind), Step("good", delay=0.05)])
        r = client.ask(self.h.addr, name, "A", timeout=5)
        no_poison(self, r, kind)
        if kind == "wrong_question" and r.rcode() == dns.rcode.SERVFAIL:
            return   # acceptable: a reply with the wrong question may end the try (spec: answer or SERVFAIL)
        self.assertEqual(client.rrs(r, "A"), [f"192.0.2.{100 + int(name[1:].split('.')[0])}"],
                         f"{kind}: expected the genuine answer that followed the forged one:\n"
                         f"{client.describe(r)}{self.ctx(self.h)}")

    def test_wrong_id_ignored(self):
        self._forged_then_good("n1.up.test", "wrong_id")

    def test_wrong_question_ignored(self):
        self._forged_then_good("n2.up.test", "wrong_question")

    def test_wrong_source_port_ignored(self):
        self._forged_then_good("n3.up.test", "wrong_port")

    def test_wrong_source_address_ignored(self):
        self._forged_then_good("n4.up.test", "wrong_addr")

    def test_forged_only_on_first_try(self):
        # First try gets only a forged reply; the retry (if any) gets the real one.
        for i, kind in ((5, "wrong_id"), (6, "wrong_question"), (7, "wrong_port")):
            with self.subTest(kind=kind):
                name = f"n{i}.up.test"
                self.f.script_nth(name, [[Step(kind)], [Step("good")]])
                r = client.ask(self.h.addr, name, "A", timeout=5)
                no_poison(self, r, kind)
                ok = client.rrs(r, "A") == [f"192.0.2.{100 + i}"] or r.rcode() == dns.rcode.SERVFAIL
                self.assertTrue(ok, f"{kind}: expected the real answer (retry) or SERVFAIL:\n{client.describe(r)}")

    def test_forged_always_servfail(self):
        self.f.script("n8.up.test", [Step("wrong_id")])
        r = client.ask(self.h.addr, "n8.up.test", "A", timeout=6)
        no_poison(self, r, "wrong_id")
        self.assertRcode(r, "SERVFAIL", "only forged replies")

    def test_upstream_servfail_passed_on(self):
        self.f.script("n9.up.test", [Step("servfail")])
        r = client.ask(self.h.addr, "n9.up.test", "A", timeout=6)
        self.assertRcode(r, "SERVFAIL", "upstream answered SERVFAIL")

    def test_tc_from_upstream_retried_over_tcp(self):
        self.f.script("n10.up.test", [Step("tc")])
        r = client.ask(self.h.addr, "n10.up.test", "A", timeout=5)
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.110"],
                         f"upstream set TC: Hedge must retry over TCP:\n{client.describe(r)}{self.ctx(self.h)}")
        self.assertFalse(r.flags & dns.flags.TC, "small answer must not be truncated to the client")
        self.assertGreaterEqual(self.f.count("n10.up.test", transport="tcp"), 1, "no TCP query reached upstream")

    def test_big_answer_via_tcp_upstream(self):
        self.f.script("big.up.test", [Step("tc")])
        r = client.ask(self.h.addr, "big.up.test", "TXT", tcp=True, timeout=5)
        self.assertEqual(len(client.rrs(r, "TXT")), 30,
                         f"client over TCP must get all 30 TXT records:\n{client.describe(r)}")
        r, n = client.ask_size(self.h.addr, "big.up.test", "TXT", payload=1232, timeout=5)
        self.assertTrue(r.flags & dns.flags.TC and n <= 1232, f"UDP client must get TC=1 ({n} B)")

    def test_oversized_udp_reply_from_upstream(self):
        # The upstream ignores Hedge's EDNS size and sends 3.3 kB over UDP without TC.
        self.f.add("big2.up.test.", "TXT", *BIG_TXT)
        r = client.ask(self.h.addr, "big2.up.test", "TXT", tcp=True, timeout=5)
        self.assertIn(r.rcode(), (dns.rcode.NOERROR, dns.rcode.SERVFAIL), client.describe(r))
        if r.rcode() == dns.rcode.NOERROR:
            self.assertEqual(len(client.rrs(r, "TXT")), 30, f"partial TXT set passed on:\n{client.describe(r)}")
        self.assertAlive(self.h, "n0.up.test")
        r = client.ask(self.h.addr, "n12.up.test", "A")
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.112"], "answers after an oversized upstream reply")

    def test_do_bit_passed_upstream(self):
        r = client.ask(self.h.addr, "n11.up.test", "A", do=True)
        self.assertTrue(r.ednsflags & dns.flags.DO, "DO must be echoed to the client")
        seen = self.f.queries("n11.up.test")
        self.assertTrue(seen, "query never reached upstream")
        self.assertTrue(all(s.edns >= 0 and s.do for s in seen),
                        f"client set DO: the upstream query must carry EDNS with DO=1, saw {seen}")

    def test_random_port_and_id(self):
        for i in range(20, 32):
            client.ask(self.h.addr, f"n{i}.up.test", "A")
        seen = [s for i in range(20, 32) for s in self.f.queries(f"n{i}.up.test") if s.transport == "udp"]
        ports = {s.src[1] for s in seen}
        ids = {s.id for s in seen}
        self.assertGreaterEqual(len(ids), len(seen) - 1, f"upstream query ids repeat: {[s.id for s in seen]}")
        self.assertGreaterEqual(len(ports), 6, f"12 upstream queries came from only {len(ports)} source "
                                f"port(s) {sorted(ports)}: source ports must be randomised")

    def test_hostile_upstream_replies(self):
        d = os.path.join(hedgetest.CORPUS_DIR, "c-ares-fuzzinput")
        files = sorted(os.listdir(d))[:30]
        bad = []
        for i, fn in enumerate(files):
            with open(os.path.join(d, fn), "rb") as fh:
                data = fh.read()[:4096]
            name = f"hostile{i}.up.test"
            self.f.add(name + ".", "A", "192.0.2.77")
            self.f.script(name, [Step("raw", data=data), Step("good", delay=0.05)])
            try:
                r = client.ask(self.h.addr, name, "A", timeout=4)
                if client.rrs(r, "A") != ["192.0.2.77"] and r.rcode() != dns.rcode.SERVFAIL:
                    bad.append((fn, client.describe(r)))
            except client.NoReply:
                self.h.assert_alive()
                bad.append((fn, "no reply"))
        self.assertAlive(self.h, "n0.up.test")
        self.assertEqual(bad, [], "hostile upstream bytes followed by the genuine reply: expected the "
                         "genuine answer (or SERVFAIL)")


class ClientCannotBackOffUpstream(hedgetest.E2ECase):
    """Names one client chooses (the upstream refuses them, fails them, or they contain
    bytes that need escaping) must not take the only upstream away from everyone."""

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.wildcard_a = "198.51.100.8"
        cls.h = cls.serve([cls.f.server], cls.bundle(), timeout_ms=300)

    def _then_others_answered(self, bad_names, what):
        for n in bad_names:
            try:
                client.ask(self.h.addr, n, "A", timeout=3)
            except client.NoReply:
                pass
        t0 = time.monotonic()
        r = client.ask(self.h.addr, f"innocent-{abs(hash(what)) % 10000}.other.test", "A", timeout=3)
        took = time.monotonic() - t0
        self.assertEqual(client.rrs(r, "A"), ["198.51.100.8"],
                         f"after {what}, another client's query failed:\n{client.describe(r)}{self.ctx(self.h)}")
        self.assertLess(took, 0.5, f"after {what}, another client's query took {took:.2f}s")

    def test_refused_names(self):
        names = [f"refused{i}.zone.test" for i in range(4)]
        for n in names:
            self.f.script(n, [Step("refused")])
        self._then_others_answered(names, "4 names the upstream REFUSES")

    def test_refused_asked_once(self):
        # RFC 1034 5.3.3: a server that refused the question is not asked it again.
        # Asking the only upstream three times tripled its error replies, and nsd's
        # rate limiting then dropped some: 1% of such names got no answer at all.
        n = "refused-once.zone.test"
        self.f.script(n, [Step("refused")])
        t0 = time.monotonic()
        r = client.ask(self.h.addr, n, "A", timeout=3)
        took = time.monotonic() - t0
        self.assertEqual(r.rcode(), dns.rcode.SERVFAIL, client.describe(r))
        self.assertLess(took, 0.25, f"a refused question took {took:.2f}s")
        self.assertEqual(self.f.count(n), 1, "the upstream that refused was asked again")

    def test_servfail_names(self):
        names = [f"sf{i}.zone.test" for i in range(4)]
        for n in names:
            self.f.script(n, [Step("servfail")])
        self._then_others_answered(names, "4 names the upstream SERVFAILs")

    def test_escaped_names(self):
        self._then_others_answered(["a\\032b.zone.test", "\\200x.zone.test", "evil\\.zone.test",
                                    "\\000.zone.test"], "4 names with bytes that need escaping")

    def test_escaped_names_answered(self):
        for n in ("a\\032b.zone.test", "\\200x.zone.test", "evil\\.zone.test", "\\000.zone.test"):
            with self.subTest(name=n):
                r = client.ask(self.h.addr, n, "A", timeout=3)
                self.assertEqual(client.rrs(r, "A"), ["198.51.100.8"], f"{n}:\n{client.describe(r)}")
                self.assertEqual(r.question[0].name.to_text(), n + ".", "question must be echoed byte for byte")


class Ipv6Upstream(hedgetest.E2ECase):
    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake(host="::1")
        cls.f.add("v6up.test.", "A", "192.0.2.93")
        cls.f.add("tc6.test.", "A", "192.0.2.94")
        cls.h = cls.serve([cls.f.server], cls.bundle(), timeout_ms=300)

    def test_ipv6_upstream(self):
        self.assertTrue(self.f.server.startswith("[::1]:"))
        r = client.ask(self.h.addr, "v6up.test", "A", timeout=3)
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.93"], f"upstream [::1]:port\n{client.describe(r)}")

    def test_ipv6_upstream_tcp_fallback(self):
        self.f.script("tc6.test", [Step("tc")])
        r = client.ask(self.h.addr, "tc6.test", "A", timeout=3)
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.94"], client.describe(r))
        self.assertGreaterEqual(self.f.count("tc6.test", transport="tcp"), 1)


class Shutdown(hedgetest.E2ECase):
    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.blackhole = True
        cls.h = cls.serve([cls.f.server], cls.bundle(), timeout_ms=2000)

    def test_sigterm_with_queries_in_flight(self):
        import socket as so
        socks = []
        for i in range(20):
            s = so.socket(so.AF_INET, so.SOCK_DGRAM)
            s.sendto(client.make_query(f"pending{i}.down.test", "A").to_wire(), self.h.addr)
            socks.append(s)
        c = client.tcp_connect(self.h.addr)
        w = client.make_query("pending-tcp.down.test", "A").to_wire()
        c.sendall(len(w).to_bytes(2, "big") + w)
        time.sleep(0.3)
        try:
            status, secs, killed = self.h.stop()
        finally:
            c.close()
            for s in socks:
                s.close()
        self.assertFalse(killed, "SIGTERM with 21 queries waiting on a silent upstream: no exit within 5 s")
        self.assertEqual(status, 0, f"SIGTERM with queries in flight must exit 0:\n{self.h.output()}")
        self.assertLess(secs, 3.0, f"exit took {secs:.1f}s")


class Unreachable(hedgetest.E2ECase):
    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.add("back.down.test.", "A", "192.0.2.61")
        cls.f2 = cls.fake()
        cls.f2.add("second.down.test.", "A", "192.0.2.62")
        cls.f2.add("refused.down.test.", "A", "192.0.2.63")
        cls.dead = cls.fake()          # blackholed for good
        cls.dead.blackhole = True
        dead_port = util.free_port()   # nothing listens here: ICMP port unreachable
        b = cls.bundle()
        cls.h = cls.serve([cls.f.server], b, timeout_ms=300)
        cls.h2 = cls.serve([cls.dead.server, cls.f2.server], b, timeout_ms=300)
        cls.h3 = cls.serve([f"127.0.0.1:{dead_port}", cls.f2.server], b, timeout_ms=300)
        cls.h4 = cls.serve([f"127.0.0.1:{dead_port}"], b, timeout_ms=300)

    def _servfail_ede22(self, h, name):
        t0 = time.monotonic()
        r = client.ask(h.addr, name, "A", timeout=8)
        took = time.monotonic() - t0
        self.assertRcode(r, "SERVFAIL", "all upstreams unreachable")
        codes = [c for c, _ in client.ede(r)]
        self.assertIn(22, codes, f"SERVFAIL must carry EDE 22 (No Reachable Authority):\n{client.describe(r)}")
        return took

    def test_all_down_then_recover(self):
        self.f.blackhole = True
        try:
            self._servfail_ede22(self.h, "back.down.test")
        finally:
            self.f.blackhole = False
        deadline = time.monotonic() + 15
        last = None
        while time.monotonic() < deadline:
            try:
                last = client.ask(self.h.addr, "back.down.test", "A", timeout=2)
                if client.rrs(last, "A") == ["192.0.2.61"]:
                    return
            except client.NoReply as e:
                last = e
            time.sleep(0.5)
        self.fail(f"upstream back for 15 s but answers did not recover; last reply:\n"
                  f"{client.describe(last) if not isinstance(last, Exception) else last}{self.ctx(self.h)}")

    def test_port_unreachable_servfail(self):
        self._servfail_ede22(self.h4, "nobody.down.test")

    def test_first_blackholed_second_answers(self):
        t0 = time.monotonic()
        r = client.ask(self.h2.addr, "second.down.test", "A", timeout=5)
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.62"],
                         f"first upstream silent: expected the answer from the second:\n{client.describe(r)}")
        self.assertLess(time.monotonic() - t0, 3.0, "fallback to the second upstream took over 3 s")

    def test_first_refused_second_answers(self):
        r = client.ask(self.h3.addr, "refused.down.test", "A", timeout=5)
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.63"],
                         f"first upstream port unreachable: expected the second's answer:\n{client.describe(r)}")


if __name__ == "__main__":
    hedgetest.main()
