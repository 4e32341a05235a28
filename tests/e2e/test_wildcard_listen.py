"""Wildcard listeners (issue 7): `listen = ["0.0.0.0:P", "[::]:P"]`, as the box will run.

A client namespace reaches the root namespace over a veth whose root side carries two
IPv4 and two IPv6 addresses (documentation ranges). For each address the client asks:
* the reply must come FROM the address it asked (a stub resolver drops anything else);
* `[block] ipv4 = "self"` / `ipv6 = "self"` answer with that same address (the block page
  is reached whichever address a device was given by DHCP/RA);
* a `listen:` group matches the address asked on a wildcard listener;
* over TCP too (the accepted socket's own address).
Needs root (network namespaces); run under `flock /tmp/hedge-netns.lock`.
"""
import json
import os
import subprocess
import unittest

import hedgetest
from hedgetest import client, hedge, util
from hedgetest.netns import ClientNetns

HOST_V4 = ("198.51.100.1", "198.51.100.2")
HOST_V6 = ("2001:db8:53::1", "2001:db8:53::2")
NS_V4, NS_V6 = "198.51.100.10", "2001:db8:53::10"
NSQUERY = os.path.join(os.path.dirname(os.path.abspath(hedgetest.__file__)), "nsquery.py")


class WildcardListen(hedgetest.E2ECase):
    needs = ("serve", "compile")

    @classmethod
    def setup_peers(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root for network namespaces")
        cls.ns = ClientNetns([f"{a}/24" for a in HOST_V4] + [f"{a}/64" for a in HOST_V6],
                             [f"{NS_V4}/24", f"{NS_V6}/64"])
        cls.stack.enter_context(cls.ns)
        cls.f = cls.fake()
        cls.f.wildcard_a = "192.0.2.88"
        b = cls.bundle()
        h = hedge.Hedge([cls.f.server], b, tmpdir=util.make_tmpdir("hedge-e2e-serve-"),
                        listen_hosts=("0.0.0.0", "::"), port=util.free_port(("0.0.0.0",)),
                        allow=("127.0.0.0/8", "::1/128", "198.51.100.0/24", "2001:db8:53::/64"),
                        block_v4="self", block_v6="self")
        # One group for the second IPv4 address (a staff VLAN), nothing blocked there
        # but the illegal tier; everyone else gets the default group (every category).
        text = hedge.toml_text(h.sections) + (
            '[[group]]\nname = "staff"\nclients = ["listen:198.51.100.2", "listen:2001:db8:53::2"]\n'
            'block = []\n')
        h.write_config(text)
        cls.stack.callback(h.stop_and_check)
        h.start(write_config=False)
        cls.servers.append(h)
        cls.h = h

    def ask(self, jobs):
        spec = json.dumps({"jobs": jobs})
        p = self.ns.run(["/usr/bin/python3", NSQUERY, spec], timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def job(self, src, dst, name, rdtype="A", tcp=False):
        return {"src": src, "dst": dst, "port": self.h.port, "name": name, "type": rdtype, "tcp": tcp,
                "timeout": 3.0}

    def test_reply_source_is_the_address_asked(self):
        jobs = [self.job(NS_V4, a, "allowed.wild.test.") for a in HOST_V4]
        jobs += [self.job(NS_V6, a, "allowed.wild.test.") for a in HOST_V6]
        res = self.ask(jobs)
        for j, r in zip(jobs, res):
            self.assertEqual(r["answered"], 1, f"no reply (from the right address) to {j['dst']}: {r}"
                             f"{self.ctx(self.h)}")
            self.assertEqual(r["from"], [j["dst"]], f"asked {j['dst']}, reply came from {r['from']}")
            self.assertEqual(r["answers"], [["192.0.2.88"]])

    def test_block_self_and_listen_groups(self):
        jobs = [self.job(NS_V4, HOST_V4[0], "example.com.", "A"),          # default group: blocked
                self.job(NS_V6, HOST_V6[0], "example.com.", "AAAA"),       # blocked, over IPv6
                self.job(NS_V4, HOST_V4[0], "example.com.", "A", tcp=True),
                self.job(NS_V6, HOST_V6[0], "example.com.", "AAAA", tcp=True),
                self.job(NS_V4, HOST_V4[1], "example.com.", "A"),          # staff: not blocked
                self.job(NS_V4, HOST_V4[1], "example.com.", "A", tcp=True),
                self.job(NS_V4, HOST_V4[1], "abuse-test.example.net.", "A")]  # illegal tier: blocked for all
        r = self.ask(jobs)
        ctx = self.ctx(self.h)
        self.assertEqual(r[0]["answers"], [[HOST_V4[0]]], f"block.ipv4 = \"self\" over UDP: {r[0]}{ctx}")
        self.assertEqual(r[0]["from"], [HOST_V4[0]])
        self.assertEqual(r[1]["answers"], [[HOST_V6[0]]], f"block.ipv6 = \"self\" over UDP: {r[1]}{ctx}")
        self.assertEqual(r[2]["answers"], [[HOST_V4[0]]], f"block.ipv4 = \"self\" over TCP: {r[2]}{ctx}")
        self.assertEqual(r[3]["answers"], [[HOST_V6[0]]], f"block.ipv6 = \"self\" over TCP: {r[3]}{ctx}")
        self.assertEqual(r[4]["answers"], [["192.0.2.88"]], f"listen: group on a wildcard listener: {r[4]}{ctx}")
        self.assertEqual(r[5]["answers"], [["192.0.2.88"]], f"listen: group over TCP: {r[5]}{ctx}")
        self.assertEqual(r[6]["answers"], [[HOST_V4[1]]], f"illegal tier for the staff group: {r[6]}{ctx}")

    def test_self_over_the_other_family_is_nodata(self):
        # An A question asked over IPv6: there is no IPv4 "self" to give, so NODATA.
        r = self.ask([self.job(NS_V6, HOST_V6[0], "example.com.", "A")])[0]
        self.assertEqual(r["rcodes"], ["NOERROR"], r)
        self.assertEqual(r["answers"], [[]], r)


if __name__ == "__main__":
    hedgetest.main()
