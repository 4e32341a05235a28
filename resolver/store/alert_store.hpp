// store/alert_store: the alert sender's view of the [store] path database:
// the alert_queue of store/console_store plus an alert_state table holding
// two high-water marks: the last incident id turned into alerts, and the
// last week a digest was queued for. Turning incidents into queued alerts
// and moving the mark happen in one transaction, so a crash or a restart
// neither loses an alert nor queues one twice (the outbox pattern: the
// monitoring writer never needs to know alerts exist).
//
// Incidents are read without their name, client, device or MAC columns:
// what is never selected cannot end up in a mail.
//
// Threading: inside `hedge serve` created and used only in store-thread
// jobs (alerts/alert_service). Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "alerts/alert_text.hpp"
#include "store/console_store.hpp"

namespace hedge::store {

class AlertStore {
 public:
  bool open(const std::string& path, std::string& err);
  ConsoleStore& console() noexcept { return m_cs; }

  // Incidents newer than the mark become alerts (make() says which), queued
  // with the mark's move in one transaction. The first call on a database
  // sets the mark to the last incident from before `started`: a box that
  // just got an [alerts] section does not mail its whole history.
  // Returns how many alerts were queued, -1 on error.
  using MakeAlerts = std::function<std::vector<Alert>(const alerts::IncidentFacts&)>;
  int queue_incidents(int64_t started, int64_t now, const MakeAlerts& make, std::string& err);

  // Once per ISO week (Monday 00:00 UTC): the counts of the week before,
  // queued through make(). The first call only records the current week.
  using MakeDigest = std::function<std::vector<Alert>(const alerts::DigestFacts&)>;
  int queue_digest(int64_t now, const MakeDigest& make, std::string& err);

  // Counts for [from, to) (exposed for tests).
  alerts::DigestFacts digest_facts(int64_t from, int64_t to);

 private:
  bool state(const char* key, int64_t& v);
  bool set_state(const char* key, int64_t v);
  ConsoleStore m_cs;
};

}  // namespace hedge::store
