// util/metrics: every counter the status endpoint exposes. One instance,
// owned by the server and touched only on the loop thread, so plain integers.
#pragma once

#include <array>
#include <cstdint>

namespace hedge::util {

enum class Result : uint8_t {
  allowed_cache,     // answered from cache
  allowed_upstream,  // answered from an upstream reply
  blocked,           // list match (inappropriate/school tiers)
  blocked_illegal,   // illegal tier
  rewritten,         // safe search
  refused,           // outside allow_clients
  formerr,
  notimp,
  servfail,  // every upstream failed
  stale,     // served stale (RFC 8767)
  dropped,   // QR=1 or unparseable header
  ratelimited,
  count_
};

inline constexpr const char* result_name(Result r) {
  constexpr const char* names[] = {
      "allowed_cache", "allowed_upstream", "blocked",  "blocked_illegal", "rewritten", "refused",
      "formerr",       "notimp",           "servfail", "stale",           "dropped",   "ratelimited"};
  return names[static_cast<int>(r)];
}

struct Metrics {
  std::array<uint64_t, static_cast<int>(Result::count_)> queries{};
  uint64_t udp_queries = 0, tcp_queries = 0, truncated = 0;
  uint64_t cache_hits = 0, cache_misses = 0, cache_inserts = 0, cache_evictions = 0;
  uint64_t upstream_queries = 0, upstream_timeouts = 0, upstream_errors = 0, upstream_mismatched = 0;
  uint64_t upstream_tcp_retries = 0, upstream_shared = 0, upstream_noedns_retries = 0;
  // Upstream latency histogram, upper bounds in ms.
  static constexpr std::array<uint32_t, 8> latency_bounds_ms{1, 5, 10, 25, 50, 100, 250, 1000};
  std::array<uint64_t, 9> upstream_latency{};
  uint64_t upstream_latency_sum_us = 0;
  uint64_t reloads_ok = 0, reloads_failed = 0;
  uint64_t tcp_connections = 0, tcp_rejected = 0;
  // The bundle in use was damaged under us (truncated/overwritten mapped
  // file): every query gets SERVFAIL until a good bundle loads. /health: 503.
  bool lists_broken = false;
  uint64_t lists_broken_events = 0;

  void count(Result r) noexcept { ++queries[static_cast<int>(r)]; }
  void observe_latency_us(uint64_t us) noexcept {
    upstream_latency_sum_us += us;
    std::size_t i = 0;
    while (i < latency_bounds_ms.size() && us > latency_bounds_ms[i] * 1000ull) ++i;
    ++upstream_latency[i];
  }
};

}  // namespace hedge::util
