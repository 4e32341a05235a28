#!/usr/bin/python3
"""The block page and the status endpoint run on their own thread (issue 8,
docs/decisions/0071), so a page flood cannot delay DNS and a stuck DNS loop
does not take the block page with it.

- The process has a thread named hedge-web at nice 10 (on a shared core it
  gets about a tenth of what the DNS loop gets), and so is the store thread
  (hedge-store, docs/decisions/0073); the DNS loop (the main thread) and
  libuv's thread pool stay at nice 0.
- The DNS loop is wedged on purpose: the test replaces its `[debug]
  fake_clock_file` with a FIFO, so the loop's next clock read blocks in open().
  DNS then stops answering (which shows the wedge is real), yet the block page
  still answers with the right decision. With the block page on the DNS loop
  (before the change) that request hangs. Released, DNS answers again and
  /status reflects it."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hedgetest  # noqa: E402
from hedgetest import client  # noqa: E402
import web_support as ws  # noqa: E402

FAKE_NOW = 1764669600  # 2025-12-02 10:00 UTC


def threads(pid):
    """(tid, name, nice) of every thread of pid."""
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as fh:
            name = fh.read().strip()
        with open(f"/proc/{pid}/task/{tid}/stat") as fh:
            stat = fh.read()
        fields = stat[stat.rindex(")") + 2:].split()
        out.append((int(tid), name, int(fields[16])))  # field 19 of proc_pid_stat(5): nice
    return out


class WebThread(hedgetest.E2ECase):
    needs = ("compile", "serve")

    @classmethod
    def setup_peers(cls):
        cls.clock = os.path.join(cls.tmp, "clock")
        with open(cls.clock, "w") as fh:
            fh.write(f"{FAKE_NOW}\n")
        cls.f = cls.fake()
        cls.f.wildcard_a = "198.51.100.7"
        extra, cls.bp, cls.st = ws.web_extra(cls.tmp)
        extra["debug"] = {"fake_clock_file": cls.clock}
        cls.h = cls.serve([cls.f.server], cls.bundle(), extra=extra)

    def test_a_web_thread_below_the_dns_loop(self):
        pid = self.h.proc.pid
        ts = threads(pid)
        web = [t for t in ts if t[1] == "hedge-web"]
        self.assertEqual(len(web), 1, f"threads: {ts}{self.ctx(self.h)}")
        self.assertEqual(web[0][2], 10, f"the web thread's nice: {web}")
        store = [t for t in ts if t[1] == "hedge-store"]
        self.assertEqual([t[2] for t in store], [10], f"the store thread: {ts}")
        others = [t for t in ts if t[1] not in ("hedge-web", "hedge-console", "hedge-store")]
        self.assertTrue(any(t[0] == pid for t in others), ts)
        for t in others:  # the DNS loop and the pool: not slowed down with them
            self.assertEqual(t[2], 0, f"{t} inherited the web thread's nice: {ts}")

    def test_block_page_answers_while_the_dns_loop_is_stuck(self):
        status, _, body = ws.get(self.bp, "/", host="example.com")
        self.assertEqual(status, 200)
        self.assertIn("Pornography", body)
        fifo = self.clock + ".fifo"
        os.mkfifo(fifo)
        os.replace(fifo, self.clock)  # the DNS loop's next clock read (every 200 ms) blocks in open()
        released = False
        try:
            # DNS stops: the wedge is real (the loop is inside open()).
            deadline = time.monotonic() + 5
            stuck = False
            while time.monotonic() < deadline and not stuck:
                try:
                    client.ask(self.h.addr, "example.com", "A", timeout=0.5)
                except Exception:  # noqa: BLE001 - a timeout is what we wait for
                    stuck = True
            self.assertTrue(stuck, "the DNS loop never blocked on the FIFO: the test proves nothing")
            # The block page still answers, with the real decision (blocked, its category).
            t0 = time.monotonic()
            status, _, body = ws.get(self.bp, "/", host="example.com")
            self.assertEqual(status, 200)
            self.assertIn("Pornography", body)
            status, _, body = ws.get(self.bp, "/", host="allowed.example.org")
            self.assertEqual(status, 200)
            self.assertNotIn("Pornography", body)
            self.assertLess(time.monotonic() - t0, 3.0)
        finally:
            # Release: a writer unblocks the open(); the path becomes a plain file again first.
            fd = os.open(self.clock, os.O_WRONLY | os.O_NONBLOCK)
            with open(self.clock + ".tmp", "w") as fh:
                fh.write(f"{FAKE_NOW}\n")
            os.replace(self.clock + ".tmp", self.clock)
            os.write(fd, f"{FAKE_NOW}\n".encode())
            os.close(fd)
            released = True
        self.assertTrue(released)
        m = client.ask(self.h.addr, "example.com", "A", timeout=3)
        self.assertTrue(client.rrs(m, "A"), f"DNS did not come back{self.ctx(self.h)}")
        status, _, body = ws.get(self.st, "/status")
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
