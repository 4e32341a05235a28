// store/console_store: console tables, their queries and audited changes.
#include "store/console_store.hpp"

#include <nlohmann/json.hpp>

#include "store/event_store.hpp"

namespace hedge::store {

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS console_user(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK(role IN ('technician', 'dsl', 'viewer', 'governor')),
  pw_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL,
  pw_changed INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS console_session(
  id_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES console_user(id),
  csrf TEXT NOT NULL,
  created INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  client_ip TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS console_login(
  at INTEGER NOT NULL, user TEXT NOT NULL, client_ip TEXT NOT NULL, ok INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS console_login_user ON console_login(user, at);
CREATE INDEX IF NOT EXISTS console_login_client ON console_login(client_ip, at);
CREATE TABLE IF NOT EXISTS filtering_check(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  by TEXT NOT NULL,
  kind TEXT NOT NULL CHECK(kind IN ('manual', 'builtin')),
  what TEXT NOT NULL,
  result TEXT NOT NULL,
  action TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS alert_queue(
  id INTEGER PRIMARY KEY,
  created INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK(kind IN ('email', 'webhook')),
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at INTEGER NOT NULL,
  sent_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS alert_queue_due ON alert_queue(sent_at, next_at);
)";

User row_user(const Stmt& s, int c) {
  User u;
  u.id = s.i64(c);
  u.name = s.text(c + 1);
  u.role = console::parse_role(s.text(c + 2)).value_or(console::Role::viewer);
  u.pw_hash = s.text(c + 3);
  u.disabled = s.i64(c + 4) != 0;
  u.created = s.i64(c + 5);
  return u;
}

constexpr const char* kUserCols = "u.id, u.name, u.role, u.pw_hash, u.disabled, u.created";

std::string user_json(const std::string& name, console::Role role, bool disabled) {
  return nlohmann::json{{"name", name}, {"role", console::to_string(role)}, {"disabled", disabled}}.dump();
}

}  // namespace

bool valid_user_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '.' && c != '-' && c != '_'))) return false;
  }
  return true;
}

bool ConsoleStore::open(const std::string& path, std::string& err) {
  if (!m_ex.open(path, err)) return false;
  std::string e;
  if (!m_ex.db().exec(kSchema, e)) {
    err = path + ": " + e;
    return false;
  }
  return true;
}

bool ConsoleStore::has_table(const char* name) {
  Stmt s(m_ex.db(), "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  s.bind(1, std::string_view(name));
  return s && s.step() == SQLITE_ROW;
}

bool ConsoleStore::add_user(const std::string& name, console::Role role, const std::string& pw_hash,
                            const std::string& by, int64_t now, std::string& err) {
  if (!valid_user_name(name)) {
    err = "user name '" + name + "' must be 1-64 of a-z 0-9 . - _ (starting with a letter or digit)";
    return false;
  }
  if (pw_hash.empty()) {
    err = "no password hash";
    return false;
  }
  if (find_user(name)) {
    err = "user '" + name + "' already exists";
    return false;
  }
  // The row and its audit entry commit together (or neither does).
  return m_ex.audited_change(
      now, by, "user.add", "user/" + name, "", user_json(name, role, false),
      [&](Db& db, std::string& e) {
        Stmt ins(db, "INSERT INTO console_user(name, role, pw_hash, created, pw_changed) VALUES(?,?,?,?,?)");
        ins.bind(1, name)
            .bind(2, std::string_view(console::to_string(role)))
            .bind(3, pw_hash)
            .bind(4, now)
            .bind(5, now);
        if (!ins.run()) {
          e = "cannot store the user: " + db.errmsg();
          return false;
        }
        return true;
      },
      err);
}

bool ConsoleStore::set_password(const std::string& name, const std::string& pw_hash, const std::string& by,
                                int64_t now, std::string& err) {
  auto u = find_user(name);
  if (!u) {
    err = "no user '" + name + "'";
    return false;
  }
  return m_ex.audited_change(
      now, by, "user.passwd", "user/" + name, "", user_json(name, u->role, u->disabled),
      [&](Db& db, std::string& e) {
        Stmt up(db, "UPDATE console_user SET pw_hash = ?, pw_changed = ? WHERE id = ?");
        up.bind(1, pw_hash).bind(2, now).bind(3, u->id);
        Stmt del(db, "DELETE FROM console_session WHERE user_id = ?");  // every session ends
        del.bind(1, u->id);
        if (!up.run() || !del.run()) {
          e = db.errmsg();
          return false;
        }
        return true;
      },
      err);
}

bool ConsoleStore::set_disabled(const std::string& name, bool disabled, const std::string& by, int64_t now,
                                std::string& err) {
  auto u = find_user(name);
  if (!u) {
    err = "no user '" + name + "'";
    return false;
  }
  return m_ex.audited_change(
      now, by, disabled ? "user.disable" : "user.enable", "user/" + name, "",
      user_json(name, u->role, disabled),
      [&](Db& db, std::string& e) {
        Stmt up(db, "UPDATE console_user SET disabled = ? WHERE id = ?");
        up.bind(1, int64_t{disabled ? 1 : 0}).bind(2, u->id);
        Stmt del(db, "DELETE FROM console_session WHERE user_id = ?");
        del.bind(1, u->id);
        if (!up.run() || (disabled && !del.run())) {
          e = db.errmsg();
          return false;
        }
        return true;
      },
      err);
}

std::optional<User> ConsoleStore::find_user(const std::string& name) {
  Stmt s(m_ex.db(), std::string("SELECT ") + kUserCols + " FROM console_user u WHERE u.name = ?");
  s.bind(1, name);
  if (s && s.step() == SQLITE_ROW) return row_user(s, 0);
  return std::nullopt;
}

std::vector<User> ConsoleStore::users() {
  std::vector<User> out;
  Stmt s(m_ex.db(), std::string("SELECT ") + kUserCols + " FROM console_user u ORDER BY u.name");
  while (s && s.step() == SQLITE_ROW) out.push_back(row_user(s, 0));
  return out;
}

int64_t ConsoleStore::user_count() {
  Stmt s(m_ex.db(), "SELECT COUNT(*) FROM console_user");
  return s && s.step() == SQLITE_ROW ? s.i64(0) : 0;
}

bool ConsoleStore::create_session(const Session& ses, const std::string& client_ip, std::string& err) {
  Stmt ins(m_ex.db(),
           "INSERT INTO console_session(id_hash, user_id, csrf, created, last_seen, client_ip) "
           "VALUES(?,?,?,?,?,?)");
  ins.bind(1, ses.id_hash).bind(2, ses.user.id).bind(3, ses.csrf).bind(4, ses.created).bind(5, ses.last_seen);
  ins.bind(6, client_ip);
  if (!ins.run()) {
    err = "cannot store the session: " + m_ex.db().errmsg();
    return false;
  }
  // Old sessions are dead weight: drop those past any absolute lifetime.
  Stmt gc(m_ex.db(), "DELETE FROM console_session WHERE created < ?");
  gc.bind(1, ses.created - 86400);
  gc.run();
  return true;
}

std::optional<Session> ConsoleStore::session(const std::string& id_hash) {
  Stmt s(m_ex.db(),
         std::string("SELECT s.id_hash, s.csrf, s.created, s.last_seen, ") + kUserCols +
             " FROM console_session s JOIN console_user u ON u.id = s.user_id WHERE s.id_hash = ?");
  s.bind(1, id_hash);
  if (!s || s.step() != SQLITE_ROW) return std::nullopt;
  Session r;
  r.id_hash = s.text(0);
  r.csrf = s.text(1);
  r.created = s.i64(2);
  r.last_seen = s.i64(3);
  r.user = row_user(s, 4);
  return r;
}

void ConsoleStore::touch_session(const std::string& id_hash, int64_t now) {
  Stmt up(m_ex.db(), "UPDATE console_session SET last_seen = ? WHERE id_hash = ?");
  up.bind(1, now).bind(2, id_hash);
  up.run();
}

void ConsoleStore::delete_session(const std::string& id_hash) {
  Stmt del(m_ex.db(), "DELETE FROM console_session WHERE id_hash = ?");
  del.bind(1, id_hash);
  del.run();
}

void ConsoleStore::record_login(int64_t now, const std::string& user, const std::string& client_ip, bool ok) {
  Stmt ins(m_ex.db(), "INSERT INTO console_login(at, user, client_ip, ok) VALUES(?,?,?,?)");
  ins.bind(1, now).bind(2, user).bind(3, client_ip).bind(4, int64_t{ok ? 1 : 0});
  ins.run();
  // A success clears the account's failure count (the window restarts).
  if (ok) {
    Stmt del(m_ex.db(), "DELETE FROM console_login WHERE user = ? AND ok = 0");
    del.bind(1, user);
    del.run();
  }
  std::string err;
  m_ex.audited_change(now, user, ok ? "login.ok" : "login.fail", "user/" + user, "",
                      nlohmann::json{{"client", client_ip}}.dump(), nullptr, err);
}

int ConsoleStore::failures_for_user(const std::string& user, int64_t since) {
  Stmt s(m_ex.db(), "SELECT COUNT(*) FROM console_login WHERE user = ? AND ok = 0 AND at >= ?");
  s.bind(1, user).bind(2, since);
  return s && s.step() == SQLITE_ROW ? static_cast<int>(s.i64(0)) : 0;
}

int ConsoleStore::failures_for_client(const std::string& client_ip, int64_t since) {
  Stmt s(m_ex.db(), "SELECT COUNT(*) FROM console_login WHERE client_ip = ? AND ok = 0 AND at >= ?");
  s.bind(1, client_ip).bind(2, since);
  return s && s.step() == SQLITE_ROW ? static_cast<int>(s.i64(0)) : 0;
}

namespace {
constexpr const char* kReviewCols =
    "id, at, kind, site, client_ip, grp, who, reason, status, decided_at, decided_by, decision_note, "
    "exception_id";
ReviewRequest row_review(const Stmt& s) {
  ReviewRequest r;
  r.id = s.i64(0);
  r.at = s.i64(1);
  r.kind = s.text(2);
  r.site = s.text(3);
  r.client_ip = s.text(4);
  r.grp = s.text(5);
  r.who = s.text(6);
  r.reason = s.text(7);
  r.status = s.text(8);
  r.decided_at = s.i64(9);
  r.decided_by = s.text(10);
  r.decision_note = s.text(11);
  r.exception_id = s.i64(12);
  return r;
}
}  // namespace

std::vector<ReviewRequest> ConsoleStore::reviews(const std::string& status, int64_t limit) {
  std::vector<ReviewRequest> out;
  if (!has_table("review_requests")) return out;
  Stmt s(m_ex.db(), std::string("SELECT ") + kReviewCols +
                        " FROM review_requests WHERE (? = '' OR status = ?) ORDER BY id DESC LIMIT ?");
  s.bind(1, status).bind(2, status).bind(3, limit);
  while (s && s.step() == SQLITE_ROW) out.push_back(row_review(s));
  return out;
}

std::optional<ReviewRequest> ConsoleStore::review(int64_t id) {
  if (!has_table("review_requests")) return std::nullopt;
  Stmt s(m_ex.db(), std::string("SELECT ") + kReviewCols + " FROM review_requests WHERE id = ?");
  s.bind(1, id);
  if (s && s.step() == SQLITE_ROW) return row_review(s);
  return std::nullopt;
}

bool ConsoleStore::add_review(ReviewRequest& r, std::string& err) {
  Stmt ins(m_ex.db(),
           "INSERT INTO review_requests(at, kind, site, client_ip, grp, who, reason) VALUES(?,?,?,?,?,?,?)");
  ins.bind(1, r.at).bind(2, r.kind).bind(3, r.site).bind(4, r.client_ip).bind(5, r.grp).bind(6, r.who);
  ins.bind(7, r.reason);
  if (!ins.run()) {
    err = "cannot store the request: " + m_ex.db().errmsg();
    return false;
  }
  r.id = m_ex.db().last_insert_id();
  r.status = "open";
  return true;
}

bool ConsoleStore::decide_review(int64_t id, const std::string& status, const std::string& by,
                                 const std::string& note, int64_t exception_id, int64_t now,
                                 std::string& err) {
  if (status != "declined" && status != "granted" && status != "blocked") {
    err = "unknown decision '" + status + "'";
    return false;
  }
  const auto r = review(id);
  if (!r) {
    err = "no review request #" + std::to_string(id);
    return false;
  }
  if (r->status != "open") {
    err = "review request #" + std::to_string(id) + " was already " + r->status + " by " + r->decided_by;
    return false;
  }
  const nlohmann::json d = {{"site", r->site},
                            {"kind", r->kind},
                            {"group", r->grp},
                            {"status", status},
                            {"exception", exception_id}};
  return m_ex.audited_change(
      now, by, "review." + status, "review/" + std::to_string(id), note, d.dump(),
      [&](Db& db, std::string& e) {
        Stmt up(db,
                "UPDATE review_requests SET status = ?, decided_at = ?, decided_by = ?, decision_note = ?, "
                "exception_id = ? WHERE id = ? AND status = 'open'");
        up.bind(1, status).bind(2, now).bind(3, by).bind(4, note).bind(5, exception_id).bind(6, id);
        if (!up.run() || db.changes() != 1) {
          e = "cannot record the decision: " + db.errmsg();
          return false;
        }
        return true;
      },
      err);
}

std::vector<IncidentRecord> ConsoleStore::incidents(bool only_open, int64_t limit) {
  std::vector<IncidentRecord> out;
  if (!has_table("incidents")) return out;
  Stmt s(m_ex.db(),
         "SELECT id, at, client_ip, device, mac, grp, qname, category, tier, acked_at, acked_by, ack_note "
         "FROM incidents WHERE (? = 0 OR acked_at IS NULL) ORDER BY at DESC LIMIT ?");
  s.bind(1, int64_t{only_open ? 1 : 0}).bind(2, limit);
  while (s && s.step() == SQLITE_ROW) {
    IncidentRecord i;
    i.id = s.i64(0);
    i.at = s.i64(1);
    i.client_ip = s.text(2);
    i.device = s.text(3);
    i.mac = s.text(4);
    i.grp = s.text(5);
    i.qname = s.text(6);
    i.category = s.text(7);
    i.tier = s.text(8);
    i.acked_at = s.null(9) ? 0 : s.i64(9);
    i.acked_by = s.text(10);
    i.ack_note = s.text(11);
    out.push_back(std::move(i));
  }
  return out;
}

bool ConsoleStore::ack_incident(int64_t id, const std::string& by, const std::string& note, int64_t now,
                                std::string& err) {
  return EventStore::ack_audited(m_ex, id, by, note, now, err);  // one implementation with the CLI
}

bool ConsoleStore::add_check(Check& c, std::string& err) {
  if (c.what.empty() || c.result.empty()) {
    err = "a check needs what was tested and the result";
    return false;
  }
  Stmt ins(m_ex.db(), "INSERT INTO filtering_check(at, by, kind, what, result, action) VALUES(?,?,?,?,?,?)");
  ins.bind(1, c.at).bind(2, c.by).bind(3, c.kind).bind(4, c.what).bind(5, c.result).bind(6, c.action);
  if (!ins.run()) {
    err = "cannot store the check: " + m_ex.db().errmsg();
    return false;
  }
  c.id = m_ex.db().last_insert_id();
  const nlohmann::json d = {{"kind", c.kind}, {"what", c.what}, {"result", c.result}, {"action", c.action}};
  return m_ex.audited_change(c.at, c.by, "check.record", "check/" + std::to_string(c.id), "", d.dump(),
                             nullptr, err);
}

std::vector<Check> ConsoleStore::checks(int64_t limit) {
  std::vector<Check> out;
  Stmt s(
      m_ex.db(),
      "SELECT id, at, by, kind, what, result, action FROM filtering_check ORDER BY at DESC, id DESC LIMIT ?");
  s.bind(1, limit);
  while (s && s.step() == SQLITE_ROW)
    out.push_back(Check{s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4), s.text(5), s.text(6)});
  return out;
}

bool ConsoleStore::enqueue_alert(Alert& a, std::string& err) {
  Stmt ins(m_ex.db(), "INSERT INTO alert_queue(created, kind, subject, body, next_at) VALUES(?,?,?,?,?)");
  ins.bind(1, a.created).bind(2, a.kind).bind(3, a.subject).bind(4, a.body).bind(5, a.created);
  if (!ins.run()) {
    err = "cannot queue the alert: " + m_ex.db().errmsg();
    return false;
  }
  a.id = m_ex.db().last_insert_id();
  return true;
}

int64_t ConsoleStore::queued_alerts() {
  Stmt s(m_ex.db(), "SELECT COUNT(*) FROM alert_queue WHERE sent_at = 0");
  return s && s.step() == SQLITE_ROW ? s.i64(0) : 0;
}

std::vector<Alert> ConsoleStore::due_alerts(int64_t now, int64_t limit) {
  std::vector<Alert> out;
  Stmt s(m_ex.db(),
         "SELECT id, created, kind, subject, body, attempts, next_at, sent_at, last_error FROM alert_queue "
         "WHERE sent_at = 0 AND next_at <= ? ORDER BY id LIMIT ?");
  s.bind(1, now).bind(2, limit);
  while (s && s.step() == SQLITE_ROW) {
    Alert a;
    a.id = s.i64(0);
    a.created = s.i64(1);
    a.kind = s.text(2);
    a.subject = s.text(3);
    a.body = s.text(4);
    a.attempts = static_cast<int>(s.i64(5));
    a.next_at = s.i64(6);
    a.sent_at = s.i64(7);
    a.last_error = s.text(8);
    out.push_back(std::move(a));
  }
  return out;
}

void ConsoleStore::alert_sent(int64_t id, int64_t now) {
  Stmt up(m_ex.db(),
          "UPDATE alert_queue SET sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?");
  up.bind(1, now).bind(2, id);
  up.run();
}

void ConsoleStore::alert_failed(int64_t id, const std::string& error, int64_t next_at) {
  Stmt up(m_ex.db(),
          "UPDATE alert_queue SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE id = ?");
  up.bind(1, error).bind(2, next_at).bind(3, id);
  up.run();
}

}  // namespace hedge::store
