// util/rate_limiter: per-client token buckets, keyed by the client's full
// address (IPv4 or IPv6: a school LAN is one /64, every device in it has its
// own bucket). The buckets live in a bounded LRU table (util/lru_table.hpp),
// so a flood of random source addresses costs fixed memory; an evicted
// client starts again with a full bucket (lenient, never stricter).
//
// Optionally (prefix_qps > 0, off by default) every IPv6 /64 also has an
// aggregate bucket: a query passes only if both its address and its /64 have
// a token. It limits one host that rotates through addresses of its /64.
#pragma once

#include <sys/socket.h>

#include <cstdint>

#include "util/lru_table.hpp"

namespace hedge::util {

class RateLimiter {
 public:
  static constexpr std::size_t kDefaultClients = 65536;  // ~4.5 MB of buckets
  explicit RateLimiter(std::size_t clients = kDefaultClients, std::size_t prefixes = 8192);
  void configure(uint32_t qps, uint32_t burst, uint32_t prefix_qps = 0, uint32_t prefix_burst = 0) noexcept {
    m_qps = qps;
    m_burst = burst;
    m_prefix_qps = prefix_qps;
    m_prefix_burst = prefix_burst ? prefix_burst : prefix_qps * 2;
  }
  // True if the client may send one more query at now_ms.
  bool allow(const sockaddr* client, int64_t now_ms) noexcept;

  // The key of a client address (IPv4-mapped IPv6 is the IPv4 client).
  static AddrKey key_of(const sockaddr* client) noexcept;
  std::size_t tracked() const noexcept { return m_clients.size(); }
  uint64_t evictions() const noexcept { return m_clients.evictions(); }

 private:
  struct Bucket {
    int64_t last_ms = 0;
    double tokens = 0;
  };
  static bool take(Bucket& b, bool fresh, uint32_t qps, uint32_t burst, int64_t now_ms) noexcept;

  LruTable<Bucket> m_clients, m_prefixes;
  uint32_t m_qps = 0, m_burst = 0, m_prefix_qps = 0, m_prefix_burst = 0;
};

}  // namespace hedge::util
