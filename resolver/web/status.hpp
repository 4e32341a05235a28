// web/status: what /health, /status and /metrics say, rendered on the web
// thread from a StatusInputs of plain values (the DNS loop's part gathered by
// web/status_source). Pure functions of their input, so tests can feed a
// table of states.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alerts/alert_service.hpp"
#include "blocklists/update/state.hpp"
#include "monitor/monitor.hpp"
#include "policy/filtering_check.hpp"
#include "runtime/system_watch.hpp"
#include "snapshot.hpp"
#include "util/metrics.hpp"

namespace hedge::web {

inline constexpr const char* kVersion = "0.1.0";

// [update] max_age (default 36 h).
int64_t bundle_max_age_s(const config::Config& cfg) noexcept;

// "2026-12-02T10:00:00Z" -> unix seconds (0 if it does not parse).
int64_t parse_iso_utc(const std::string& s) noexcept;

// One upstream server as the forwarder saw it when the facts were gathered.
struct UpstreamFacts {
  std::string address;
  uint32_t srtt_ms = 0;
  uint64_t answers = 0, failures = 0;
  uint32_t consecutive_failures = 0;
};

// The monitoring store's counters (copied from the Monitor and its atomics).
struct MonitorFacts {
  uint64_t queue_depth = 0, dropped = 0, events_written = 0, batches = 0, write_errors = 0;
  uint64_t incidents = 0, reviews = 0, syslog_sent = 0, syslog_dropped = 0, devices = 0;
  bool writable = true;
  int64_t unacked_incidents = 0;
  std::map<std::pair<std::string, std::string>, uint64_t> blocked;  // (group, category id) -> n
  std::vector<monitor::RecentIncident> recent;
};

// One HTTP listener (the web thread's own).
struct ListenerFacts {
  std::string name, address;
  uint64_t connections = 0, accepted = 0, rejected = 0;
  uint64_t held_back = 0;  // waits for the listener's max_requests_per_second
  std::map<int, uint64_t> responses;
};

// Everything /health, /status and /metrics say, as values: the DNS loop
// copies its part (web/status_source) and hands it to the web thread, which
// adds its own listeners and the system facts and renders. Nothing here
// points into another thread's state.
struct StatusInputs {
  int64_t now = 0;        // policy clock, unix s: never earlier than the trusted time
  int64_t clock_now = 0;  // the system clock as it reads (the test clock when set); 0: same as now
  int64_t started = 0;    // when serve started
  int64_t now_ms = 0;     // DNS loop clock
  int64_t last_upstream_answer_ms = 0;
  double qps_1m = 0, qps_15m = 0;
  std::shared_ptr<const Snapshot> hold;  // keeps `snap` alive while rendering (immutable)
  const Snapshot* snap = nullptr;
  util::Metrics metrics;  // a copy
  uint64_t cache_entries = 0;
  std::vector<UpstreamFacts> upstreams;
  std::optional<MonitorFacts> monitor;  // unset: no store
  std::vector<ListenerFacts> listeners;
  // `hedge update`'s state file as last read off the loop (null: not read yet).
  std::shared_ptr<const update::UpdateState> update;
  // Time sync and the first-boot status, read off the loop (null: not read yet).
  std::shared_ptr<const runtime::SystemFacts> system;
  // The alert sender's counters (web thread; unset: no sender).
  std::optional<alerts::AlertService::Facts> alerts;
  // The last built-in filtering check (web thread; null: not run yet) and when it ran.
  std::shared_ptr<const policy::CheckResult> check;
  int64_t check_at = 0;
};

// Empty: healthy. Else one line per reason.
std::vector<std::string> health_reasons(const StatusInputs& in);
std::string status_json(const StatusInputs& in);
std::string metrics_text(const StatusInputs& in);

}  // namespace hedge::web
