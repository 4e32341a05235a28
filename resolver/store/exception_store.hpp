// store/exception_store: policy exceptions and the append-only, hash-chained
// audit log in SQLite (WAL) at [store] path. Thin glue: the decision never
// sees SQLite, only the std::vector<policy::Exception> that load_all() returns.
//
// Server use: open once at start; each second compare data_version() with the
// last value and, when it changed (the CLI committed something), rebuild the
// policy snapshot from load_all(). Expiry needs no reload: decide() compares
// each exception's expiry with `now` to the second.
//
// Audit chain: row n stores hash_n = SHA-256(canonical(seq, at, actor, action,
// object, reason, detail) || hash_{n-1}); a head row keeps the last seq/hash.
// Triggers refuse UPDATE and DELETE; verify() recomputes the chain and replays
// it against the exception table, so a hand-edited row is detected.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "policy/exception.hpp"
#include "store/sqlite.hpp"

namespace hedge::store {

struct AuditEntry {
  int64_t seq = 0, at = 0;
  std::string actor, action, object, reason, detail, prev, hash;
};

struct AuditVerify {
  bool ok = true;
  int64_t rows = 0;
  std::vector<std::string> problems;  // one line each: "audit seq 4: hash does not match its contents"
};

// The rules an exception must follow ([policy] settings).
struct ExceptionRules {
  bool require_approval = false;
  int64_t default_lifetime = int64_t{7} * 86400;
  int64_t max_lifetime = int64_t{30} * 86400;
};

class ExceptionStore {
 public:
  ExceptionStore() = default;
  ExceptionStore(const ExceptionStore&) = delete;
  ExceptionStore& operator=(const ExceptionStore&) = delete;

  // Opens or creates the database (WAL, schema). False and err on failure.
  bool open(const std::string& path, std::string& err);
  bool is_open() const noexcept { return static_cast<bool>(m_db); }
  // The connection, for store files that keep their tables in the same
  // database (store/console_store); used only on the thread that owns this.
  Db& db() noexcept { return m_db; }

  // Every exception (active, pending, expired, revoked); the snapshot filters by time.
  std::vector<policy::Exception> load_all();
  std::optional<policy::Exception> get(int64_t id);
  // Changes whenever another connection commits (PRAGMA data_version).
  uint64_t data_version();
  // The last audit row's seq (0 if none): every change to an exception writes
  // one in the same transaction, so this moves when the exceptions may have.
  int64_t audit_seq();

  // Each mutation is one transaction with its audit row. Returns false and a
  // one-line reason on a rule violation or database error.
  // add: e.name (normal form), group, kind, requester, reason; e.starts (0 =
  // now) and e.expires (0 = default lifetime; deny may set -1 for "never").
  // Fills e.id and the times.
  // confirm (optional) runs once the rules pass, before anything is written
  // (the CLI proves the requester's account there); false aborts with its err.
  bool add(policy::Exception& e, const ExceptionRules& rules, int64_t now, std::string& err,
           const std::function<bool(std::string&)>& confirm = {});
  bool approve(int64_t id, const std::string& approver, int64_t now, std::string& err);
  bool revoke(int64_t id, const std::string& by, const std::string& reason, int64_t now, std::string& err);
  // Writes an "expire" audit row for each exception whose expiry has passed
  // (once each). Returns how many; -1 on error.
  int record_expiries(int64_t now, std::string& err);

  // One audit row in its own transaction, for events that are not exception
  // changes (list updates and rollbacks: `hedge update`, `hedge rollback`).
  bool record_event(int64_t now, const std::string& actor, const std::string& action,
                    const std::string& object, const std::string& reason, const std::string& detail,
                    std::string& err);

  std::vector<AuditEntry> audit(int64_t limit = 0);
  AuditVerify verify_audit();

  // Any other audited change (incident ack, review decisions, users): runs
  // `change` on this connection and appends its audit row in the same
  // transaction, so there is one chain for every kind of event.
  bool audited_change(int64_t now, const std::string& actor, const std::string& action,
                      const std::string& object, const std::string& reason, const std::string& detail,
                      const std::function<bool(Db&, std::string&)>& change, std::string& err);

 private:
  bool append_audit(int64_t now, const std::string& actor, const std::string& action,
                    const std::string& object, const std::string& reason, const std::string& detail,
                    std::string& err);
  Db m_db;
};

// The chain hash of one audit row (exposed for tests).
std::string audit_hash(const AuditEntry& e);
// JSON of an exception's state, as recorded in audit details.
std::string exception_json(const policy::Exception& e);

}  // namespace hedge::store
