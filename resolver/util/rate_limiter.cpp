// util/rate_limiter: token buckets keyed by client address (IPv6 by /64).
#include "util/rate_limiter.hpp"

#include <netinet/in.h>

#include <cstring>

namespace hedge::util {

RateLimiter::RateLimiter(std::size_t slots) : m_slots(new Slot[slots]), m_mask(slots - 1) {}

bool RateLimiter::allow(const sockaddr* client, int64_t now_ms) noexcept {
  if (m_qps == 0) return true;
  uint64_t key = 0;
  if (client->sa_family == AF_INET) {
    key = reinterpret_cast<const sockaddr_in*>(client)->sin_addr.s_addr | (uint64_t{1} << 32);
  } else if (client->sa_family == AF_INET6) {
    // One device usually owns a whole /64 (privacy addresses rotate within it).
    std::memcpy(&key, &reinterpret_cast<const sockaddr_in6*>(client)->sin6_addr, 8);
    key ^= uint64_t{2} << 56;
  }
  uint64_t h = key * 0x9E3779B97F4A7C15ull;
  Slot& s = m_slots[(h >> 32) & m_mask];
  if (s.key != key || s.last_ms == 0) {
    s.key = key;
    s.tokens = m_burst;
    s.last_ms = now_ms;
  }
  const double elapsed = static_cast<double>(now_ms - s.last_ms) / 1000.0;
  s.last_ms = now_ms;
  s.tokens += elapsed * m_qps;
  if (s.tokens > m_burst) s.tokens = m_burst;
  if (s.tokens < 1.0) return false;
  s.tokens -= 1.0;
  return true;
}

}  // namespace hedge::util
