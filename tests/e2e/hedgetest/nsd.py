"""nsd on loopback with the test zone(s) from tests/e2e/zones/, on a free port."""
import os
import shutil
import subprocess

from . import client, util

ZONES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "zones")

NSD = shutil.which("nsd") or "/usr/sbin/nsd"
NSD_CHECKCONF = shutil.which("nsd-checkconf") or "/usr/sbin/nsd-checkconf"


class Nsd:
    """nsd -d serving the zones in tests/e2e/zones/ (zone name = file name minus .zone)."""

    def __init__(self, host="127.0.0.1", port=None, zones=None):
        self.host = host
        self.port = port or util.free_port((host,))
        self.dir = util.make_tmpdir("hedge-e2e-nsd-")
        self.proc = None
        self.zones = zones or sorted(f[:-5] for f in os.listdir(ZONES_DIR) if f.endswith(".zone"))

    @property
    def addr(self):
        return (self.host, self.port)

    @property
    def server(self):
        """host:port as a Hedge upstream string."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def _write_conf(self):
        zdir = os.path.join(self.dir, "zones")
        shutil.copytree(ZONES_DIR, zdir)
        conf = os.path.join(self.dir, "nsd.conf")
        lines = [
            "server:",
            f"  ip-address: {self.host}@{self.port}",
            f"  port: {self.port}",
            '  username: ""',
            '  database: ""',
            f"  zonesdir: \"{zdir}\"",
            f"  pidfile: \"{self.dir}/nsd.pid\"",
            f"  xfrdfile: \"{self.dir}/xfrd.state\"",
            f"  xfrdir: \"{self.dir}\"",
            f"  zonelistfile: \"{self.dir}/zone.list\"",
            f"  logfile: \"{self.dir}/nsd.log\"",
            "  server-count: 1",
            "  verbosity: 1",
            "  hide-version: yes",
            "  ip-freebind: no",
            "remote-control:",
            "  control-enable: no",
        ]
        for z in self.zones:
            lines += ["zone:", f"  name: \"{z}\"", f"  zonefile: \"{z}.zone\""]
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        p = subprocess.run([NSD_CHECKCONF, conf], capture_output=True, text=True, timeout=10)
        if p.returncode != 0:
            raise RuntimeError(f"nsd-checkconf rejected {conf}: {p.stdout}{p.stderr}")
        return conf

    def start(self, timeout=10.0):
        conf = self._write_conf()
        self.stderr_path = os.path.join(self.dir, "nsd.stderr")
        errf = open(self.stderr_path, "w")
        self.proc = util.register_child(subprocess.Popen(
            [NSD, "-d", "-c", conf], stdout=errf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=self.dir))
        errf.close()

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"nsd exited with {self.proc.returncode}: "
                                   f"{util.tail(self.stderr_path)}{util.tail(self.dir + '/nsd.log')}")
            r = client.ask(self.addr, self.zones[0], "SOA", timeout=0.3)
            return r.rcode() == 0 and r.answer
        try:
            util.wait_until(ready, timeout, 0.1, f"nsd on {self.addr} to answer")
        except TimeoutError as e:
            self.stop()
            raise RuntimeError(f"{e}\nnsd log:\n{util.tail(self.dir + '/nsd.log')}") from None
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            util.stop_process(self.proc, timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()
