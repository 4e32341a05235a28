// store/event_store: SQL of the monitoring tables.
#include "store/event_store.hpp"

#include <nlohmann/json.hpp>

#include "store/exception_store.hpp"

namespace hedge::store {

namespace {
constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  minute INTEGER NOT NULL,
  client_ip TEXT NOT NULL,
  device TEXT NOT NULL DEFAULT '',
  mac TEXT NOT NULL DEFAULT '',
  grp TEXT NOT NULL,
  qname TEXT NOT NULL,
  qtype INTEGER NOT NULL,
  categories TEXT NOT NULL,
  tier TEXT NOT NULL,
  rule TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 1,
  UNIQUE(minute, client_ip, qname, qtype)
);
CREATE INDEX IF NOT EXISTS events_at ON events(at);
CREATE TABLE IF NOT EXISTS incidents(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  event_id INTEGER,
  client_ip TEXT NOT NULL, device TEXT NOT NULL DEFAULT '', mac TEXT NOT NULL DEFAULT '', grp TEXT NOT NULL,
  qname TEXT NOT NULL,
  category TEXT NOT NULL,
  tier TEXT NOT NULL,
  acked_at INTEGER, acked_by TEXT, ack_note TEXT
);
CREATE INDEX IF NOT EXISTS incidents_at ON incidents(at);
CREATE TABLE IF NOT EXISTS hourly(
  hour INTEGER NOT NULL,
  grp TEXT NOT NULL, category TEXT NOT NULL,
  allowed INTEGER NOT NULL DEFAULT 0, blocked INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY(hour, grp, category)
);
CREATE TABLE IF NOT EXISTS review_requests(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  site TEXT NOT NULL,
  client_ip TEXT NOT NULL, grp TEXT NOT NULL DEFAULT '',
  who TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL DEFAULT 'open',
  decided_at INTEGER, decided_by TEXT, decision_note TEXT, exception_id INTEGER
);
CREATE TABLE IF NOT EXISTS queries(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  minute INTEGER NOT NULL,
  client_ip TEXT NOT NULL, device TEXT NOT NULL DEFAULT '', mac TEXT NOT NULL DEFAULT '',
  grp TEXT NOT NULL, qname TEXT NOT NULL, qtype INTEGER NOT NULL,
  count INTEGER NOT NULL DEFAULT 1,
  UNIQUE(minute, client_ip, qname, qtype)
);
CREATE INDEX IF NOT EXISTS queries_at ON queries(at);
INSERT OR IGNORE INTO meta(key, value) VALUES('monitoring_schema', '1');
)SQL";
}  // namespace

bool EventStore::create_schema(Db& db, std::string& err) {
  return db.exec(kSchema, err);
}

bool EventStore::open(const std::string& path, std::string& err) {
  if (!m_db.open(path, false, err)) return false;
  // WAL: readers (CLI, console) never block the writer; synchronous=NORMAL:
  // a power cut loses at most the last transactions, never the database.
  if (!m_db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err) || !create_schema(m_db, err)) {
    err = path + ": " + err;
    m_db.close();
    return false;
  }
  return true;
}

bool EventStore::write(const std::vector<EventRow>& events, const std::vector<HourlyRow>& hourly,
                       const std::vector<QueryRow>& queries, std::vector<WrittenEvent>& written,
                       std::string& err, util::Pacer* pace) {
  written.clear();
  written.reserve(events.size());
  Stmt ins(
      m_db,
      "INSERT INTO events(at, last_at, minute, client_ip, device, mac, grp, qname, qtype, categories, tier, "
      "rule, count) VALUES(?1, ?1, ?1 / 60, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
      "ON CONFLICT(minute, client_ip, qname, qtype) DO UPDATE SET count = count + excluded.count, "
      "last_at = max(last_at, excluded.last_at) RETURNING id, count");
  Stmt inc(m_db,
           "INSERT INTO incidents(at, event_id, client_ip, device, mac, grp, qname, category, tier) "
           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  Stmt hr(m_db,
          "INSERT INTO hourly(hour, grp, category, allowed, blocked) VALUES(?1, ?2, ?3, ?4, ?5) "
          "ON CONFLICT(hour, grp, category) DO UPDATE SET allowed = allowed + excluded.allowed, "
          "blocked = blocked + excluded.blocked");
  Stmt q(m_db,
         "INSERT INTO queries(at, minute, client_ip, device, mac, grp, qname, qtype, count) "
         "VALUES(?1, ?1 / 60, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
         "ON CONFLICT(minute, client_ip, qname, qtype) DO UPDATE SET count = count + excluded.count");
  if (!ins || !inc || !hr || !q) {
    err = "cannot prepare: " + m_db.errmsg();
    return false;
  }
  auto write_event = [&](const EventRow& e, std::vector<WrittenEvent>& out) {
    ins.reset();
    ins.bind(1, e.at).bind(2, e.client_ip).bind(3, e.device).bind(4, e.mac).bind(5, e.grp).bind(6, e.qname);
    ins.bind(7, int64_t{e.qtype})
        .bind(8, e.categories)
        .bind(9, e.tier)
        .bind(10, e.rule)
        .bind(11, int64_t{e.count});
    if (ins.step() != SQLITE_ROW) {
      err = "writing an event: " + m_db.errmsg();
      return false;
    }
    WrittenEvent w;
    w.id = ins.i64(0);
    w.new_row = ins.i64(1) == int64_t{e.count};
    w.row = &e;
    ins.step();  // finish the statement (SQLITE_DONE)
    if (!e.incident_category.empty() && w.new_row) {
      inc.reset();
      inc.bind(1, e.at).bind(2, w.id).bind(3, e.client_ip).bind(4, e.device).bind(5, e.mac).bind(6, e.grp);
      inc.bind(7, e.qname).bind(8, e.incident_category).bind(9, e.tier);
      if (!inc.run()) {
        err = "writing an incident: " + m_db.errmsg();
        return false;
      }
      w.incident_id = sqlite3_last_insert_rowid(m_db.get());
    }
    out.push_back(w);
    return true;
  };
  auto write_query = [&](const QueryRow& r) {
    q.reset();
    q.bind(1, r.at).bind(2, r.client_ip).bind(3, r.device).bind(4, r.mac).bind(5, r.grp).bind(6, r.qname);
    q.bind(7, int64_t{r.qtype}).bind(8, int64_t{r.count});
    if (!q.run()) {
      err = "writing a query row: " + m_db.errmsg();
      return false;
    }
    return true;
  };
  // Events, then query rows, kRowsPerTransaction to a transaction; the hourly
  // counts go with the last one. An empty batch still commits its counts.
  // With pace, a transaction also ends once the pacer is due, and the pause
  // comes after the commit: a paced writer that slept inside its
  // transaction held the write lock for half a second at a quarter-core
  // quota, and `hedge exception add` gave up waiting for it.
  std::size_t ei = 0, qi = 0;
  do {
    Transaction tx(m_db);
    if (!tx.ok()) {
      err = "cannot start a transaction: " + m_db.errmsg();
      return false;
    }
    std::vector<WrittenEvent> chunk;
    std::size_t in_tx = 0;
    const auto room = [&] { return in_tx < kRowsPerTransaction && !(pace && pace->due(kPaceNs)); };
    for (; ei < events.size() && room(); ++ei, ++in_tx)
      if (!write_event(events[ei], chunk)) return false;
    for (; qi < queries.size() && room(); ++qi, ++in_tx)
      if (!write_query(queries[qi])) return false;
    if (ei == events.size() && qi == queries.size()) {
      for (const auto& h : hourly) {
        hr.reset();
        hr.bind(1, h.hour).bind(2, h.grp).bind(3, h.category);
        hr.bind(4, static_cast<int64_t>(h.allowed)).bind(5, static_cast<int64_t>(h.blocked));
        if (!hr.run()) {
          err = "writing hourly counts: " + m_db.errmsg();
          return false;
        }
      }
    }
    if (!tx.commit(err)) return false;
    written.insert(written.end(), chunk.begin(), chunk.end());
    // Between transactions only: a batch's last commit is followed by the
    // store thread's next job (an incident, an exception check), not a pause.
    const bool more = ei < events.size() || qi < queries.size();
    if (pace && more && pace->due(kPaceNs)) pace->step();
  } while (ei < events.size() || qi < queries.size());
  return true;
}

int64_t EventStore::purge(int64_t now, const Retention& r, int limit, std::string& err) {
  struct Target {
    const char* sql;
    int64_t cutoff;
  };
  const Target targets[] = {
      {"DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ?1 ORDER BY at LIMIT ?2)",
       now - r.events_s},
      {"DELETE FROM hourly WHERE rowid IN (SELECT rowid FROM hourly WHERE hour < ?1 / 3600 LIMIT ?2)",
       now - r.hourly_s},
      {"DELETE FROM queries WHERE id IN (SELECT id FROM queries WHERE at < ?1 ORDER BY at LIMIT ?2)",
       now - r.queries_s},
      // An unacknowledged incident is never purged: someone must look at it first.
      {"DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE at < ?1 AND acked_at IS NOT NULL "
       "LIMIT ?2)",
       now - r.events_s},
      {"DELETE FROM review_requests WHERE id IN (SELECT id FROM review_requests WHERE at < ?1 AND "
       "status != 'open' LIMIT ?2)",
       now - r.events_s},
  };
  int64_t total = 0;
  for (const auto& t : targets) {
    if (total >= limit) break;
    Stmt s(m_db, t.sql);
    if (!s) {
      err = "cannot prepare the purge: " + m_db.errmsg();
      return -1;
    }
    s.bind(1, t.cutoff).bind(2, int64_t{limit} - total);
    if (!s.run()) {
      err = "purging: " + m_db.errmsg();
      return -1;
    }
    total += sqlite3_changes(m_db.get());
  }
  return total;
}

int64_t EventStore::unacked_incidents() {
  Stmt s(m_db, "SELECT count(*) FROM incidents WHERE acked_at IS NULL");
  return s && s.step() == SQLITE_ROW ? s.i64(0) : -1;
}

bool EventStore::add_review(const ReviewRow& r, int64_t& id, std::string& err) {
  Stmt s(m_db,
         "INSERT INTO review_requests(at, kind, site, client_ip, grp, who, reason) VALUES(?,?,?,?,?,?,?)");
  if (!s) {
    err = m_db.errmsg();
    return false;
  }
  s.bind(1, r.at)
      .bind(2, r.kind)
      .bind(3, r.site)
      .bind(4, r.client_ip)
      .bind(5, r.grp)
      .bind(6, r.who)
      .bind(7, r.reason);
  if (!s.run()) {
    err = "storing a review request: " + m_db.errmsg();
    return false;
  }
  id = sqlite3_last_insert_rowid(m_db.get());
  return true;
}

bool EventStore::each_event(int64_t since, int64_t until, const std::function<void(const StoredEvent&)>& fn,
                            std::string& err) {
  Stmt s(m_db,
         "SELECT id, at, last_at, count, client_ip, device, mac, grp, qname, qtype, categories, tier, rule "
         "FROM events WHERE at >= ?1 AND at < ?2 ORDER BY at, id");
  if (!s) {
    err = m_db.errmsg();
    return false;
  }
  s.bind(1, since).bind(2, until);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    StoredEvent e;
    e.id = s.i64(0);
    e.at = s.i64(1);
    e.last_at = s.i64(2);
    e.count = s.i64(3);
    e.client_ip = s.text(4);
    e.device = s.text(5);
    e.mac = s.text(6);
    e.grp = s.text(7);
    e.qname = s.text(8);
    e.qtype = s.i64(9);
    e.categories = s.text(10);
    e.tier = s.text(11);
    e.rule = s.text(12);
    fn(e);
  }
  if (rc != SQLITE_DONE) {
    err = "reading events: " + m_db.errmsg();
    return false;
  }
  return true;
}

std::vector<Incident> EventStore::incidents(bool unacked_only) {
  std::vector<Incident> out;
  Stmt s(m_db, unacked_only
                   ? "SELECT id, at, coalesce(event_id, 0), client_ip, device, mac, grp, qname, category, "
                     "tier, coalesce(acked_at, 0), coalesce(acked_by, ''), coalesce(ack_note, '') FROM "
                     "incidents WHERE acked_at IS NULL ORDER BY id"
                   : "SELECT id, at, coalesce(event_id, 0), client_ip, device, mac, grp, qname, category, "
                     "tier, coalesce(acked_at, 0), coalesce(acked_by, ''), coalesce(ack_note, '') FROM "
                     "incidents ORDER BY id");
  while (s && s.step() == SQLITE_ROW) {
    Incident i;
    i.id = s.i64(0);
    i.at = s.i64(1);
    i.event_id = s.i64(2);
    i.client_ip = s.text(3);
    i.device = s.text(4);
    i.mac = s.text(5);
    i.grp = s.text(6);
    i.qname = s.text(7);
    i.category = s.text(8);
    i.tier = s.text(9);
    i.acked_at = s.i64(10);
    i.acked_by = s.text(11);
    i.ack_note = s.text(12);
    out.push_back(std::move(i));
  }
  return out;
}

bool EventStore::ack_audited(ExceptionStore& audit, int64_t id, const std::string& by,
                             const std::string& note, int64_t now, std::string& err) {
  if (note.empty()) {
    err = "say what was done (the action note is part of the safeguarding record)";
    return false;
  }
  const nlohmann::json detail = {{"incident", id}, {"acked_at", now}};
  return audit.audited_change(
      now, by, "incident.ack", "incident/" + std::to_string(id), note, detail.dump(),
      [&](Db& db, std::string& e) { return ack_on(db, id, by, note, now, e); }, err);
}

bool EventStore::ack_on(Db& db, int64_t id, const std::string& by, const std::string& note, int64_t now,
                        std::string& err) {
  Stmt s(
      db,
      "UPDATE incidents SET acked_at = ?1, acked_by = ?2, ack_note = ?3 WHERE id = ?4 AND acked_at IS NULL");
  if (!s) {
    err = db.errmsg();
    return false;
  }
  s.bind(1, now).bind(2, by).bind(3, note).bind(4, id);
  if (!s.run()) {
    err = "acknowledging: " + db.errmsg();
    return false;
  }
  if (sqlite3_changes(db.get()) != 1) {
    err = "incident " + std::to_string(id) + " does not exist or is already acknowledged";
    return false;
  }
  return true;
}

}  // namespace hedge::store
