// web/status: what /health, /status and /metrics say, rendered from a
// StatusInputs gathered on the DNS loop (plain reads of loop-owned state and
// of the store thread's atomics). Pure functions of their input, so tests can
// feed a table of states.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cache/answer_cache.hpp"
#include "monitor/monitor.hpp"
#include "net/http_listener.hpp"
#include "snapshot.hpp"
#include "upstream/forwarder.hpp"
#include "util/metrics.hpp"

namespace hedge::web {

inline constexpr const char* kVersion = "0.1.0";

// [update] max_age (issue 11 adds the key); until it lands: 36 h.
int64_t bundle_max_age_s(const config::Config& cfg) noexcept;

// "2026-12-02T10:00:00Z" -> unix seconds (0 if it does not parse).
int64_t parse_iso_utc(const std::string& s) noexcept;

struct StatusInputs {
  int64_t now = 0;      // wall clock, unix s
  int64_t started = 0;  // when serve started
  int64_t now_ms = 0;   // loop clock
  int64_t last_upstream_answer_ms = 0;
  double qps_1m = 0, qps_15m = 0;
  std::shared_ptr<const Snapshot> hold;  // keeps `snap` alive while rendering
  const Snapshot* snap = nullptr;
  const util::Metrics* metrics = nullptr;
  const cache::AnswerCache* cache = nullptr;
  const upstream::Forwarder* forwarder = nullptr;
  const monitor::Monitor* monitor = nullptr;
  std::vector<const net::HttpListener*> listeners;
  bool time_unsynchronised = false;
};

// Empty: healthy. Else one line per reason.
std::vector<std::string> health_reasons(const StatusInputs& in);
std::string status_json(const StatusInputs& in);
std::string metrics_text(const StatusInputs& in);

// True when the kernel says the clock is not synchronised and a time service
// (systemd-timesyncd, chrony, ntpd) is present to say so.
bool time_unsynchronised() noexcept;

}  // namespace hedge::web
