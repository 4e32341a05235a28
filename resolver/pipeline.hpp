// pipeline: the stage order of a query, written once (see pipeline.cpp).
// Owns the table of questions waiting for upstream (identical questions
// share one upstream resolution). Touched only on the loop thread.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "cache/answer_cache.hpp"
#include "monitor/monitor.hpp"
#include "net/origin.hpp"
#include "snapshot.hpp"
#include "upstream/forwarder.hpp"
#include "util/metrics.hpp"
#include "util/rate_limiter.hpp"

namespace hedge {

class Pending;

class Pipeline final : public net::QueryHandler {
 public:
  struct Deps {
    uv_loop_t* loop;
    cache::AnswerCache& cache;
    upstream::Forwarder& forwarder;
    util::Metrics& metrics;
    util::RateLimiter& limiter;
    net::Responder& responder;
    std::function<int64_t()> policy_now;  // wall clock (unix s), injectable for tests
    monitor::Monitor* monitor = nullptr;  // monitoring log hook (monitor/monitor.hpp); null = none
  };
  explicit Pipeline(Deps d);
  ~Pipeline();

  void set_snapshot(std::shared_ptr<const Snapshot> s) noexcept { m_snap = std::move(s); }
  void set_monitor(monitor::Monitor* m) noexcept { m_d.monitor = m; }
  const std::shared_ptr<const Snapshot>& snapshot() const noexcept { return m_snap; }

  std::size_t handle(std::span<const uint8_t> query, const net::Origin& o, uint8_t* out,
                     std::size_t cap) noexcept override;
  // Drops every waiting question without answering (shutdown).
  void abandon_pending() noexcept;
  std::size_t pending() const noexcept { return m_pending.size(); }

 private:
  friend class Pending;
  void on_upstream_done(Pending& p, upstream::Result&& r) noexcept;
  std::size_t limit_for(const net::Origin& o, const dns::ParsedQuery& q) const noexcept;

  static constexpr std::size_t kMaxWaiters = 256;  // clients sharing one upstream question
  Deps m_d;
  std::shared_ptr<const Snapshot> m_snap;
  std::unordered_map<std::string_view, std::unique_ptr<Pending>> m_pending;  // keys view into Pending
};

}  // namespace hedge
