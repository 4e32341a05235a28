"""Reference mode (HEDGE_E2E_REFERENCE=unbound): run the suites against Unbound configured
as a plain forwarder in place of `hedge serve`, to check the tests themselves on the parts
that do not depend on Hedge's filtering (forwarding, cache, TCP, EDNS, strictness, ACL).
Tests of blocking, EDE, config and reload are expected to fail in this mode."""
import os
import shutil
import subprocess

from . import client, hedge, util

REFERENCE = os.environ.get("HEDGE_E2E_REFERENCE", "")


class Unbound(hedge.Hedge):
    def start(self, timeout=15.0):
        ub = shutil.which("unbound") or "/usr/sbin/unbound"
        lines = ["server:", f"  port: {self.port}", '  username: ""', '  chroot: ""',
                 f'  directory: "{self.dir}"', f'  pidfile: "{self.dir}/unbound.pid"',
                 "  use-syslog: no", "  do-daemonize: no", "  verbosity: 1", "  num-threads: 1",
                 '  module-config: "iterator"', "  do-not-query-localhost: no",
                 "  qname-minimisation: no", "  edns-buffer-size: 1232", "  do-ip6: yes",
                 '  local-zone: "test." nodefault', '  local-zone: "invalid." nodefault',
                 "  unwanted-reply-threshold: 0", "  outgoing-range: 64",
                 "  infra-cache-min-rtt: 1500", "  infra-keep-probing: yes", "  incoming-num-tcp: 100"]
        for h in self.listen_hosts:
            lines.append(f"  interface: {h}@{self.port}")
        for a in ("0.0.0.0/0", "::/0", "127.0.0.0/8", "::1"):   # override Unbound's defaults
            lines.append(f"  access-control: {a} refuse")
        for a in self.sections["server"]["allow_clients"]:
            lines.append(f"  access-control: {a} allow")
        lines += ["forward-zone:", '  name: "."']
        for s in self.sections["upstream"]["servers"]:
            host, port = s.rsplit(":", 1)
            lines.append(f"  forward-addr: {host.strip('[]')}@{port}")
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        errf = open(self.stderr_path, "w")
        self.proc = util.register_child(subprocess.Popen(
            [ub, "-d", "-c", self.config_path], stdout=errf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=self.dir))
        errf.close()
        self.wait_ready(timeout)
        return self
