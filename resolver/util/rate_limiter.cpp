// util/rate_limiter: token buckets keyed by full client address, bounded.
#include "util/rate_limiter.hpp"

#include <netinet/in.h>

#include <cstring>

namespace hedge::util {

namespace {
constexpr uint8_t kPrefixTag = 0x80;  // key kind of an IPv6 /64 aggregate
}

RateLimiter::RateLimiter(std::size_t clients, std::size_t prefixes)
    : m_clients(clients), m_prefixes(prefixes) {}

AddrKey RateLimiter::key_of(const sockaddr* client) noexcept {
  AddrKey k{};
  if (client->sa_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(client);
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(&a6->sin6_addr, kMapped, 12) == 0) {
      k[0] = AF_INET;
      std::memcpy(k.data() + 1, &a6->sin6_addr.s6_addr[12], 4);
    } else {
      k[0] = AF_INET6;
      std::memcpy(k.data() + 1, &a6->sin6_addr, 16);
    }
  } else if (client->sa_family == AF_INET) {
    k[0] = AF_INET;
    std::memcpy(k.data() + 1, &reinterpret_cast<const sockaddr_in*>(client)->sin_addr, 4);
  }
  return k;
}

bool RateLimiter::take(Bucket& b, bool fresh, uint32_t qps, uint32_t burst, int64_t now_ms) noexcept {
  if (fresh) {
    b.tokens = burst;
    b.last_ms = now_ms;
  }
  const double elapsed = static_cast<double>(now_ms - b.last_ms) / 1000.0;
  b.last_ms = now_ms;
  b.tokens += elapsed * qps;
  if (b.tokens > burst) b.tokens = burst;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

bool RateLimiter::allow(const sockaddr* client, int64_t now_ms) noexcept {
  if (m_qps == 0 && m_prefix_qps == 0) return true;
  const AddrKey key = key_of(client);
  if (m_qps) {
    bool fresh = false;
    Bucket& b = m_clients.get(key, Bucket{}, fresh);
    if (!take(b, fresh, m_qps, m_burst, now_ms)) return false;
  }
  if (m_prefix_qps && key[0] == AF_INET6) {
    AddrKey pk{};
    pk[0] = kPrefixTag;
    std::memcpy(pk.data() + 1, key.data() + 1, 8);
    bool fresh = false;
    Bucket& p = m_prefixes.get(pk, Bucket{}, fresh);
    if (!take(p, fresh, m_prefix_qps, m_prefix_burst, now_ms)) return false;
  }
  return true;
}

}  // namespace hedge::util
