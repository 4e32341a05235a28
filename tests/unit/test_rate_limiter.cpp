// Unit: the bounded LRU table (util/lru_table.hpp) and the rate limiter on
// top of it: full-address keys, bounded memory under a flood of sources,
// the optional /64 aggregate.
#include <arpa/inet.h>
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "util/lru_table.hpp"
#include "util/rate_limiter.hpp"

using hedge::util::AddrKey;
using hedge::util::LruTable;
using hedge::util::RateLimiter;

namespace {
AddrKey key(uint32_t n) {
  AddrKey k{};
  k[0] = 2;
  std::memcpy(k.data() + 1, &n, 4);
  return k;
}
sockaddr_storage v6(const std::string& ip) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  a->sin6_family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) == 1);
  return ss;
}
sockaddr_storage v4(const std::string& ip) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  REQUIRE(inet_pton(AF_INET, ip.c_str(), &a->sin_addr) == 1);
  return ss;
}
const sockaddr* sa(const sockaddr_storage& s) {
  return reinterpret_cast<const sockaddr*>(&s);
}
}  // namespace

TEST_CASE("lru: find/get, eviction of the least recently used") {
  LruTable<int> t(3);
  bool created = false;
  t.get(key(1), 10, created);
  CHECK(created);
  t.get(key(2), 20, created);
  t.get(key(3), 30, created);
  CHECK(t.size() == 3);
  CHECK(*t.find(key(1)) == 10);  // 1 is now the most recent; 2 the oldest
  t.get(key(4), 40, created);
  CHECK(created);
  CHECK(t.size() == 3);
  CHECK(t.evictions() == 1);
  CHECK(t.find(key(2)) == nullptr);
  CHECK(*t.find(key(3)) == 30);
  int& v = t.get(key(1), 99, created);
  CHECK_FALSE(created);
  CHECK(v == 10);
  std::vector<int> order;
  t.each_oldest_first([&](const AddrKey&, int x) { order.push_back(x); });
  CHECK(order == std::vector<int>{40, 30, 10});
}

TEST_CASE("lru: a flood of distinct keys stays within capacity and keeps chains consistent") {
  LruTable<uint32_t> t(1000);
  bool created = false;
  for (uint32_t i = 0; i < 200000; ++i) {
    uint32_t& v = t.get(key(i), i, created);
    CHECK(v == i);
    if (i % 7 == 0) {
      // A steady client touched all along is never evicted.
      REQUIRE(t.get(key(0xFFFFFFFF), 7, created) == 7);
    }
  }
  CHECK(t.size() == 1000);
  CHECK(t.find(key(0xFFFFFFFF)) != nullptr);
  // The newest 999 (or so) remain; the old ones are gone.
  CHECK(t.find(key(199999)) != nullptr);
  CHECK(t.find(key(5)) == nullptr);
  std::vector<AddrKey> keys;
  t.each_oldest_first([&](const AddrKey& k, uint32_t) { keys.push_back(k); });
  CHECK(keys.size() == 1000);
  for (const auto& k : keys) CHECK(t.find(k) != nullptr);  // every listed key is findable
}

TEST_CASE("rate limiter: IPv6 clients in one /64 have their own buckets") {
  RateLimiter rl(1024);
  rl.configure(10, 5);
  const auto a = v6("2001:db8:1:2::a"), b = v6("2001:db8:1:2::b");
  for (int i = 0; i < 5; ++i) CHECK(rl.allow(sa(a), 1000));
  CHECK_FALSE(rl.allow(sa(a), 1000));                        // a's burst is spent
  for (int i = 0; i < 5; ++i) CHECK(rl.allow(sa(b), 1000));  // b, same /64, is not affected
  CHECK(rl.allow(sa(a), 1100));                              // 100 ms at 10 qps: one token
  CHECK_FALSE(rl.allow(sa(a), 1100));
}

TEST_CASE("rate limiter: IPv4-mapped IPv6 is the IPv4 client") {
  CHECK(RateLimiter::key_of(sa(v6("::ffff:192.0.2.7"))) == RateLimiter::key_of(sa(v4("192.0.2.7"))));
  CHECK(RateLimiter::key_of(sa(v6("2001:db8::1"))) != RateLimiter::key_of(sa(v6("2001:db8::2"))));
}

TEST_CASE("rate limiter: a flood of random sources is bounded and only makes limits lenient") {
  RateLimiter rl(256);
  rl.configure(1, 2);
  const auto victim = v6("2001:db8:5::1");
  CHECK(rl.allow(sa(victim), 0));
  CHECK(rl.allow(sa(victim), 0));
  CHECK_FALSE(rl.allow(sa(victim), 0));
  char buf[64];
  for (int i = 0; i < 100000; ++i) {
    std::snprintf(buf, sizeof buf, "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
    rl.allow(sa(v6(buf)), 0);
  }
  CHECK(rl.tracked() == 256);
  CHECK(rl.evictions() > 0);
  CHECK(rl.allow(sa(victim), 0));  // evicted: a fresh bucket (never stricter)
}

TEST_CASE("rate limiter: the /64 aggregate is off by default and shared when on") {
  char buf[64];
  RateLimiter off(1024);
  off.configure(5, 5);
  int passed = 0;
  for (int i = 1; i <= 100; ++i) {
    std::snprintf(buf, sizeof buf, "2001:db8:7:7::%x", i);
    passed += off.allow(sa(v6(buf)), 0);
  }
  CHECK(passed == 100);
  RateLimiter on(1024);
  on.configure(5, 5, 10, 20);
  passed = 0;
  for (int i = 1; i <= 100; ++i) {
    std::snprintf(buf, sizeof buf, "2001:db8:7:7::%x", i);
    passed += on.allow(sa(v6(buf)), 0);
  }
  CHECK(passed == 20);                            // the /64's burst
  CHECK(on.allow(sa(v6("2001:db8:7:8::1")), 0));  // another /64 is separate
  CHECK(on.allow(sa(v4("192.0.2.1")), 0));        // IPv4 has no aggregate
}
