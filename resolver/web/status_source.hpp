// web/status_source: the DNS loop's half of the status endpoint. It samples
// the query total every 5 s (queries per second over 1 and 15 minutes) and,
// when the web thread asks (through the server's loop inbox), copies what
// /health, /status and /metrics need into a StatusInputs of plain values:
// the counters, the cache size, each upstream's health, the monitoring
// store's counters, the snapshot and `hedge update`'s state. The copy is
// small (a struct, one map per group and category, the upstream list; its
// time is not measured); parsing, JSON and text happen on the web thread
// (web/web_service). Loop thread only.
#pragma once

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>

#include "cache/answer_cache.hpp"
#include "monitor/monitor.hpp"
#include "snapshot.hpp"
#include "upstream/forwarder.hpp"
#include "util/metrics.hpp"
#include "web/status.hpp"

namespace hedge::web {

struct SourceDeps {
  uv_loop_t* loop;
  std::function<std::shared_ptr<const Snapshot>()> snapshot;
  std::function<int64_t()> now;    // policy wall clock (unix s; the test clock when set)
  std::function<int64_t()> clock;  // the system clock as it reads (the test clock when set)
  const util::Metrics& metrics;
  const cache::AnswerCache& cache;
  const upstream::Forwarder& forwarder;
  const monitor::Monitor* monitor;  // may be null (no store)
  std::function<std::shared_ptr<const update::UpdateState>()> update_state;
};

class StatusSource {
 public:
  explicit StatusSource(SourceDeps d) : m_d(std::move(d)) {}
  ~StatusSource() { close(); }
  StatusSource(const StatusSource&) = delete;
  StatusSource& operator=(const StatusSource&) = delete;

  void start();  // arms the 5 s sample timer
  void close() noexcept;
  // Everything but the web thread's own part (listeners, system facts).
  StatusInputs gather() const;

 private:
  static void on_tick(uv_timer_t* t) noexcept;
  uint64_t total_queries() const noexcept;

  SourceDeps m_d;
  uv_timer_t* m_tick = nullptr;
  int64_t m_started = 0;
  int64_t m_started_ms = 0;                            // loop ms at start: "no answer yet" until one
  std::deque<std::pair<int64_t, uint64_t>> m_samples;  // (loop ms, total queries), every 5 s, 15 min
};

}  // namespace hedge::web
