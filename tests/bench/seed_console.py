#!/usr/bin/env python3
"""Seeds a Hedge store with N days of monitoring data for a school, straight
into the schema of docs INTERFACES.md (events, hourly, incidents,
review_requests), for timing the console's reports.

Default: 90 days, 1,500 devices, about 20 blocked attempts per device a day
(2.7 million event rows), deterministic (seeded random). Names are made up
(*.example, *.invalid); addresses from 10.0.0.0/8 (private), MACs locally
administered.

  tests/bench/seed_console.py --db build/bench-console/hedge.db --end 2026-11-30
"""
import argparse
import datetime as dt
import random
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, at INTEGER NOT NULL, last_at INTEGER NOT NULL,
  minute INTEGER NOT NULL, client_ip TEXT NOT NULL, device TEXT NOT NULL DEFAULT '', mac TEXT NOT NULL DEFAULT '',
  grp TEXT NOT NULL, qname TEXT NOT NULL, qtype INTEGER NOT NULL, categories TEXT NOT NULL, tier TEXT NOT NULL,
  rule TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 1, UNIQUE(minute, client_ip, qname, qtype));
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE TABLE IF NOT EXISTS incidents(id INTEGER PRIMARY KEY, at INTEGER NOT NULL, event_id INTEGER,
  client_ip TEXT NOT NULL, device TEXT NOT NULL DEFAULT '', mac TEXT NOT NULL DEFAULT '', grp TEXT NOT NULL,
  qname TEXT NOT NULL, category TEXT NOT NULL, tier TEXT NOT NULL, acked_at INTEGER, acked_by TEXT, ack_note TEXT);
CREATE TABLE IF NOT EXISTS hourly(hour INTEGER NOT NULL, grp TEXT NOT NULL, category TEXT NOT NULL,
  allowed INTEGER NOT NULL DEFAULT 0, blocked INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(hour, grp, category));
CREATE TABLE IF NOT EXISTS review_requests(id INTEGER PRIMARY KEY, at INTEGER NOT NULL, kind TEXT NOT NULL,
  site TEXT NOT NULL, client_ip TEXT NOT NULL, grp TEXT NOT NULL DEFAULT '', who TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'open', decided_at INTEGER, decided_by TEXT,
  decision_note TEXT, exception_id INTEGER);
"""

CATEGORIES = [("games", 0.30), ("social-media", 0.25), ("streaming", 0.12), ("ads-tracking", 0.10),
              ("pornography", 0.06), ("gambling", 0.05), ("bypass", 0.04), ("malware", 0.04),
              ("drugs", 0.02), ("violence", 0.015), ("child-abuse", 0.0008), ("terrorism", 0.0002)]
ILLEGAL = {"child-abuse", "terrorism"}
ALERT = {"bypass"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--devices", type=int, default=1500)
    ap.add_argument("--per-day", type=int, default=20)
    ap.add_argument("--end", default="2026-11-30", help="last day (UTC date)")
    ap.add_argument("--seed", type=int, default=9)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    db = sqlite3.connect(a.db)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(SCHEMA)
    names = {}
    for c, _ in CATEGORIES:
        tld = "invalid" if c in ILLEGAL else "example"
        names[c] = [f"{c}-{i}.{tld}" for i in range(40 if c in ILLEGAL else 300)]
    cats = [c for c, _ in CATEGORIES]
    weights = [w for _, w in CATEGORIES]
    devices = []
    for i in range(a.devices):
        grp = "staff" if i % 10 == 0 else ("guests" if i % 37 == 0 else "pupils")
        devices.append((f"10.{20 + i // 250}.{i % 250 // 1}.{10 + i % 200}", f"device-{i:04d}",
                        "02:00:00:%02x:%02x:%02x" % (i >> 16 & 255, i >> 8 & 255, i & 255), grp))
    end = dt.datetime.strptime(a.end, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    start = int((end - dt.timedelta(days=a.days - 1)).timestamp())
    t0 = time.time()
    rows = 0
    for d in range(a.days):
        day = start + d * 86400
        ev, hourly = [], {}
        used = set()
        for ip, dev, mac, grp in devices:
            for _ in range(rnd.randint(a.per_day - 5, a.per_day + 5)):
                at = day + 8 * 3600 + rnd.randrange(8 * 3600)
                c = rnd.choices(cats, weights)[0]
                q = rnd.choice(names[c])
                key = (at // 60, ip, q)
                if key in used:
                    continue
                used.add(key)
                tier = "illegal" if c in ILLEGAL else "school"
                ev.append((at, at, at // 60, ip, dev, mac, grp, q, 1, c, tier, "category", 1))
                k = (at // 3600, grp, c)
                hourly[k] = hourly.get(k, 0) + 1
        db.executemany("INSERT INTO events(at,last_at,minute,client_ip,device,mac,grp,qname,qtype,categories,tier,"
                       "rule,count) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)", ev)
        db.executemany("INSERT INTO hourly(hour,grp,category,allowed,blocked) VALUES(?,?,?,?,?)",
                       [(h, g, c, 0, n) for (h, g, c), n in hourly.items()])
        # Allowed lookups, counted per hour and group (about 400 per device a day).
        allowed = {}
        for ip, dev, mac, grp in devices:
            for h in range(8, 16):
                k = (day // 3600 + h, grp)
                allowed[k] = allowed.get(k, 0) + 50
        db.executemany("INSERT INTO hourly(hour,grp,category,allowed,blocked) VALUES(?,?,'',?,0) "
                       "ON CONFLICT(hour,grp,category) DO UPDATE SET allowed = allowed + excluded.allowed",
                       [(h, g, n) for (h, g), n in allowed.items()])
        inc = [(e[0], e[3], e[4], e[5], e[6], e[7], e[9], e[10]) for e in ev if e[9] in ILLEGAL or e[9] in ALERT]
        inc = [x for x in inc if x[6] in ILLEGAL] + [x for x in inc if x[6] in ALERT][:5]
        db.executemany("INSERT INTO incidents(at,client_ip,device,mac,grp,qname,category,tier,acked_at,acked_by,ack_note) "
                       "VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                       [x + ((x[0] + 3600, "dsl", "spoke to the pupil") if rnd.random() < 0.8 else (None, None, None))
                        for x in inc])
        for _ in range(rnd.randint(0, 3)):
            ip, dev, mac, grp = rnd.choice(devices)
            st = rnd.choice(["open", "declined", "granted"])
            db.execute("INSERT INTO review_requests(at,kind,site,client_ip,grp,who,reason,status,decided_by) "
                       "VALUES(?,?,?,?,?,?,?,?,?)", (day + 40000, "unblock", rnd.choice(names["games"]), ip, grp,
                                                     "Year 9", "for a lesson", st, None if st == "open" else "dsl"))
        db.commit()
        rows += len(ev)
    db.execute("ANALYZE")
    db.commit()
    print(f"seeded {rows} event rows over {a.days} days for {a.devices} devices in {time.time() - t0:.1f} s",
          file=sys.stderr)


if __name__ == "__main__":
    main()
