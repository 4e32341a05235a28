// store/console_store: the safeguarding console's tables (users, sessions,
// login attempts, filtering checks, the alert queue) in the [store] path
// database, plus the console's writes to the monitoring tables that the
// block-page code creates (review_requests, incidents; schema in
// docs/INTERFACES / store/event_store). Every change is audited through the
// same hash chain as `hedge exception` (ExceptionStore::record).
//
// Threading: inside `hedge serve` one ConsoleStore lives on the store thread
// and is only used in store-thread jobs (console/console_db.hpp); the CLI
// (`hedge user`) uses its own. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "console/auth.hpp"
#include "store/exception_store.hpp"

namespace hedge::store {

struct User {
  int64_t id = 0;
  std::string name;
  console::Role role = console::Role::viewer;
  std::string pw_hash;
  bool disabled = false;
  int64_t created = 0;
};

struct Session {
  std::string id_hash;  // SHA-256 hex of the cookie value (the cookie itself is never stored)
  User user;
  std::string csrf;
  int64_t created = 0, last_seen = 0;
};

struct ReviewRequest {
  int64_t id = 0, at = 0;
  std::string kind, site, client_ip, grp, who, reason, status;
  int64_t decided_at = 0;
  std::string decided_by, decision_note;
  int64_t exception_id = 0;
};

struct IncidentRecord {
  int64_t id = 0, at = 0;
  std::string client_ip, device, mac, grp, qname, category, tier;
  int64_t acked_at = 0;
  std::string acked_by, ack_note;
};

struct Check {
  int64_t id = 0, at = 0;
  std::string by, kind, what, result, action;
};

struct Alert {
  int64_t id = 0, created = 0;
  std::string kind;     // 'email' | 'webhook'
  std::string subject;  // email subject / webhook title
  std::string body;     // plain text (no illegal-tier names, ever)
  int attempts = 0;
  int64_t next_at = 0, sent_at = 0;
  std::string last_error;
};

// Names of console accounts: 1..64 of [a-z0-9._-], starting with a letter or digit.
bool valid_user_name(std::string_view name) noexcept;

class ConsoleStore {
 public:
  bool open(const std::string& path, std::string& err);
  ExceptionStore& exceptions() noexcept { return m_ex; }

  // Users (each change audited with `by` as the actor).
  bool add_user(const std::string& name, console::Role role, const std::string& pw_hash,
                const std::string& by, int64_t now, std::string& err);
  bool set_password(const std::string& name, const std::string& pw_hash, const std::string& by, int64_t now,
                    std::string& err);
  bool set_disabled(const std::string& name, bool disabled, const std::string& by, int64_t now,
                    std::string& err);
  std::optional<User> find_user(const std::string& name);
  std::vector<User> users();
  int64_t user_count();

  // Sessions. The session row is keyed by the hash of the cookie value.
  bool create_session(const Session& s, const std::string& client_ip, std::string& err);
  std::optional<Session> session(const std::string& id_hash);
  void touch_session(const std::string& id_hash, int64_t now);
  void delete_session(const std::string& id_hash);

  // Login attempts (every one recorded; failures and successes audited too).
  void record_login(int64_t now, const std::string& user, const std::string& client_ip, bool ok);
  int failures_for_user(const std::string& user, int64_t since);
  int failures_for_client(const std::string& client_ip, int64_t since);

  // Review queue (rows written by the block page and /report).
  std::vector<ReviewRequest> reviews(const std::string& status, int64_t limit = 200);
  std::optional<ReviewRequest> review(int64_t id);
  bool add_review(ReviewRequest& r, std::string& err);
  // status: declined | granted | blocked. Audited as review.<status>.
  bool decide_review(int64_t id, const std::string& status, const std::string& by, const std::string& note,
                     int64_t exception_id, int64_t now, std::string& err);

  std::vector<IncidentRecord> incidents(bool only_open, int64_t limit = 200);
  bool ack_incident(int64_t id, const std::string& by, const std::string& note, int64_t now,
                    std::string& err);

  bool add_check(Check& c, std::string& err);
  std::vector<Check> checks(int64_t limit = 100);

  // Alert queue: survives restarts; the sender retries with capped backoff.
  bool enqueue_alert(Alert& a, std::string& err);
  std::vector<Alert> due_alerts(int64_t now, int64_t limit = 20);
  int64_t queued_alerts();  // not sent yet (due or waiting for a retry)
  void alert_sent(int64_t id, int64_t now);
  void alert_failed(int64_t id, const std::string& error, int64_t next_at);

 private:
  bool has_table(const char* name);
  ExceptionStore m_ex;
};

}  // namespace hedge::store
