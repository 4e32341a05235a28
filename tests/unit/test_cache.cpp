// Unit: the answer cache (TTL expiry, stale window, LRU eviction by bytes, keys).
#include <doctest/doctest.h>

#include "cache/answer_cache.hpp"

using hedge::cache::AnswerCache;
using hedge::dns::ScrubbedReply;

namespace {
ScrubbedReply reply(uint32_t ttl, std::size_t size = 100) {
  ScrubbedReply r;
  r.wire.assign(size, 0);
  r.ttl = ttl;
  return r;
}
}  // namespace

TEST_CASE("cache: fresh, expired, stale window") {
  AnswerCache c(1 << 20, 60);
  c.insert("k", reply(10), 1000);
  CHECK(c.lookup("k", 1000, false).entry != nullptr);
  auto h = c.lookup("k", 5500, false);
  REQUIRE(h.entry);
  CHECK(h.age == 4);
  CHECK_FALSE(h.stale);
  CHECK(c.lookup("k", 11000, false).entry == nullptr);  // expired exactly at TTL
  h = c.lookup("k", 11000, true);
  REQUIRE(h.entry);
  CHECK(h.stale);
  CHECK(c.lookup("k", 71000, true).entry == nullptr);  // past the stale window: gone
  CHECK(c.entries() == 0);
}

TEST_CASE("cache: zero TTL is not stored") {
  AnswerCache c(1 << 20, 60);
  c.insert("k", reply(0), 0);
  CHECK(c.entries() == 0);
}

TEST_CASE("cache: LRU eviction keeps the byte bound") {
  AnswerCache c(10'000, 0);
  for (int i = 0; i < 100; ++i) c.insert("key" + std::to_string(i), reply(100, 500), 0);
  CHECK(c.bytes() <= 10'000);
  CHECK(c.entries() < 100);
  CHECK(c.evictions() > 0);
  CHECK(c.lookup("key99", 0, false).entry != nullptr);  // newest kept
  CHECK(c.lookup("key0", 0, false).entry == nullptr);   // oldest evicted
}

TEST_CASE("cache: a lookup refreshes recency") {
  AnswerCache c(2 * 800, 0);  // room for two 500-byte answers
  c.insert("a", reply(100, 500), 0);
  c.insert("b", reply(100, 500), 0);
  CHECK(c.lookup("a", 0, false).entry);
  c.insert("c", reply(100, 500), 0);  // evicts b, the least recently used
  CHECK(c.lookup("a", 0, false).entry);
  CHECK_FALSE(c.lookup("b", 0, false).entry);
}

TEST_CASE("cache key: case-insensitive name, type, class and DO") {
  const uint8_t q1[] = {3, 'W', 'w', 'W', 0, 0, 1, 0, 1};
  const uint8_t q2[] = {3, 'w', 'w', 'w', 0, 0, 1, 0, 1};
  const uint8_t q3[] = {3, 'w', 'w', 'w', 0, 0, 28, 0, 1};
  uint8_t b1[300], b2[300], b3[300], b4[300];
  auto k1 = hedge::cache::make_key(q1, 5, false, false, b1);
  auto k2 = hedge::cache::make_key(q2, 5, false, false, b2);
  auto k3 = hedge::cache::make_key(q3, 5, false, false, b3);
  auto k4 = hedge::cache::make_key(q2, 5, true, false, b4);
  CHECK(k1 == k2);
  CHECK(k1 != k3);
  CHECK(k1 != k4);
  uint8_t b5[300];
  CHECK(hedge::cache::make_key(q2, 5, false, true, b5) != k2);  // CD=1 answers are kept apart
}
