"""Per-client rate limits for IPv6 (issue 7): a school LAN is one /64, so every device must
have its own bucket (keyed by the full address), while one flooding device is still held to
its rate; the optional aggregate per /64 (`rate_limit_prefix_qps`, off by default) limits
the /64 as a whole. 200 IPv6 clients (2001:db8:64::100-1c7) in a client namespace.
Needs root (network namespaces); run under `flock /tmp/hedge-netns.lock`.
"""
import json
import os
import time
import unittest

import hedgetest
from hedgetest import hedge, util
from hedgetest.netns import ClientNetns

HOST = "2001:db8:64::1"
CLIENTS = [f"2001:db8:64::{0x100 + i:x}" for i in range(200)]
NSQUERY = os.path.join(os.path.dirname(os.path.abspath(hedgetest.__file__)), "nsquery.py")
NAME = hedge.READY_NAME   # blocked by the standard lists: answered without upstream


class RateLimitIpv6(hedgetest.E2ECase):
    needs = ("serve", "compile")

    @classmethod
    def setup_peers(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root for network namespaces")
        cls.ns = ClientNetns([f"{HOST}/64"], [f"{a}/64" for a in CLIENTS])
        cls.stack.enter_context(cls.ns)
        cls.f = cls.fake()
        b = cls.bundle()
        allow = ("127.0.0.0/8", "::1/128", "2001:db8:64::/64")
        # 2 queries a second, bursts of 4, per client.
        cls.h = cls.serve([cls.f.server], b, listen_hosts=("127.0.0.1", HOST), allow=allow,
                          rate_limit_qps=2, extra={"server": {"rate_limit_burst": 4}})
        # The same, plus an aggregate of 20 qps (burst 40) for the whole /64.
        cls.hp = cls.serve([cls.f.server], b, listen_hosts=("127.0.0.1", HOST), allow=allow,
                           rate_limit_qps=2, extra={"server": {"rate_limit_burst": 4, "rate_limit_prefix_qps": 20,
                                                               "rate_limit_prefix_burst": 40}})

    def burst(self, h, srcs, count):
        spec = {"jobs": [{"srcs": srcs, "dst": HOST, "port": h.port, "name": NAME, "count": count,
                          "timeout": 1.5}]}
        p = self.ns.run(["/usr/bin/python3", NSQUERY, json.dumps(spec)], timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)[0]["per_src"]

    def test_each_device_in_the_64_has_its_own_bucket(self):
        per = self.burst(self.h, CLIENTS, 4)   # each client sends its burst
        short = {s: n for s, n in per.items() if n < 4}
        self.assertEqual(short, {}, f"{len(short)} of {len(CLIENTS)} IPv6 clients in one /64 were limited "
                         f"although each sent only its burst (4){self.ctx(self.h)}")

    def test_one_flooding_device_is_still_limited(self):
        time.sleep(2.5)   # its bucket (maybe spent by another test) is full again
        per = self.burst(self.h, [CLIENTS[7]], 40)
        self.assertLessEqual(per[CLIENTS[7]], 5, f"40 queries at once from one address: {per}")
        self.assertGreaterEqual(per[CLIENTS[7]], 4, f"40 queries at once from one address: {per}")

    def test_prefix_aggregate_when_configured(self):
        per = self.burst(self.hp, CLIENTS[100:200], 1)
        total = sum(per.values())
        self.assertLessEqual(total, 45, f"/64 aggregate (burst 40): {total} of 100 answered")
        self.assertGreaterEqual(total, 35, f"/64 aggregate (burst 40): {total} of 100 answered")


if __name__ == "__main__":
    hedgetest.main()
