#!/usr/bin/python3
"""Access control (allow_clients): clients outside the list get REFUSED over UDP and TCP
and their queries never reach the upstream; clients inside get answers. Two set-ups:
loopback (client bound to 127.0.0.2, allow list 127.0.0.1/32) and a network namespace
whose client has 198.51.100.2 and 2001:db8:5::2 (refused) and 198.51.100.3 (allowed by
an extra 198.51.100.3/32 entry). 192.0.2.0/24 is not used for routing: the host's own
eth0 may sit in it."""
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client, util  # noqa: E402
from hedgetest.netns import ClientNetns  # noqa: E402

import dns.rcode  # noqa: E402

SPEC_ALLOW = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]


class LoopbackAcl(hedgetest.E2ECase):
    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.add("acl.test.", "A", "192.0.2.90")
        cls.h = cls.serve([cls.f.server], cls.bundle(), allow=("127.0.0.1/32",))

    def test_allowed_client(self):
        for tcp in (False, True):
            r = client.query(client.make_query("acl.test", "A"), self.h.addr, tcp=tcp, source="127.0.0.1")
            self.assertEqual(client.rrs(r, "A"), ["192.0.2.90"], client.describe(r))

    def test_refused_client(self):
        self.f.reset()
        r = client.query(client.make_query("refused-acl.test", "A"), self.h.addr, source="127.0.0.2")
        self.assertEqual(r.rcode(), dns.rcode.REFUSED,
                         f"client 127.0.0.2 is outside allow_clients [127.0.0.1/32]\n{client.describe(r)}")
        self.assertEqual(r.answer, [], "REFUSED must carry no answer")
        # TCP: closed at accept, before it can hold a connection slot (docs/decisions/0022).
        with self.assertRaises((client.NoReply, OSError)):
            client.query(client.make_query("refused-acl.test", "A"), self.h.addr, tcp=True, source="127.0.0.2")
        self.assertEqual(self.f.count("refused-acl.test"), 0, "a refused query reached the upstream")

    def test_refused_client_blocked_name(self):
        r = client.query(client.make_query("www.example.com", "A"), self.h.addr, source="127.0.0.2")
        self.assertEqual(r.rcode(), dns.rcode.REFUSED, "ACL comes before blocking\n" + client.describe(r))


class RateLimit(hedgetest.E2ECase):
    """[server] rate_limit_qps (with rate_limit_burst, Hedge's companion key): one client
    over its rate is limited, another client is not, and the first recovers."""

    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.add("rl.test.", "A", "192.0.2.92")
        cls.h = cls.serve([cls.f.server], cls.bundle(), rate_limit_qps=20,
                          extra={"server": {"rate_limit_burst": 20}})

    def test_rate_limited_client(self):
        import select
        import socket as so
        import time
        client.ask(self.h.addr, "rl.test", "A")   # cache it (from 127.0.0.1)
        s = so.socket(so.AF_INET, so.SOCK_DGRAM)
        s.bind(("127.0.0.2", 0))
        t0 = time.monotonic()
        for i in range(200):
            s.sendto(client.make_query("rl.test", "A", qid=i).to_wire(), self.h.addr)
        sent_in = time.monotonic() - t0
        got = 0
        while True:
            rl, _, _ = select.select([s], [], [], 0.5)
            if not rl:
                break
            s.recv(4096)
            got += 1
        s.close()
        limit = 20 + 20 * (sent_in + 0.5) + 5
        self.assertGreaterEqual(got, 10, f"the burst allowance must be answered, got {got}")
        self.assertLessEqual(got, limit, f"200 queries in {sent_in:.2f}s at 20 qps/burst 20: {got} answered "
                             f"(expected <= {limit:.0f})")
        r = client.query(client.make_query("rl.test", "A"), self.h.addr, source="127.0.0.3")
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.92"], "another client must not be limited")
        time.sleep(1.5)
        r = client.query(client.make_query("rl.test", "A"), self.h.addr, source="127.0.0.2", timeout=2)
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.92"], "the limited client must recover")


class NetnsAcl(hedgetest.E2ECase):
    @classmethod
    def setup_peers(cls):
        cls.ns = ClientNetns(["198.51.100.1/24", "2001:db8:5::1/64"],
                             ["198.51.100.2/24", "198.51.100.3/24", "2001:db8:5::2/64"])
        cls.stack.enter_context(cls.ns)
        cls.f = cls.fake()
        cls.f.add("ns-acl.test.", "A", "192.0.2.91")
        port = util.free_port(("198.51.100.1", "2001:db8:5::1", "127.0.0.1"))
        cls.h = cls.serve([cls.f.server], cls.bundle(), port=port,
                          listen_hosts=("127.0.0.1", "198.51.100.1", "2001:db8:5::1"),
                          allow=SPEC_ALLOW + ["198.51.100.3/32"])

    def dig_from_ns(self, server, source, tcp=False, name="ns-acl.test"):
        p = self.ns.run(["dig", f"@{server}", "-p", str(self.h.port), "-b", source, name, "A",
                         "+time=2", "+tries=1"] + (["+tcp"] if tcp else []))
        return client._parse_tool_output(p.stdout)

    def test_refused_from_documentation_addresses(self):
        for server, source in (("198.51.100.1", "198.51.100.2"), ("2001:db8:5::1", "2001:db8:5::2")):
            for tcp in (False, True):
                with self.subTest(source=source, tcp=tcp):
                    d = self.dig_from_ns(server, source, tcp, name="ns-refused.test")
                    if tcp:   # closed at accept (docs/decisions/0022): no answer at all
                        self.assertIsNone(d["status"], f"TCP from {source}, outside allow_clients:\n{d['raw']}")
                        continue
                    self.assertEqual(d["status"], "REFUSED", f"client {source} is outside allow_clients:\n{d['raw']}"
                                     f"{self.ctx(self.h)}")
                    self.assertEqual(d["answer"], [])
        self.assertEqual(self.f.count("ns-refused.test"), 0, "a refused query reached the upstream")

    def test_allowed_from_namespace(self):
        for tcp in (False, True):
            with self.subTest(tcp=tcp):
                d = self.dig_from_ns("198.51.100.1", "198.51.100.3", tcp)
                self.assertEqual(d["status"], "NOERROR", d["raw"])
                self.assertEqual([x[-1] for x in d["answer"]], ["192.0.2.91"], d["raw"])


if __name__ == "__main__":
    hedgetest.main()
