"""Client side: queries with dnspython over raw sockets, dig/kdig wrappers, EDE helpers.

Raw sockets are used on purpose (not dns.query.udp) so that a reply that does not
match the query is still seen by the test instead of being silently dropped.
"""
import random
import re
import select
import socket
import struct
import subprocess
import time

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype


class NoReply(Exception):
    pass


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def make_query(name, rdtype="A", payload=1232, edns=True, do=False, rd=True, qid=None,
               edns_version=0, options=None):
    """A query; edns=False for a plain RFC 1035 query without OPT."""
    q = dns.message.make_query(name, rdtype, use_edns=False)
    q.id = random.randint(0, 0xFFFF) if qid is None else qid
    q.flags = dns.flags.RD if rd else 0
    if edns:
        q.use_edns(edns_version, dns.flags.DO if do else 0, payload, options=options or [])
    return q


def udp_raw(wire, addr, timeout=2.0, source=None, expect=1):
    """Send bytes over UDP, return a list of up to `expect` datagrams received before timeout."""
    host, port = addr
    s = socket.socket(_family(host), socket.SOCK_DGRAM)
    try:
        if source:
            s.bind((source, 0))
        s.sendto(wire, (host, port))
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < expect:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                break
            data, _ = s.recvfrom(65535)
            out.append(data)
        return out
    finally:
        s.close()


def _recv_exact(s, n, deadline):
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoReply(f"TCP: timed out with {len(buf)}/{n} bytes")
        s.settimeout(left)
        try:
            chunk = s.recv(n - len(buf))
        except socket.timeout:
            raise NoReply(f"TCP: timed out with {len(buf)}/{n} bytes")
        if not chunk:
            raise NoReply(f"TCP: connection closed with {len(buf)}/{n} bytes")
        buf += chunk
    return buf


def tcp_connect(addr, timeout=2.0, source=None):
    host, port = addr
    s = socket.socket(_family(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((host, port))
    return s


def tcp_read_msg(s, timeout=2.0):
    deadline = time.monotonic() + timeout
    (n,) = struct.unpack("!H", _recv_exact(s, 2, deadline))
    return _recv_exact(s, n, deadline)


def tcp_raw(wires, addr, timeout=2.0, source=None, expect=None, framed=False):
    """Send each wire message (framed with a 2-byte length unless framed=True) on one
    connection, all before reading; read `expect` (default len(wires)) replies."""
    if isinstance(wires, (bytes, bytearray)):
        wires = [wires]
    s = tcp_connect(addr, timeout, source)
    try:
        payload = b"".join(w if framed else struct.pack("!H", len(w)) + w for w in wires)
        s.sendall(payload)
        n = len(wires) if expect is None else expect
        return [tcp_read_msg(s, timeout) for _ in range(n)]
    finally:
        s.close()


def parse(wire):
    return dns.message.from_wire(wire, ignore_trailing=True)


def query(q, addr, tcp=False, timeout=2.0, source=None):
    """Send a dns.message query; return the parsed reply (checks the id), raise NoReply."""
    wire = q.to_wire()
    if tcp:
        replies = tcp_raw([wire], addr, timeout, source)
    else:
        replies = udp_raw(wire, addr, timeout, source)
    if not replies:
        raise NoReply(f"no reply over {'TCP' if tcp else 'UDP'} from {addr} to "
                      f"{q.question[0] if q.question else q}")
    r = parse(replies[0])
    if r.id != q.id:
        raise AssertionError(f"reply id {r.id} != query id {q.id}")
    return r


def ask(addr, name, rdtype="A", tcp=False, timeout=2.0, **kw):
    """make_query + query; returns (reply, wire_size)."""
    return query(make_query(name, rdtype, **kw), addr, tcp=tcp, timeout=timeout)


def ask_size(addr, name, rdtype="A", tcp=False, timeout=2.0, **kw):
    q = make_query(name, rdtype, **kw)
    wire = q.to_wire()
    replies = tcp_raw([wire], addr, timeout) if tcp else udp_raw(wire, addr, timeout)
    if not replies:
        raise NoReply(f"no reply to {name} {rdtype}")
    return parse(replies[0]), len(replies[0])


def ede(msg):
    """[(info_code, extra_text)] of every EDE option in the reply's OPT."""
    out = []
    for opt in (msg.options or []):
        if opt.otype == dns.edns.EDE:
            out.append((int(opt.code), opt.text or ""))
    return out


def rrs(msg, rdtype, section="answer"):
    """Text of every rdata of the given type in the section."""
    t = dns.rdatatype.from_text(rdtype) if isinstance(rdtype, str) else rdtype
    out = []
    for rrset in getattr(msg, section):
        if rrset.rdtype == t:
            out.extend(rd.to_text() for rd in rrset)
    return sorted(out)


def rr_ttls(msg, rdtype, section="answer"):
    t = dns.rdatatype.from_text(rdtype)
    return [rrset.ttl for rrset in getattr(msg, section) if rrset.rdtype == t]


def describe(msg):
    """One paragraph describing a reply, for failure messages."""
    if msg is None:
        return "<no reply>"
    return (f"rcode={dns.rcode.to_text(msg.rcode())} flags={dns.flags.to_text(msg.flags)} "
            f"edns={msg.edns} ede={ede(msg)}\n{msg.to_text()}")


def question_name_as_sent(wire):
    """The question name exactly as it appears on the wire (case preserved), as text."""
    r = parse(wire)
    return r.question[0].name.to_text() if r.question else None


# ---------------------------------------------------------------- dig / kdig

_STATUS_RE = re.compile(r"status: ([A-Z]+)")
_FLAGS_RE = re.compile(r";; [Ff]lags: ([a-z ]*)")


def _parse_tool_output(text):
    res = {"status": None, "flags": [], "answer": [], "ede": [], "raw": text}
    m = _STATUS_RE.search(text)
    if m:
        res["status"] = m.group(1)
    m = _FLAGS_RE.search(text)
    if m:
        res["flags"] = m.group(1).split()
    for m in re.finditer(r"EDE: (\d+)", text):
        res["ede"].append(int(m.group(1)))
    section = None
    for line in text.splitlines():
        s = line.strip()
        if re.match(r";; ANSWER SECTION:|;; Answer section:", s, re.I):
            section = "answer"
            continue
        if s.startswith(";;") and section:
            section = None
            continue
        if section == "answer" and s and not s.startswith(";"):
            res["answer"].append(s.split())
        elif section == "answer" and not s:
            section = None
    return res


def dig(addr, name, rdtype="A", *extra, tcp=False, timeout=5):
    host, port = addr
    cmd = ["dig", f"@{host}", "-p", str(port), name, rdtype, "+time=2", "+tries=1"]
    if tcp:
        cmd.append("+tcp")
    cmd.extend(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return _parse_tool_output(p.stdout)


def kdig(addr, name, rdtype="A", *extra, tcp=False, timeout=5):
    host, port = addr
    cmd = ["kdig", f"@{host}", "-p", str(port), name, rdtype, "+time=2", "+retry=0", "+edns"]
    if tcp:
        cmd.append("+tcp")
    cmd.extend(extra)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return _parse_tool_output(p.stdout)


def soa(msg, section="authority"):
    """(rrset ttl, SOA rdata) of the first SOA in the section, or None."""
    for rrset in getattr(msg, section):
        if rrset.rdtype == dns.rdatatype.SOA:
            return rrset.ttl, list(rrset)[0]
    return None
