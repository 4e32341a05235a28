#!/usr/bin/python3
"""Strict parsing and robustness: responses (QR=1) are never answered, opcodes other
than QUERY get NOTIMP, QDCOUNT 0 or 2 and a double OPT get FORMERR, and garbage,
truncated packets, hostile TCP clients and the corpus in shared/data/dns-corpus/ do not
crash or wedge the server (it still answers afterwards, over UDP and TCP)."""
import os
import random
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client  # noqa: E402

import dns.opcode  # noqa: E402
import dns.rcode  # noqa: E402

HEALTH = "ok.strict.test"


def hdr(wire):
    """(id, qr, opcode, rcode, qdcount) from the first 12 bytes."""
    i, fl, qd = struct.unpack("!HHH", wire[:6])
    return i, fl >> 15, (fl >> 11) & 0xF, fl & 0xF, qd


def question_bytes(name="ok.strict.test.", qtype=1):
    q = client.make_query(name, "A", edns=False)
    return q.to_wire()[12:]


class Strictness(hedgetest.E2ECase):
    @classmethod
    def setup_peers(cls):
        cls.f = cls.fake()
        cls.f.add(HEALTH + ".", "A", "192.0.2.80")
        cls.h = cls.serve([cls.f.server], cls.bundle())

    def healthy(self, what):
        self.h.assert_alive()
        for tcp in (False, True):
            try:
                r = client.ask(self.h.addr, HEALTH, "A", tcp=tcp, timeout=3)
            except (client.NoReply, OSError) as e:
                self.fail(f"after {what}: no answer over {'TCP' if tcp else 'UDP'} ({e}){self.ctx(self.h)}")
            self.assertEqual(client.rrs(r, "A"), ["192.0.2.80"], f"after {what}: wrong answer")

    def test_qr_set_not_answered(self):
        q = bytearray(client.make_query(HEALTH, "A").to_wire())
        q[2] |= 0x80
        got = client.udp_raw(bytes(q), self.h.addr, timeout=1.0)
        self.assertEqual(got, [], f"a packet with QR=1 must get no reply, got {[hdr(g) for g in got]}")
        try:
            got = client.tcp_raw([bytes(q)], self.h.addr, timeout=1.0)
            self.fail(f"QR=1 over TCP must get no reply, got {[hdr(g) for g in got]}")
        except (client.NoReply, OSError):
            pass
        self.healthy("a QR=1 packet")

    def test_opcodes_notimp(self):
        for op in (dns.opcode.IQUERY, dns.opcode.STATUS, 3, dns.opcode.NOTIFY, dns.opcode.UPDATE, 15):
            for tcp in (False, True):
                with self.subTest(opcode=op, tcp=tcp):
                    w = bytearray(client.make_query(HEALTH, "SOA", edns=False).to_wire())
                    w[2] = (w[2] & 0x87) | (int(op) << 3)
                    got = (client.tcp_raw([bytes(w)], self.h.addr) if tcp
                           else client.udp_raw(bytes(w), self.h.addr))
                    self.assertTrue(got, f"opcode {op}: no reply (expected NOTIMP)")
                    i, qr, opc, rc, _ = hdr(got[0])
                    self.assertEqual((i, qr), struct.unpack("!H", w[:2]) + (1,))
                    self.assertEqual(rc, dns.rcode.NOTIMP, f"opcode {op}: expected NOTIMP (4), got rcode {rc}")
                    self.assertEqual(opc, int(op), "the reply must keep the query's opcode")

    def _formerr(self, wire, what):
        for tcp in (False, True):
            got = client.tcp_raw([wire], self.h.addr) if tcp else client.udp_raw(wire, self.h.addr)
            self.assertTrue(got, f"{what} over {'TCP' if tcp else 'UDP'}: no reply (expected FORMERR)")
            i, qr, _, rc, _ = hdr(got[0])
            self.assertEqual(i, struct.unpack("!H", wire[:2])[0], f"{what}: reply id differs")
            self.assertEqual(qr, 1)
            self.assertEqual(rc, dns.rcode.FORMERR, f"{what}: expected FORMERR (1), got rcode {rc}")

    def test_qdcount_zero_formerr(self):
        self._formerr(struct.pack("!HHHHHH", 0x1234, 0x0100, 0, 0, 0, 0), "QDCOUNT=0")

    def test_qdcount_two_formerr(self):
        qb = question_bytes()
        w = struct.pack("!HHHHHH", 0x2345, 0x0100, 2, 0, 0, 0) + qb + qb
        self._formerr(w, "QDCOUNT=2")

    def test_two_opt_formerr(self):
        opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
        w = struct.pack("!HHHHHH", 0x3456, 0x0100, 1, 0, 0, 2) + question_bytes() + opt + opt
        self._formerr(w, "two OPT records (RFC 6891 §6.1.1)")

    def test_truncated_queries(self):
        full = client.make_query(HEALTH, "A", payload=1232).to_wire()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for n in range(len(full)):
            s.sendto(full[:n], self.h.addr)
        s.close()
        time.sleep(0.2)
        self.healthy(f"{len(full)} truncated copies of a query")

    def test_random_garbage_udp(self):
        rng = random.Random(20261124)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(300):
            n = rng.choice([1, 2, 11, 12, 13, 17, 29, 64, 300, 512, 1500, 4096])
            data = bytearray(rng.getrandbits(8) for _ in range(n))
            if n >= 3 and rng.random() < 0.5:
                data[2] &= 0x7F   # look like a query more often
            s.sendto(bytes(data), self.h.addr)
        s.close()
        time.sleep(0.3)
        self.healthy("300 random UDP packets")

    def test_random_garbage_tcp(self):
        rng = random.Random(7766)
        for i in range(30):
            n = rng.choice([0, 1, 12, 40, 300])
            data = bytes(rng.getrandbits(8) for _ in range(n))
            try:
                c = client.tcp_connect(self.h.addr, timeout=2)
                if i % 3 == 0:
                    c.sendall(struct.pack("!H", n) + data)         # framed garbage
                elif i % 3 == 1:
                    c.sendall(struct.pack("!H", n + 50) + data)    # short frame, then close
                else:
                    c.sendall(data)                                # unframed
                c.close()
            except OSError:
                pass
        self.healthy("30 hostile TCP connections")

    def test_idle_tcp_connections_do_not_block(self):
        idle = []
        try:
            for _ in range(10):
                idle.append(client.tcp_connect(self.h.addr, timeout=2))
            half = client.tcp_connect(self.h.addr, timeout=2)
            half.sendall(b"\x00")          # half a length prefix
            idle.append(half)
            self.healthy("10 idle TCP connections and one stuck mid-prefix")
        finally:
            for c in idle:
                c.close()

    def test_tcp_connection_flood(self):
        # 300 idle connections (more than a small appliance should keep): UDP must keep
        # working meanwhile, and TCP must work again once they are gone.
        conns = []
        try:
            for _ in range(300):
                try:
                    conns.append(client.tcp_connect(self.h.addr, timeout=1))
                except OSError:
                    break
            self.h.assert_alive()
            r = client.ask(self.h.addr, HEALTH, "A", timeout=3)
            self.assertEqual(client.rrs(r, "A"), ["192.0.2.80"], "UDP during a TCP connection flood")
        finally:
            for c in conns:
                c.close()
        deadline = time.monotonic() + 5
        while True:
            try:
                r = client.ask(self.h.addr, HEALTH, "A", tcp=True, timeout=1)
                break
            except (client.NoReply, OSError) as e:
                if time.monotonic() > deadline:
                    self.fail(f"TCP not answered within 5 s after 300 connections closed: {e}{self.ctx(self.h)}")
                time.sleep(0.2)
        self.assertEqual(client.rrs(r, "A"), ["192.0.2.80"])

    def _corpus(self, sub, every):
        d = os.path.join(hedgetest.CORPUS_DIR, sub)
        files = sorted(os.listdir(d))[::every]
        out = []
        for fn in files:
            with open(os.path.join(d, fn), "rb") as fh:
                out.append((fn, fh.read()))
        return out

    def test_corpus_deckard_raw(self):
        pkts = self._corpus("deckard-raw", 8)      # ~39 garbage queries
        self.assertGreater(len(pkts), 30)
        for k, (fn, data) in enumerate(pkts):
            client.udp_raw(data[:65000], self.h.addr, timeout=0.05)
            if k % 10 == 9:
                self.healthy(f"deckard-raw up to {fn} over UDP")
        for fn, data in pkts[:20]:
            try:
                client.tcp_raw([data[:65000]], self.h.addr, timeout=0.2)
            except (client.NoReply, OSError):
                pass
        self.healthy("deckard-raw over TCP")

    def test_corpus_responses_not_answered(self):
        pkts = [(fn, d) for fn, d in self._corpus("c-ares-fuzzinput", 2)
                if len(d) >= 3 and d[2] & 0x80]    # QR=1: must never be answered
        self.assertGreater(len(pkts), 20)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(1.0)
        for _, data in pkts:
            try:
                s.sendto(data[:65000], self.h.addr)
            except OSError:
                pass
        replies = []
        try:
            while len(replies) < 100:
                replies.append(s.recv(65535))
        except socket.timeout:
            pass
        s.close()
        self.assertEqual(len(replies), 0, f"{len(pkts)} QR=1 corpus packets got {len(replies)} replies "
                         f"(ids {[hdr(r)[0] for r in replies][:10]}); responses must be ignored")
        for fn, data in pkts[:15]:
            try:
                client.tcp_raw([data[:65000]], self.h.addr, timeout=0.2)
            except (client.NoReply, OSError):
                pass
        self.healthy(f"{len(pkts)} c-ares corpus responses over UDP and TCP")


if __name__ == "__main__":
    hedgetest.main()
