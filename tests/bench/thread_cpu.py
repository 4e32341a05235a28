#!/usr/bin/env python3
"""Per-thread CPU of one process over time (issue 7: where the tail comes from).

    thread_cpu.py PID OUT [--interval 0.5] [--cgroup DIR]

Every interval, until PID exits (bounded: at most 4 hours of samples), writes
one line per thread that used CPU since the last sample:
    <unix time> <thread name> <tid> <cpu ms in the interval>
and, with --cgroup, the cgroup's throttled time in the interval
    <unix time> cgroup.throttled <nr_throttled delta> <throttled ms delta>
Reads only /proc and the cgroup's cpu.stat: it never touches the process.
"""
import argparse
import os
import time


def threads(pid):
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as f:
                s = f.read()
        except OSError:
            continue
        name = s[s.index("(") + 1:s.rindex(")")]
        fields = s[s.rindex(")") + 2:].split()
        out[tid] = (name, int(fields[11]) + int(fields[12]))  # utime + stime, clock ticks
    return out


def throttled(cg):
    try:
        with open(os.path.join(cg, "cpu.stat"), encoding="ascii") as f:
            d = dict(line.split() for line in f if line.strip())
    except OSError:
        return None
    if "throttled_usec" in d:  # cgroup v2
        return int(d.get("nr_throttled", 0)), int(d["throttled_usec"])
    return int(d.get("nr_throttled", 0)), int(d.get("throttled_time", 0)) // 1000  # v1: ns


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pid", type=int)
    ap.add_argument("out")
    ap.add_argument("--interval", type=float, default=0.5)
    ap.add_argument("--cgroup", default="")
    a = ap.parse_args()
    tick_ms = 1000.0 / os.sysconf("SC_CLK_TCK")
    prev = threads(a.pid) or {}
    prev_t = throttled(a.cgroup) if a.cgroup else None
    with open(a.out, "w", encoding="utf-8") as out:
        for _ in range(int(4 * 3600 / a.interval)):
            time.sleep(a.interval)
            now = threads(a.pid)
            if now is None:
                break
            t = time.time()
            for tid, (name, ticks) in now.items():
                d = ticks - prev.get(tid, (name, 0))[1]
                if d > 0:
                    out.write(f"{t:.3f} {name.replace(' ', '_')} {tid} {d * tick_ms:.0f}\n")
            prev = now
            if a.cgroup:
                cur = throttled(a.cgroup)
                if cur and prev_t:
                    out.write(f"{t:.3f} cgroup.throttled {cur[0] - prev_t[0]} {(cur[1] - prev_t[1]) / 1000:.0f}\n")
                prev_t = cur
            out.flush()


if __name__ == "__main__":
    main()
