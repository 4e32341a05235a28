// pipeline: the stage order of a query, written once (see pipeline.cpp).
// Owns the table of questions waiting for upstream (identical questions
// share one upstream resolution). Touched only on the loop thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
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
struct Waiter;

// Where a cache miss goes: the server's upstream::Forwarder (through a thin
// adapter), or a fake in tests. start() completes `r` exactly once through
// Resolution::on_done, possibly before it returns.
class UpstreamPort {
 public:
  virtual void start(upstream::Resolution& r, std::span<const uint8_t> query) noexcept = 0;

 protected:
  ~UpstreamPort() = default;
};

// The two clocks a query reads, read once per query and per upstream answer.
struct Clock {
  int64_t mono_ms = 0;  // the loop's monotonic time: cache ages, rate limits
  int64_t wall_s = 0;   // unix seconds: schedules and exception windows
};

class Pipeline final : public net::QueryHandler {
 public:
  struct Deps {
    cache::AnswerCache& cache;
    UpstreamPort& upstream;
    util::Metrics& metrics;
    util::RateLimiter& limiter;
    net::Responder& responder;
    std::function<Clock()> clock;         // injectable for tests
    monitor::Monitor* monitor = nullptr;  // monitoring log hook (monitor/monitor.hpp); null = none
    // Called (on the loop) the first time a query finds the snapshot's bundle
    // broken (blocklists/mapping_guard.hpp); may be empty.
    std::function<void(const lists::Bundle&)> on_lists_broken = {};
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
  struct Query;  // one query on its way through the stages (pipeline.cpp)
  void on_upstream_done(Pending& p, upstream::Result&& r) noexcept;
  std::size_t limit_for(const net::Origin& o, const dns::ParsedQuery& q) const noexcept;
  // The stages, in order (see the table at the top of pipeline.cpp). Each
  // returns the answer's length (or 0 / net::kDeferred) when it ends the
  // query, or nullopt to pass it on.
  std::optional<std::size_t> stage_parse(Query& x) noexcept;
  std::optional<std::size_t> stage_acl(Query& x) noexcept;
  std::optional<std::size_t> stage_ratelimit(Query& x) noexcept;
  std::optional<std::size_t> stage_reject(Query& x) noexcept;
  void stage_classify(Query& x) noexcept;
  std::optional<std::size_t> stage_decide_block(Query& x) noexcept;
  std::optional<std::size_t> stage_rewrite(Query& x) noexcept;
  std::optional<std::size_t> stage_cache(Query& x) noexcept;
  std::size_t stage_upstream(Query& x) noexcept;
  // The bundle a decision read is damaged: SERVFAIL, never an unfiltered answer.
  std::size_t lists_broken(const Snapshot& s, const dns::ParsedQuery& q, uint8_t* out,
                           std::size_t cap) noexcept;
  std::optional<std::size_t> answer_waiter(const Pending& p, const Waiter& w, const upstream::Result& r,
                                           const Clock& c, uint8_t* out, std::size_t cap) noexcept;

  static constexpr std::size_t kMaxWaiters = 256;  // clients sharing one upstream question
  Deps m_d;
  const lists::Bundle* m_broken_seen = nullptr;
  std::shared_ptr<const Snapshot> m_snap;
  std::unordered_map<std::string_view, std::unique_ptr<Pending>> m_pending;  // keys view into Pending
};

}  // namespace hedge
