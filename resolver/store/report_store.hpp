// store/report_store: the SQL side of the reports: reads the monitoring
// tables (events, hourly, incidents, review_requests; owned by
// store/event_store), exceptions, the audit log and filtering checks for a
// period into report::ReportData. Read-only: the console thread runs it on
// its own read-only connection (docs/decisions/0061), the CLI on its own.
// Missing tables (a box that has not logged yet) read as empty.
#pragma once

#include <string>

#include "report/report_model.hpp"
#include "store/sqlite.hpp"

namespace hedge::store {

// The console's events page: blocked attempts matching a filter, newest first.
struct EventFilter {
  int64_t from = 0, to = 0;           // unix seconds, to exclusive
  std::string grp, device, category;  // exact match when not empty (category: one of the row's ids)
  int64_t limit = 500;
};
struct BlockedEvent {
  int64_t at = 0, count = 0;
  std::string client_ip, device, mac, grp, qname, categories, tier, rule;
};
std::vector<BlockedEvent> query_events(const Db& db, const EventFilter& f);
// Dashboard: blocked attempts per category since `from`.
std::vector<std::pair<std::string, int64_t>> blocked_by_category(const Db& db, int64_t from);

bool load_report_data(const Db& db, report::Kind kind, int64_t from, int64_t to, report::ReportData& out,
                      std::string& err);

}  // namespace hedge::store
