"""A client network namespace joined to the root namespace by a veth pair, with
documentation addresses. Always deleted (context exit, and at process exit)."""
import os
import subprocess

from . import util


def _ip(*args, check=True):
    p = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if check and p.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {p.stderr.strip()}")
    return p


class ClientNetns:
    """ns side gets ns_addrs, root side host_addrs (CIDR strings) on veth <tag>h / <tag>n."""

    def __init__(self, host_addrs, ns_addrs):
        tag = f"he{os.getpid() % 100000}"
        self.name = f"hedge-e2e-{os.getpid()}"
        self.host_if, self.ns_if = f"{tag}h", f"{tag}n"
        self.host_addrs, self.ns_addrs = host_addrs, ns_addrs

    def __enter__(self):
        util.register_cleanup(self.delete)
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _ip("link", "set", self.ns_if, "netns", self.name)
            for a in self.host_addrs:
                _ip(*(["-6"] if ":" in a else []), "addr", "add", a, "dev", self.host_if,
                    *(["nodad"] if ":" in a else []))
            _ip("link", "set", self.host_if, "up")
            for a in self.ns_addrs:
                _ip("-n", self.name, *(["-6"] if ":" in a else []), "addr", "add", a, "dev", self.ns_if,
                    *(["nodad"] if ":" in a else []))
            _ip("-n", self.name, "link", "set", self.ns_if, "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
        except Exception:
            self.delete()
            raise
        return self

    def __exit__(self, *a):
        self.delete()
        util.unregister_cleanup(self.delete)

    def delete(self):
        _ip("link", "del", self.host_if, check=False)
        _ip("netns", "del", self.name, check=False)

    def run(self, argv, timeout=15):
        return subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True,
                              text=True, timeout=timeout)
