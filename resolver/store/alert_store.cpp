// store/alert_store: incident outbox and digest marks for the alert queue (see header).
#include "store/alert_store.hpp"

#include "store/event_store.hpp"

namespace hedge::store {

bool AlertStore::open(const std::string& path, std::string& err) {
  if (!m_cs.open(path, err)) return false;
  Db& db = m_cs.exceptions().db();
  std::string e;
  if (!EventStore::create_schema(db, e) ||
      !db.exec("CREATE TABLE IF NOT EXISTS alert_state(key TEXT PRIMARY KEY, value INTEGER NOT NULL)", e)) {
    err = path + ": " + e;
    return false;
  }
  return true;
}

bool AlertStore::state(const char* key, int64_t& v) {
  Stmt s(m_cs.exceptions().db(), "SELECT value FROM alert_state WHERE key = ?");
  s.bind(1, std::string_view(key));
  if (!s || s.step() != SQLITE_ROW) return false;
  v = s.i64(0);
  return true;
}

bool AlertStore::set_state(const char* key, int64_t v) {
  Stmt s(m_cs.exceptions().db(),
         "INSERT INTO alert_state(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = "
         "excluded.value");
  s.bind(1, std::string_view(key)).bind(2, v);
  return s.run();
}

int AlertStore::queue_incidents(int64_t started, int64_t now, const MakeAlerts& make, std::string& err) {
  Db& db = m_cs.exceptions().db();
  Transaction tx(db);
  if (!tx.ok()) {
    err = "cannot start a transaction: " + db.errmsg();
    return -1;
  }
  int64_t mark = 0;
  if (!state("incident_mark", mark)) {
    Stmt s(db, "SELECT coalesce(max(id), 0) FROM incidents WHERE at < ?");
    s.bind(1, started);
    mark = s && s.step() == SQLITE_ROW ? s.i64(0) : 0;
  }
  // Only these columns: the name, client, device and MAC are never read here.
  Stmt s(db, "SELECT id, at, category, tier, grp FROM incidents WHERE id > ? ORDER BY id LIMIT 100");
  s.bind(1, mark);
  std::vector<alerts::IncidentFacts> found;
  while (s && s.step() == SQLITE_ROW)
    found.push_back(alerts::IncidentFacts{s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4)});
  int queued = 0;
  for (const auto& f : found) {
    for (Alert a : make(f)) {
      a.created = now;
      if (!m_cs.enqueue_alert(a, err)) return -1;
      ++queued;
    }
    mark = f.id;
  }
  if (!set_state("incident_mark", mark) || !tx.commit(err)) {
    if (err.empty()) err = "cannot record the incident mark: " + db.errmsg();
    return -1;
  }
  return queued;
}

alerts::DigestFacts AlertStore::digest_facts(int64_t from, int64_t to) {
  Db& db = m_cs.exceptions().db();
  alerts::DigestFacts d;
  d.from = from;
  d.to = to;
  Stmt h(db,
         "SELECT category, sum(blocked) FROM hourly WHERE hour >= ? AND hour < ? GROUP BY category "
         "HAVING sum(blocked) > 0");
  h.bind(1, from / 3600).bind(2, to / 3600);
  while (h && h.step() == SQLITE_ROW) d.by_category.emplace_back(h.text(0), h.i64(1));
  Stmt i(db, "SELECT count(*), coalesce(sum(tier = 'illegal'), 0) FROM incidents WHERE at >= ? AND at < ?");
  i.bind(1, from).bind(2, to);
  if (i && i.step() == SQLITE_ROW) {
    d.incidents = i.i64(0);
    d.illegal_incidents = i.i64(1);
  }
  Stmt o(db, "SELECT count(*) FROM incidents WHERE acked_at IS NULL");
  if (o && o.step() == SQLITE_ROW) d.open_incidents = o.i64(0);
  Stmt r(db, "SELECT count(*) FROM review_requests WHERE status = 'open'");
  if (r && r.step() == SQLITE_ROW) d.open_reviews = r.i64(0);
  return d;
}

int AlertStore::queue_digest(int64_t now, const MakeDigest& make, std::string& err) {
  Db& db = m_cs.exceptions().db();
  const int64_t week = alerts::week_start(now);
  Transaction tx(db);
  if (!tx.ok()) {
    err = "cannot start a transaction: " + db.errmsg();
    return -1;
  }
  int64_t last = 0;
  const bool known = state("digest_week", last);
  int queued = 0;
  if (known && last >= week) return 0;  // this week's is done (the transaction rolls back: nothing written)
  if (known) {
    for (Alert a : make(digest_facts(week - int64_t{7} * 86400, week))) {
      a.created = now;
      if (!m_cs.enqueue_alert(a, err)) return -1;
      ++queued;
    }
  }
  if (!set_state("digest_week", week) || !tx.commit(err)) {
    if (err.empty()) err = "cannot record the digest week: " + db.errmsg();
    return -1;
  }
  return queued;
}

}  // namespace hedge::store
