// util/rate_limiter: per-client token buckets in a fixed-size table, so a
// flood of spoofed sources costs bounded memory. A slot holds one client; a
// new client hashing to a busy slot takes it over (lenient, never stricter).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>

namespace hedge::util {

class RateLimiter {
 public:
  explicit RateLimiter(std::size_t slots = 65536);
  void configure(uint32_t qps, uint32_t burst) noexcept {
    m_qps = qps;
    m_burst = burst;
  }
  // True if the client may send one more query at now_ms.
  bool allow(const sockaddr* client, int64_t now_ms) noexcept;

 private:
  struct Slot {
    uint64_t key = 0;
    int64_t last_ms = 0;
    double tokens = 0;
  };
  std::unique_ptr<Slot[]> m_slots;
  std::size_t m_mask;
  uint32_t m_qps = 0, m_burst = 0;
};

}  // namespace hedge::util
