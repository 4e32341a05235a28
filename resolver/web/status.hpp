// web/status: what /health, /status and /metrics say, rendered from a
// StatusInputs gathered on the DNS loop (plain reads of loop-owned state and
// of the store thread's atomics). Pure functions of their input, so tests can
// feed a table of states.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "blocklists/update/state.hpp"
#include "cache/answer_cache.hpp"
#include "monitor/monitor.hpp"
#include "net/http_listener.hpp"
#include "runtime/system_watch.hpp"
#include "snapshot.hpp"
#include "upstream/forwarder.hpp"
#include "util/metrics.hpp"

namespace hedge::web {

inline constexpr const char* kVersion = "0.1.0";

// [update] max_age (default 36 h).
int64_t bundle_max_age_s(const config::Config& cfg) noexcept;

// "2026-12-02T10:00:00Z" -> unix seconds (0 if it does not parse).
int64_t parse_iso_utc(const std::string& s) noexcept;

struct StatusInputs {
  int64_t now = 0;        // policy clock, unix s: never earlier than the trusted time
  int64_t clock_now = 0;  // the system clock as it reads (the test clock when set); 0: same as now
  int64_t started = 0;    // when serve started
  int64_t now_ms = 0;     // loop clock
  int64_t last_upstream_answer_ms = 0;
  double qps_1m = 0, qps_15m = 0;
  std::shared_ptr<const Snapshot> hold;  // keeps `snap` alive while rendering
  const Snapshot* snap = nullptr;
  const util::Metrics* metrics = nullptr;
  const cache::AnswerCache* cache = nullptr;
  const upstream::Forwarder* forwarder = nullptr;
  const monitor::Monitor* monitor = nullptr;
  std::vector<const net::HttpListener*> listeners;
  // `hedge update`'s state file as last read off the loop (null: not read yet).
  std::shared_ptr<const update::UpdateState> update;
  // Time sync and the first-boot status, read off the loop (null: not read yet).
  std::shared_ptr<const runtime::SystemFacts> system;
};

// Empty: healthy. Else one line per reason.
std::vector<std::string> health_reasons(const StatusInputs& in);
std::string status_json(const StatusInputs& in);
std::string metrics_text(const StatusInputs& in);

}  // namespace hedge::web
