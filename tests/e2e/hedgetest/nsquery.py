"""Run inside a client network namespace (`ip netns exec NS python3 nsquery.py JSON`):
sends DNS queries from chosen source addresses and reports, for each, the replies and the
address each reply came FROM (a resolver on a wildcard address must answer from the
address it was asked on; a client drops a reply from anywhere else).

JSON: {"jobs": [{"src": "198.51.100.10", "dst": "198.51.100.2", "port": 5300,
                 "name": "x.test.", "type": "A", "count": 1, "tcp": false, "timeout": 2.0}]}
Prints JSON: [{"answered": n, "from": ["198.51.100.2", ...], "rcodes": [...], "answers": [[...]]}]
UDP jobs send `count` queries back to back, then collect replies until `timeout`.
A job with "srcs": [...] instead of "src" does that from every source at once and
reports {"per_src": {src: answered}} (many clients in one go, e.g. rate limits)."""
import json
import select
import socket
import struct
import sys
import time

import dns.message
import dns.rcode
import dns.rdatatype


def run_multi(job):
    fam = socket.AF_INET6 if ":" in job["dst"] else socket.AF_INET
    socks = {}
    for src in job["srcs"]:
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((src, 0))
        socks[s] = src
    per = {src: 0 for src in job["srcs"]}
    for s in socks:
        for _ in range(job.get("count", 1)):
            q = dns.message.make_query(job["name"], job.get("type", "A"), use_edns=True)
            s.sendto(q.to_wire(), (job["dst"], job["port"]))
    want = len(socks) * job.get("count", 1)
    got = 0
    deadline = time.monotonic() + job.get("timeout", 2.0)
    while got < want:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select(list(socks), [], [], left)
        for s in r:
            s.recvfrom(65535)
            per[socks[s]] += 1
            got += 1
    for s in socks:
        s.close()
    return {"per_src": per}


def run(job):
    if "srcs" in job:
        return run_multi(job)
    fam = socket.AF_INET6 if ":" in job["dst"] else socket.AF_INET
    out = {"answered": 0, "from": [], "rcodes": [], "answers": []}
    qs = []
    for _ in range(job.get("count", 1)):
        q = dns.message.make_query(job["name"], job.get("type", "A"), use_edns=True)
        qs.append(q)

    def note(wire, src):
        r = dns.message.from_wire(wire)
        out["answered"] += 1
        out["from"].append(src)
        out["rcodes"].append(dns.rcode.to_text(r.rcode()))
        out["answers"].append([rd.to_text() for rr in r.answer for rd in rr])

    timeout = job.get("timeout", 2.0)
    if job.get("tcp"):
        for q in qs:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(timeout)
            try:
                s.bind((job["src"], 0))
                s.connect((job["dst"], job["port"]))
                w = q.to_wire()
                s.sendall(struct.pack("!H", len(w)) + w)
                hdr = b""
                while len(hdr) < 2:
                    c = s.recv(2 - len(hdr))
                    if not c:
                        raise OSError("closed")
                    hdr += c
                (n,) = struct.unpack("!H", hdr)
                data = b""
                while len(data) < n:
                    c = s.recv(n - len(data))
                    if not c:
                        raise OSError("closed")
                    data += c
                note(data, s.getpeername()[0])
            except OSError:
                pass
            finally:
                s.close()
        return out
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((job["src"], 0))
    for q in qs:
        s.sendto(q.to_wire(), (job["dst"], job["port"]))
    deadline = time.monotonic() + timeout
    while out["answered"] < len(qs):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if not r:
            break
        data, src = s.recvfrom(65535)
        note(data, src[0])
    s.close()
    return out


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    print(json.dumps([run(j) for j in spec["jobs"]]))
