// web/status_source: query-rate samples and the copy of the DNS loop's state for the status routes.
#include "web/status_source.hpp"

#include <algorithm>

#include "net/uv_handle.hpp"

namespace hedge::web {

void StatusSource::start() {
  m_started = m_d.now();
  m_started_ms = net::now_ms(m_d.loop);
  m_tick = new uv_timer_t;
  uv_timer_init(m_d.loop, m_tick);
  m_tick->data = this;
  // 15 min of 5 s samples = 181; upstream answers are timed by the forwarder itself.
  uv_timer_start(m_tick, &StatusSource::on_tick, 5000, 5000);
}

void StatusSource::close() noexcept {
  if (!m_tick) return;
  uv_close(reinterpret_cast<uv_handle_t*>(m_tick),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  m_tick = nullptr;
}

uint64_t StatusSource::total_queries() const noexcept {
  uint64_t total = 0;
  for (auto q : m_d.metrics.queries) total += q;
  return total;
}

void StatusSource::on_tick(uv_timer_t* t) noexcept {
  auto* self = static_cast<StatusSource*>(t->data);
  self->m_samples.emplace_back(net::now_ms(self->m_d.loop), self->total_queries());
  while (self->m_samples.size() > 181) self->m_samples.pop_front();
}

StatusInputs StatusSource::gather() const {
  StatusInputs in;
  in.now = m_d.now();
  in.clock_now = m_d.clock ? m_d.clock() : in.now;
  in.started = m_started;
  in.now_ms = net::now_ms(m_d.loop);
  in.last_upstream_answer_ms = m_started_ms;  // start time, until a server answers
  for (const auto& s : m_d.forwarder.servers()) {
    in.last_upstream_answer_ms = std::max(in.last_upstream_answer_ms, s.health.last_answer_ms());
    in.upstreams.push_back({s.addr.str(), s.rtt.srtt(), s.health.answers(), s.health.failures(),
                            s.health.consecutive_failures()});
  }
  in.hold = m_d.snapshot();
  in.snap = in.hold.get();
  in.metrics = m_d.metrics;
  in.cache_entries = m_d.cache.entries();
  if (const monitor::Monitor* mon = m_d.monitor) {
    const auto& st = mon->store_stats();
    MonitorFacts f;
    f.queue_depth = mon->queue_depth();
    f.dropped = mon->dropped();
    f.events_written = st.events_written.load();
    f.batches = st.batches.load();
    f.write_errors = st.write_errors.load();
    f.incidents = st.incidents.load();
    f.reviews = st.reviews.load();
    f.syslog_sent = st.syslog_sent.load();
    f.syslog_dropped = st.syslog_dropped.load();
    f.devices = st.devices_loaded.load();
    f.writable = st.store_ok.load();
    f.unacked_incidents = st.unacked_incidents.load();
    f.blocked = mon->blocked_counts();
    f.recent.assign(mon->recent_incidents().begin(), mon->recent_incidents().end());
    in.monitor = std::move(f);
  }
  const uint64_t total = total_queries();
  auto rate = [&](int64_t window_ms) {
    if (m_samples.empty()) return 0.0;
    // The oldest sample inside the window (or the newest there is).
    auto it = std::find_if(m_samples.begin(), m_samples.end(),
                           [&](const auto& s) { return in.now_ms - s.first <= window_ms; });
    if (it == m_samples.end()) it = std::prev(m_samples.end());
    const double secs = static_cast<double>(in.now_ms - it->first) / 1000.0;
    return secs > 0.5 ? static_cast<double>(total - it->second) / secs : 0.0;
  };
  in.qps_1m = rate(60'000);
  in.qps_15m = rate(900'000);
  if (m_d.update_state) in.update = m_d.update_state();
  return in;
}

}  // namespace hedge::web
