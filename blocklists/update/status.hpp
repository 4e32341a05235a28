// update/status: what /status, /metrics and /health say about list updates,
// as pure functions of the state file (state.hpp) and the bundle being
// served, so the HTTP side (issue 8) only reads the file off the loop and
// calls these. No I/O, no clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "blocklists/update/state.hpp"

namespace hedge::update {

struct ServedBundle {
  uint64_t serial = 0;
  int64_t created = 0, valid_until = 0;  // unix seconds (0 = unknown)
};

struct UpdateHealth {
  bool degraded = false;
  bool clock_behind = false;         // system clock earlier than the newest trusted time
  std::vector<std::string> reasons;  // one line each, for /health and the log
};

// Degraded when the served bundle is older than max_age, past its
// valid_until, or the clock is earlier than the trusted time. The illegal
// tier keeps blocking with the old lists in every case (fail closed).
UpdateHealth update_health(const UpdateState& s, const ServedBundle& b, int64_t max_age_s, int64_t now);

// /status "update" object: last attempt/success/error, failures by reason,
// backoff, serials and times (ISO UTC), and the health reasons.
nlohmann::json update_status_json(const UpdateState& s, const ServedBundle& b, int64_t max_age_s,
                                  int64_t now);

// Prometheus text lines (with HELP/TYPE): hedge_update_last_success_timestamp_seconds,
// hedge_update_last_attempt_timestamp_seconds, hedge_update_failures_total{reason},
// hedge_update_consecutive_failures, hedge_bundle_serial, hedge_bundle_valid_until_timestamp_seconds,
// hedge_clock_behind_trusted_time.
std::string update_metrics_text(const UpdateState& s, const ServedBundle& b, int64_t now);

}  // namespace hedge::update
