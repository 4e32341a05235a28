"""A scripted fake upstream DNS server (UDP + TCP on one port), in-process, dnspython.

Zone data: fake.add("name.", "A", "192.0.2.1", ttl=300) ...; names are matched
case-insensitively and the question is echoed exactly as received (so a resolver
that randomises case, 0x20, is answered correctly).
Unknown names: NXDOMAIN with the SOA of `fake.soa_zone` (minimum `fake.neg_ttl`);
a known name without the asked type: NODATA with the same SOA.
If `fake.wildcard_a` is set, unknown names get that A (and NODATA for other types).

Scripts (per lower-case name, per transport) decide what happens to each query:
    fake.script("x.test.", [Step("wrong_id"), Step("good", delay=0.05)])
A script is a list of steps run for every query; `fake.script_nth(name, [[...], [...]])`
gives the k-th query its own list (the last list repeats). Step kinds:
    good            the correct answer
    poison          correct id and question, but answer A = POISON_A
    wrong_id        the good answer with another id (and the poisoned address)
    wrong_question  correct id, question name changed, answer poisoned
    wrong_port      poisoned answer from another source port on the same address
    wrong_addr      poisoned answer from 127.0.0.2, same port as the fake
    tc              TC=1 with an empty answer section (UDP); TCP is never truncated
    servfail        rcode SERVFAIL
    refused         rcode REFUSED
    raw             the bytes given in Step(data=...) with the query id patched in
    formerr_edns    FORMERR (no OPT) to a query with EDNS, the good answer to one without
    formerr_edns_bare  the same, but the FORMERR is a bare header (no question)
An empty step list = drop. `fake.blackhole = True` drops every query (UDP and TCP).
`fake.loss = 0.2` drops that share of UDP queries at random (seeded: `fake.loss_seed`),
like a rate-limiting or congested upstream; dropped ones are recorded as "udp-lost".
"""
import dataclasses
import random
import select
import socket
import struct
import threading
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from . import util

POISON_A = "192.0.2.66"


@dataclasses.dataclass
class Step:
    kind: str = "good"
    delay: float = 0.0
    data: bytes = b""


@dataclasses.dataclass
class Seen:
    transport: str
    name: str        # as received, case preserved
    rdtype: str
    id: int
    src: tuple
    edns: int
    do: bool
    payload: int
    time: float


class FakeUpstream:
    def __init__(self, host="127.0.0.1", port=None, soa_zone="test.", neg_ttl=30, soa_ttl=3600):
        self.host = host
        self.port = port or util.free_port((host,))
        self.records = {}       # (name_lower, rdtype) -> (ttl, [rdata text])
        self.scripts = {}       # (name_lower, transport) -> [[Step]]
        self.seen = []
        self.lock = threading.Lock()
        self.blackhole = False
        self.wildcard_a = None
        self.soa_zone = soa_zone
        self.neg_ttl = neg_ttl
        self.soa_ttl = soa_ttl
        self.udp_delay = 0.0
        self.loss = 0.0
        self.loss_seed = 7
        self._rng = None
        self.ede = None          # (code, text): added to good answers (harness self-test)
        self._stop = threading.Event()
        self._threads = []
        self._socks = []

    # ------------------------------------------------------------ data
    @property
    def addr(self):
        return (self.host, self.port)

    @property
    def server(self):
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def add(self, name, rdtype, *rdatas, ttl=300):
        key = (name.lower().rstrip(".") + ".", rdtype.upper())
        with self.lock:
            old = self.records.get(key, (ttl, []))[1]
            self.records[key] = (ttl, old + list(rdatas))

    def script(self, name, steps, transport="udp"):
        self.script_nth(name, [steps], transport)

    def script_nth(self, name, lists, transport="udp"):
        with self.lock:
            self.scripts[(name.lower().rstrip(".") + ".", transport)] = lists

    def count(self, name=None, rdtype=None, transport=None):
        """How many queries were received (optionally for a name/type/transport)."""
        n = name.lower().rstrip(".") + "." if name else None
        with self.lock:
            return sum(1 for s in self.seen
                       if (n is None or s.name.lower() == n)
                       and (rdtype is None or s.rdtype == rdtype.upper())
                       and (transport is None or s.transport == transport))

    def queries(self, name=None):
        n = name.lower().rstrip(".") + "." if name else None
        with self.lock:
            return [s for s in self.seen if n is None or s.name.lower() == n]

    def reset(self):
        with self.lock:
            self.seen.clear()

    # ------------------------------------------------------------ answers
    def _soa(self, qname_text):
        zone = dns.name.from_text(self.soa_zone)
        return dns.rrset.from_text(zone, self.soa_ttl, "IN", "SOA",
                                   f"ns.{self.soa_zone} hostmaster.{self.soa_zone} 1 3600 600 86400 {self.neg_ttl}")

    def build(self, q, kind="good"):
        r = dns.message.make_response(q, recursion_available=True)
        if q.edns >= 0:
            r.use_edns(0, q.ednsflags & dns.flags.DO, 4096)
        if not q.question:
            r.set_rcode(dns.rcode.FORMERR)
            return r
        qq = q.question[0]
        lname = qq.name.to_text().lower()
        rdtype = dns.rdatatype.to_text(qq.rdtype)
        if kind in ("formerr_edns", "formerr_edns_bare") and q.edns >= 0:
            r = dns.message.make_response(q, recursion_available=True)
            r.use_edns(False)
            r.set_rcode(dns.rcode.FORMERR)
            if kind == "formerr_edns_bare":
                r.question = []
            return r
        if kind in ("servfail", "refused"):
            r.set_rcode(dns.rcode.SERVFAIL if kind == "servfail" else dns.rcode.REFUSED)
            return r
        if kind in ("poison", "wrong_id", "wrong_question", "wrong_port", "wrong_addr"):
            r.answer.append(dns.rrset.from_text(qq.name, 300, "IN", "A", POISON_A))
            if kind == "wrong_id":
                r.id = (q.id + 1) & 0xFFFF
            if kind == "wrong_question":
                r.question = [dns.rrset.RRset(dns.name.from_text("poison.other.test."),
                                              qq.rdclass, qq.rdtype)]
            return r
        self._answer(r, qq.name, lname, rdtype, depth=0)
        if self.ede and q.edns >= 0:
            r.use_edns(0, q.ednsflags & dns.flags.DO, 4096,
                       options=[dns.edns.EDEOption(self.ede[0], self.ede[1])])
        return r

    def _answer(self, r, qname, lname, rdtype, depth):
        with self.lock:
            recs = self.records.get((lname, rdtype))
            cname = self.records.get((lname, "CNAME"))
            known = any(k[0] == lname for k in self.records)
        if recs:
            ttl, rds = recs
            r.answer.append(dns.rrset.from_text_list(qname, ttl, "IN", rdtype, rds))
            return
        if cname and depth < 8:
            ttl, rds = cname
            r.answer.append(dns.rrset.from_text_list(qname, ttl, "IN", "CNAME", rds))
            target = dns.name.from_text(rds[0])
            self._answer(r, target, target.to_text().lower(), rdtype, depth + 1)
            return
        if self.wildcard_a and not known and depth == 0:
            if rdtype == "A":
                r.answer.append(dns.rrset.from_text(qname, 300, "IN", "A", self.wildcard_a))
            else:
                r.authority.append(self._soa(lname))
            return
        if not known and depth == 0:
            r.set_rcode(dns.rcode.NXDOMAIN)
        if depth == 0 or not known:
            r.authority.append(self._soa(lname))

    # ------------------------------------------------------------ server
    def start(self):
        fam = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self.udp = socket.socket(fam, socket.SOCK_DGRAM)
        self.udp.bind((self.host, self.port))
        self.tcp = socket.socket(fam, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind((self.host, self.port))
        self.tcp.listen(64)
        self.alt = socket.socket(fam, socket.SOCK_DGRAM)     # wrong source port
        self.alt.bind((self.host, 0))
        self.alt_addr = None                                  # wrong source address
        if fam == socket.AF_INET:
            try:
                self.alt_addr = socket.socket(fam, socket.SOCK_DGRAM)
                self.alt_addr.bind(("127.0.0.2", self.port))
            except OSError:
                self.alt_addr = None
        self._socks = [self.udp, self.tcp, self.alt] + ([self.alt_addr] if self.alt_addr else [])
        for target in (self._udp_loop, self._tcp_loop):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        util.register_cleanup(self.stop)
        return self

    def stop(self):
        self._stop.set()
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=2)
        self._threads = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    def _record(self, transport, q, src):
        qq = q.question[0] if q.question else None
        s = Seen(transport, qq.name.to_text() if qq is not None else "", dns.rdatatype.to_text(qq.rdtype) if qq is not None else "",
                 q.id, src, q.edns, bool(q.ednsflags & dns.flags.DO) if q.edns >= 0 else False,
                 q.payload if q.edns >= 0 else 0, time.monotonic())
        with self.lock:
            self.seen.append(s)
            n = sum(1 for x in self.seen if x.transport == transport and x.name.lower() == s.name.lower())
        return s, n

    def _steps_for(self, name, transport, nth):
        with self.lock:
            lists = self.scripts.get((name.lower(), transport))
        if lists is None:
            return [Step("good", self.udp_delay if transport == "udp" else 0.0)]
        return lists[min(nth - 1, len(lists) - 1)]

    def _wire(self, q, step):
        if step.kind == "raw":
            data = bytearray(step.data)
            if len(data) >= 2:
                data[0:2] = struct.pack("!H", q.id)
            return bytes(data)
        r = self.build(q, step.kind)
        if step.kind == "tc":
            r = dns.message.make_response(q, recursion_available=True)
            if q.edns >= 0:
                r.use_edns(0, 0, 4096)
            r.flags |= dns.flags.TC
        return r.to_wire()

    def _udp_loop(self):
        while not self._stop.is_set():
            try:
                rl, _, _ = select.select([self.udp], [], [], 0.2)
                if not rl:
                    continue
                data, src = self.udp.recvfrom(65535)
            except (OSError, ValueError):
                return
            try:
                q = dns.message.from_wire(data)
            except Exception:
                continue
            if self.blackhole:
                self._record("udp-dropped", q, src)
                continue
            if self.loss:
                if self._rng is None:
                    self._rng = random.Random(self.loss_seed)
                if self._rng.random() < self.loss:
                    self._record("udp-lost", q, src)
                    continue
            _, nth = self._record("udp", q, src)
            name = q.question[0].name.to_text() if q.question else ""
            for step in self._steps_for(name, "udp", nth):
                self._later(step.delay, self._send_udp, q, step, src)

    def _later(self, delay, fn, *args):
        if delay <= 0:
            fn(*args)
        else:
            t = threading.Timer(delay, fn, args)
            t.daemon = True
            t.start()

    def _send_udp(self, q, step, src):
        try:
            wire = self._wire(q, step)
            sock = self.udp
            if step.kind == "wrong_port":
                sock = self.alt
            elif step.kind == "wrong_addr":
                sock = self.alt_addr or self.alt
            sock.sendto(wire, src)
        except OSError:
            pass

    def _tcp_loop(self):
        while not self._stop.is_set():
            try:
                rl, _, _ = select.select([self.tcp], [], [], 0.2)
                if not rl:
                    continue
                conn, src = self.tcp.accept()
            except (OSError, ValueError):
                return
            if self.blackhole:
                conn.close()
                continue
            t = threading.Thread(target=self._tcp_conn, args=(conn, src), daemon=True)
            t.start()

    def _tcp_conn(self, conn, src):
        conn.settimeout(5)
        try:
            while not self._stop.is_set():
                hdr = b""
                while len(hdr) < 2:
                    c = conn.recv(2 - len(hdr))
                    if not c:
                        return
                    hdr += c
                (n,) = struct.unpack("!H", hdr)
                data = b""
                while len(data) < n:
                    c = conn.recv(n - len(data))
                    if not c:
                        return
                    data += c
                try:
                    q = dns.message.from_wire(data)
                except Exception:
                    return
                _, nth = self._record("tcp", q, src)
                name = q.question[0].name.to_text() if q.question else ""
                for step in self._steps_for(name, "tcp", nth):
                    if step.delay:
                        time.sleep(step.delay)
                    if step.kind == "tc":
                        step = Step("good")
                    wire = self._wire(q, step)
                    conn.sendall(struct.pack("!H", len(wire)) + wire)
        except OSError:
            return
        finally:
            conn.close()
