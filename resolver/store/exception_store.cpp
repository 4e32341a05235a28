// store/exception_store: SQLite schema, mutations with audit rows, chain verify.
#include "store/exception_store.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>

#include "dns/name.hpp"
#include "util/crypto.hpp"

namespace hedge::store {

namespace {

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS exception(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  grp TEXT NOT NULL,
  kind TEXT NOT NULL CHECK(kind IN ('allow', 'deny')),
  requester TEXT NOT NULL,
  reason TEXT NOT NULL,
  created INTEGER NOT NULL,
  starts INTEGER NOT NULL,
  expires INTEGER NOT NULL DEFAULT 0,
  approver TEXT NOT NULL DEFAULT '',
  approved INTEGER NOT NULL DEFAULT 0,
  revoked INTEGER NOT NULL DEFAULT 0,
  revoked_by TEXT NOT NULL DEFAULT '',
  expiry_logged INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS audit(
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  object TEXT NOT NULL,
  reason TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_head(
  id INTEGER PRIMARY KEY CHECK(id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
PRAGMA user_version = 1;
)";

const std::string kZeroHash(64, '0');

constexpr const char* kColumns =
    "id, name, grp, kind, requester, reason, created, starts, expires, approver, approved, revoked, "
    "revoked_by";

policy::Exception row_to_exception(const Stmt& s) {
  policy::Exception e;
  e.id = s.i64(0);
  e.name = s.text(1);
  e.group = s.text(2);
  e.kind = s.text(3) == "deny" ? policy::ExceptionKind::deny : policy::ExceptionKind::allow;
  e.requester = s.text(4);
  e.reason = s.text(5);
  e.created = s.i64(6);
  e.starts = s.i64(7);
  e.expires = s.i64(8);
  e.approver = s.text(9);
  e.approved = s.i64(10);
  e.revoked = s.i64(11);
  e.revoked_by = s.text(12);
  return e;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void field(std::string& out, std::string_view v) {
  out += std::to_string(v.size());
  out += ':';
  out += v;
  out += '\n';
}

}  // namespace

std::string audit_hash(const AuditEntry& e) {
  std::string c = "hedge-audit-v1\n";
  field(c, std::to_string(e.seq));
  field(c, std::to_string(e.at));
  field(c, e.actor);
  field(c, e.action);
  field(c, e.object);
  field(c, e.reason);
  field(c, e.detail);
  field(c, e.prev);
  return util::to_hex(util::sha256(c));
}

std::string exception_json(const policy::Exception& e) {
  nlohmann::json j = {{"id", e.id},
                      {"name", e.name},
                      {"group", e.group},
                      {"kind", policy::to_string(e.kind)},
                      {"requester", e.requester},
                      {"reason", e.reason},
                      {"created", e.created},
                      {"starts", e.starts},
                      {"expires", e.expires},
                      {"approver", e.approver},
                      {"approved", e.approved},
                      {"revoked", e.revoked},
                      {"revoked_by", e.revoked_by}};
  return j.dump();
}

bool ExceptionStore::open(const std::string& path, std::string& err) {
  if (!m_db.open(path, false, err)) return false;
  std::string e;
  if (!m_db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", e) || !m_db.exec(kSchema, e)) {
    err = path + ": " + e;
    m_db.close();
    return false;
  }
  return true;
}

std::vector<policy::Exception> ExceptionStore::load_all() {
  std::vector<policy::Exception> out;
  Stmt s(m_db, std::string("SELECT ") + kColumns + " FROM exception ORDER BY id");
  while (s && s.step() == SQLITE_ROW) out.push_back(row_to_exception(s));
  return out;
}

std::optional<policy::Exception> ExceptionStore::get(int64_t id) {
  Stmt s(m_db, std::string("SELECT ") + kColumns + " FROM exception WHERE id = ?");
  s.bind(1, id);
  if (s && s.step() == SQLITE_ROW) return row_to_exception(s);
  return std::nullopt;
}

int64_t ExceptionStore::audit_seq() {
  Stmt s(m_db, "SELECT coalesce(max(seq), 0) FROM audit");
  if (s && s.step() == SQLITE_ROW) return s.i64(0);
  return -1;
}

uint64_t ExceptionStore::data_version() {
  Stmt s(m_db, "PRAGMA data_version");
  if (s && s.step() == SQLITE_ROW) return static_cast<uint64_t>(s.i64(0));
  return 0;
}

bool ExceptionStore::append_audit(int64_t now, const std::string& actor, const std::string& action,
                                  const std::string& object, const std::string& reason,
                                  const std::string& detail, std::string& err) {
  AuditEntry e;
  e.prev = kZeroHash;
  {
    Stmt last(m_db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    if (last && last.step() == SQLITE_ROW) {
      e.seq = last.i64(0);
      e.prev = last.text(1);
    }
  }
  ++e.seq;
  e.at = now;
  e.actor = actor;
  e.action = action;
  e.object = object;
  e.reason = reason;
  e.detail = detail;
  e.hash = audit_hash(e);
  Stmt ins(m_db,
           "INSERT INTO audit(seq, at, actor, action, object, reason, detail, prev, hash) "
           "VALUES(?,?,?,?,?,?,?,?,?)");
  ins.bind(1, e.seq).bind(2, e.at).bind(3, e.actor).bind(4, e.action).bind(5, e.object).bind(6, e.reason);
  ins.bind(7, e.detail).bind(8, e.prev).bind(9, e.hash);
  Stmt head(m_db,
            "INSERT INTO audit_head(id, seq, hash) VALUES(1, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = "
            "excluded.seq, hash = excluded.hash");
  head.bind(1, e.seq).bind(2, e.hash);
  if (!ins.run() || !head.run()) {
    err = "audit log: " + m_db.errmsg();
    return false;
  }
  return true;
}

bool ExceptionStore::record_event(int64_t now, const std::string& actor, const std::string& action,
                                  const std::string& object, const std::string& reason,
                                  const std::string& detail, std::string& err) {
  Transaction tx(m_db);
  if (!tx.ok()) {
    err = "audit log: " + m_db.errmsg();
    return false;
  }
  if (!append_audit(now, actor, action, object, reason, detail, err)) return false;
  return tx.commit(err);
}

bool ExceptionStore::add(policy::Exception& e, const ExceptionRules& rules, int64_t now, std::string& err,
                         const std::function<bool(std::string&)>& confirm) {
  const auto norm = dns::normalise_name(e.name);
  if (!norm || norm.name != e.name) {
    err = "name '" + e.name + "' is not in normal form";
    return false;
  }
  if (e.group.empty()) {
    err = "an exception needs a group (or * for every group)";
    return false;
  }
  if (e.requester.empty()) {
    err = "an exception needs a requester (--by)";
    return false;
  }
  if (e.reason.empty()) {
    err = "an exception needs a reason (--reason)";
    return false;
  }
  e.created = now;
  if (e.starts == 0) e.starts = now;
  if (e.starts < now - 60) {
    err = "an exception cannot start in the past";
    return false;
  }
  if (e.expires == 0) {
    e.expires = e.starts + rules.default_lifetime;
  } else if (e.expires < 0) {
    if (e.kind == policy::ExceptionKind::allow) {
      err =
          "an allow exception must expire (maximum " + std::to_string(rules.max_lifetime / 86400) + " days)";
      return false;
    }
    e.expires = 0;  // a deny may be permanent
  }
  if (e.expires != 0 && e.expires <= e.starts) {
    err = "the expiry must be after the start";
    return false;
  }
  if (e.kind == policy::ExceptionKind::allow && e.expires - e.starts > rules.max_lifetime) {
    err = "an allow exception may last at most " + std::to_string(rules.max_lifetime / 86400) +
          " days ([policy] exception_max_days)";
    return false;
  }
  if (confirm && !confirm(err)) return false;
  e.approver.clear();
  e.approved = 0;
  e.revoked = 0;
  e.revoked_by.clear();
  Transaction tx(m_db);
  if (!tx.ok()) {
    err = "cannot start a transaction: " + m_db.errmsg();
    return false;
  }
  Stmt ins(m_db,
           "INSERT INTO exception(name, grp, kind, requester, reason, created, starts, expires) "
           "VALUES(?,?,?,?,?,?,?,?)");
  ins.bind(1, e.name)
      .bind(2, e.group)
      .bind(3, policy::to_string(e.kind))
      .bind(4, e.requester)
      .bind(5, e.reason);
  ins.bind(6, e.created).bind(7, e.starts).bind(8, e.expires);
  if (!ins.run()) {
    err = "cannot store the exception: " + m_db.errmsg();
    return false;
  }
  e.id = sqlite3_last_insert_rowid(m_db.get());
  if (!append_audit(now, e.requester, "exception.create", "exception/" + std::to_string(e.id), e.reason,
                    exception_json(e), err))
    return false;
  return tx.commit(err);
}

bool ExceptionStore::approve(int64_t id, const std::string& approver, int64_t now, std::string& err) {
  Transaction tx(m_db);
  if (!tx.ok()) {
    err = "cannot start a transaction: " + m_db.errmsg();
    return false;
  }
  auto e = get(id);
  if (!e) {
    err = "no exception #" + std::to_string(id);
    return false;
  }
  if (approver.empty()) {
    err = "an approval needs an approver (--by)";
    return false;
  }
  if (e->revoked) {
    err = "exception #" + std::to_string(id) + " was revoked";
    return false;
  }
  if (e->approved) {
    err = "exception #" + std::to_string(id) + " is already approved by " + e->approver;
    return false;
  }
  if (e->expires != 0 && now >= e->expires) {
    err = "exception #" + std::to_string(id) + " has expired";
    return false;
  }
  if (lower(approver) == lower(e->requester)) {
    err = "the approver must not be the requester (" + e->requester + ")";
    return false;
  }
  e->approver = approver;
  e->approved = now;
  Stmt up(m_db, "UPDATE exception SET approver = ?, approved = ? WHERE id = ?");
  up.bind(1, approver).bind(2, now).bind(3, id);
  if (!up.run()) {
    err = m_db.errmsg();
    return false;
  }
  if (!append_audit(now, approver, "exception.approve", "exception/" + std::to_string(id), "",
                    exception_json(*e), err))
    return false;
  return tx.commit(err);
}

bool ExceptionStore::revoke(int64_t id, const std::string& by, const std::string& reason, int64_t now,
                            std::string& err) {
  Transaction tx(m_db);
  if (!tx.ok()) {
    err = "cannot start a transaction: " + m_db.errmsg();
    return false;
  }
  auto e = get(id);
  if (!e) {
    err = "no exception #" + std::to_string(id);
    return false;
  }
  if (by.empty() || reason.empty()) {
    err = "a revocation needs --by and --reason";
    return false;
  }
  if (e->revoked) {
    err = "exception #" + std::to_string(id) + " is already revoked";
    return false;
  }
  e->revoked = now;
  e->revoked_by = by;
  Stmt up(m_db, "UPDATE exception SET revoked = ?, revoked_by = ? WHERE id = ?");
  up.bind(1, now).bind(2, by).bind(3, id);
  if (!up.run()) {
    err = m_db.errmsg();
    return false;
  }
  if (!append_audit(now, by, "exception.revoke", "exception/" + std::to_string(id), reason,
                    exception_json(*e), err))
    return false;
  return tx.commit(err);
}

int ExceptionStore::record_expiries(int64_t now, std::string& err) {
  {
    // Cheap read first: the server calls this every second; write only when due.
    Stmt c(m_db,
           "SELECT 1 FROM exception WHERE expires != 0 AND expires <= ? AND revoked = 0 AND expiry_logged = "
           "0 LIMIT 1");
    c.bind(1, now);
    if (c && c.step() != SQLITE_ROW) return 0;
  }
  Transaction tx(m_db);
  if (!tx.ok()) {
    err = "cannot start a transaction: " + m_db.errmsg();
    return -1;
  }
  std::vector<policy::Exception> due;
  {
    Stmt s(m_db,
           std::string("SELECT ") + kColumns +
               " FROM exception WHERE expires != 0 AND expires <= ? AND revoked = 0 AND expiry_logged = 0");
    s.bind(1, now);
    while (s && s.step() == SQLITE_ROW) due.push_back(row_to_exception(s));
  }
  for (const auto& e : due) {
    Stmt up(m_db, "UPDATE exception SET expiry_logged = 1 WHERE id = ?");
    up.bind(1, e.id);
    if (!up.run()) {
      err = m_db.errmsg();
      return -1;
    }
    // Recorded at the expiry instant (it took effect then, whenever logged).
    if (!append_audit(e.expires, "hedge", "exception.expire", "exception/" + std::to_string(e.id), "expired",
                      exception_json(e), err))
      return -1;
  }
  if (!tx.commit(err)) return -1;
  return static_cast<int>(due.size());
}

std::vector<AuditEntry> ExceptionStore::audit(int64_t limit) {
  std::vector<AuditEntry> out;
  Stmt s(m_db,
         limit > 0
             ? "SELECT * FROM (SELECT seq, at, actor, action, object, reason, detail, prev, hash FROM "
               "audit ORDER BY seq DESC LIMIT ?) ORDER BY seq"
             : "SELECT seq, at, actor, action, object, reason, detail, prev, hash FROM audit ORDER BY seq");
  if (limit > 0) s.bind(1, limit);
  while (s && s.step() == SQLITE_ROW) {
    AuditEntry e;
    e.seq = s.i64(0);
    e.at = s.i64(1);
    e.actor = s.text(2);
    e.action = s.text(3);
    e.object = s.text(4);
    e.reason = s.text(5);
    e.detail = s.text(6);
    e.prev = s.text(7);
    e.hash = s.text(8);
    out.push_back(std::move(e));
  }
  return out;
}

AuditVerify ExceptionStore::verify_audit() {
  AuditVerify r;
  auto bad = [&](std::string msg) {
    r.ok = false;
    r.problems.push_back(std::move(msg));
  };
  const auto rows = audit();
  r.rows = static_cast<int64_t>(rows.size());
  std::string prev = kZeroHash;
  int64_t expect = 1;
  std::map<int64_t, std::string> state;  // exception id -> last recorded state
  for (const auto& e : rows) {
    const std::string at = "audit seq " + std::to_string(e.seq) + ": ";
    if (e.seq != expect) bad(at + "expected seq " + std::to_string(expect) + " (rows missing or inserted)");
    if (e.prev != prev) bad(at + "does not chain to the previous row (prev hash differs)");
    if (audit_hash(e) != e.hash) bad(at + "hash does not match its contents (row edited)");
    prev = e.hash;
    expect = e.seq + 1;
    if (e.object.starts_with("exception/")) {
      try {
        const auto id = std::stoll(e.object.substr(10));
        state[id] = e.detail;
      } catch (...) {
        bad(at + "bad object '" + e.object + "'");
      }
    }
  }
  {
    Stmt h(m_db, "SELECT seq, hash FROM audit_head WHERE id = 1");
    if (h && h.step() == SQLITE_ROW) {
      if (rows.empty() || h.i64(0) != rows.back().seq || h.text(1) != rows.back().hash)
        bad("audit head: last row is not the one recorded (rows removed from the end?)");
    } else if (!rows.empty()) {
      bad("audit head: missing");
    }
  }
  // Replay: every exception row must equal the state its last audit row recorded.
  for (const auto& e : load_all()) {
    const auto it = state.find(e.id);
    if (it == state.end()) {
      bad("exception #" + std::to_string(e.id) + ": no audit record (row added by hand)");
      continue;
    }
    if (it->second != exception_json(e))
      bad("exception #" + std::to_string(e.id) + ": differs from its audited state (row edited by hand)");
    state.erase(it);
  }
  for (const auto& [id, detail] : state)
    bad("exception #" + std::to_string(id) + ": audited but missing (row deleted)");
  return r;
}

bool ExceptionStore::audited_change(int64_t now, const std::string& actor, const std::string& action,
                                    const std::string& object, const std::string& reason,
                                    const std::string& detail,
                                    const std::function<bool(Db&, std::string&)>& change, std::string& err) {
  Transaction tx(m_db);
  if (!tx.ok()) {
    err = "cannot start a transaction: " + m_db.errmsg();
    return false;
  }
  if (change && !change(m_db, err)) return false;
  if (!append_audit(now, actor, action, object, reason, detail, err)) return false;
  return tx.commit(err);
}

}  // namespace hedge::store
