// Test-only: the monitoring schema of docs INTERFACES.md (created in
// production by store/event_store), so console and report tests can seed
// rows without the block-page code.
#pragma once

namespace hedge::test {

inline constexpr const char* kMonitoringSchema = R"(
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
)";

}  // namespace hedge::test
