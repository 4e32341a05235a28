// store/event_store: the monitoring tables in the [store] path database
// (events, incidents, hourly, review_requests, queries; schema in
// docs/monitoring.md and /work/team/INTERFACES.md). Inside `hedge serve` it
// is created and used only in store-thread jobs (monitor/monitor.cpp); the
// CLI (`hedge events`, `hedge incident`) opens its own.
//
// Writes come in batches, one transaction each: repeats of the same client,
// name and type in the same minute add to one row's count (ON CONFLICT ...
// DO UPDATE), so a looping app costs one row a minute, not one per query.
// Retention deletes in small batches so no job holds the write lock long.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "store/sqlite.hpp"
#include "util/pacer.hpp"

namespace hedge::store {

class ExceptionStore;

struct EventRow {
  int64_t at = 0;
  std::string client_ip, device, mac, grp, qname;
  uint16_t qtype = 0;
  std::string categories, tier, rule;
  uint32_t count = 1;
  std::string incident_category;  // non-empty: this attempt raises a safeguarding incident
};

struct HourlyRow {
  int64_t hour = 0;
  std::string grp, category;
  uint64_t allowed = 0, blocked = 0;
};

struct QueryRow {  // log_all_queries: allowed traffic
  int64_t at = 0;
  std::string client_ip, device, mac, grp, qname;
  uint16_t qtype = 0;
  uint32_t count = 1;
};

// What a batch created: for syslog and the incident log line.
struct WrittenEvent {
  int64_t id = 0;
  bool new_row = false;  // false: counted on an existing row of the same minute
  const EventRow* row = nullptr;
  int64_t incident_id = 0;  // 0 = none
};

struct Retention {
  int64_t events_s = int64_t{90} * 86400;
  int64_t hourly_s = int64_t{400} * 86400;
  int64_t queries_s = int64_t{7} * 86400;
};

struct ReviewRow {
  int64_t at = 0;
  std::string kind = "unblock", site, client_ip, grp, who, reason;
};

struct StoredEvent {
  int64_t id = 0, at = 0, last_at = 0, count = 0;
  std::string client_ip, device, mac, grp, qname, categories, tier, rule;
  int64_t qtype = 0;
};

struct Incident {
  int64_t id = 0, at = 0, event_id = 0, acked_at = 0;
  std::string client_ip, device, mac, grp, qname, category, tier, acked_by, ack_note;
};

class EventStore {
 public:
  // Opens or creates the database (WAL) and the monitoring schema.
  bool open(const std::string& path, std::string& err);
  bool is_open() const noexcept { return static_cast<bool>(m_db); }

  // Writes a batch in transactions of at most kRowsPerTransaction rows (the
  // hourly counts with the last), so a CLI writer never waits long for the
  // lock. `written` gets one entry per event committed, so on failure it
  // says which were. With pace, a transaction also ends after kPaceNs of work
  // and the pacer steps after its commit: a flood's backlog is written at
  // that share of a core, in pieces short enough not to throttle the DNS
  // loop under a CPU quota, and never sleeping while it holds the lock.
  static constexpr std::size_t kRowsPerTransaction = 256;
  static constexpr int64_t kPaceNs = 500'000;
  bool write(const std::vector<EventRow>& events, const std::vector<HourlyRow>& hourly,
             const std::vector<QueryRow>& queries, std::vector<WrittenEvent>& written, std::string& err,
             util::Pacer* pace = nullptr);
  // Deletes at most `limit` expired rows (events, hourly, queries, acknowledged
  // incidents and decided review requests older than their retention; open
  // incidents are kept). Returns rows deleted, -1 on error. Call again while it returns `limit`.
  int64_t purge(int64_t now, const Retention& r, int limit, std::string& err);
  int64_t unacked_incidents();
  bool add_review(const ReviewRow& r, int64_t& id, std::string& err);

  // For the CLI and tests: events with since <= at < until, oldest first.
  bool each_event(int64_t since, int64_t until, const std::function<void(const StoredEvent&)>& fn,
                  std::string& err);
  std::vector<Incident> incidents(bool unacked_only);
  Db& db() noexcept { return m_db; }

  // The acknowledgement UPDATE, run on any connection (the audit log's, so
  // the ack and its audit row commit together). False: no such open incident.
  static bool ack_on(Db& db, int64_t id, const std::string& by, const std::string& note, int64_t now,
                     std::string& err);
  // THE incident acknowledgement, for the console and `hedge incident ack`
  // alike: an action note is required; the UPDATE (ack_on) and its
  // 'incident.ack' audit row commit in one transaction on audit's connection.
  static bool ack_audited(ExceptionStore& audit, int64_t id, const std::string& by, const std::string& note,
                          int64_t now, std::string& err);
  // Creates the schema on a connection (idempotent).
  static bool create_schema(Db& db, std::string& err);

 private:
  Db m_db;
};

}  // namespace hedge::store
