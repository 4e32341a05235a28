// cache/answer_cache: upstream answers only (policy runs before the cache,
// so one group's verdict never leaks to another). Keyed by lower-case wire
// name + type + class + DO. Bounded in bytes with LRU eviction; entries
// outlive their TTL for the serve-stale window (RFC 8767) and are then
// dropped lazily. Lookups do not allocate.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/response.hpp"

namespace hedge::cache {

// Builds the cache key into `buf` (at least 260 bytes); returns its view.
// DO and CD are part of it: a CD=1 answer is unvalidated (RFC 4035 4.7) and
// must never reach a CD=0 client.
std::string_view make_key(std::span<const uint8_t> qwire, std::size_t qname_len, bool do_bit, bool cd_bit,
                          uint8_t* buf) noexcept;
inline constexpr std::size_t kKeyMax = 262;

struct Entry {
  std::string key;
  std::vector<uint8_t> wire;
  std::vector<uint16_t> ttl_offsets;
  std::vector<std::string> chain;  // CNAME targets, checked against policy on every hit
  int64_t stored_ms = 0;
  uint32_t ttl = 0;
  uint16_t rcode = 0;
  Entry* prev = nullptr;  // LRU list, most recent at head
  Entry* next = nullptr;
  std::size_t cost() const noexcept;
};

struct Hit {
  const Entry* entry = nullptr;
  uint32_t age = 0;  // seconds since stored
  bool stale = false;
};

class AnswerCache {
 public:
  AnswerCache(std::size_t max_bytes, uint32_t stale_seconds);
  ~AnswerCache();
  AnswerCache(const AnswerCache&) = delete;
  AnswerCache& operator=(const AnswerCache&) = delete;

  // Fresh entry, or (allow_stale) one expired less than stale_seconds ago.
  Hit lookup(std::string_view key, int64_t now_ms, bool allow_stale) noexcept;
  void insert(std::string_view key, dns::ScrubbedReply&& r, int64_t now_ms);
  void clear() noexcept;
  void set_limits(std::size_t max_bytes, uint32_t stale_seconds) noexcept;

  std::size_t entries() const noexcept { return m_map.size(); }
  std::size_t bytes() const noexcept { return m_bytes; }
  uint64_t evictions() const noexcept { return m_evictions; }

 private:
  void unlink(Entry* e) noexcept;
  void push_front(Entry* e) noexcept;
  void erase(Entry* e) noexcept;

  std::unordered_map<std::string_view, std::unique_ptr<Entry>> m_map;  // views into Entry::key
  Entry* m_head = nullptr;
  Entry* m_tail = nullptr;
  std::size_t m_bytes = 0, m_max_bytes;
  uint32_t m_stale_s;
  uint64_t m_evictions = 0;
};

}  // namespace hedge::cache
