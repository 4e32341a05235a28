// Unit: SipHash-2-4 against the paper's test vector, and the Bloom prefilter
// (no false negatives, few false positives, hostile file bytes rejected).
#include <doctest/doctest.h>

#include <string>

#include "blocklists/prefilter.hpp"

using hedge::lists::Prefilter;
using hedge::lists::siphash24;

TEST_CASE("siphash24 reference vector (Aumasson and Bernstein, appendix A)") {
  std::array<uint8_t, 16> key{};
  for (int i = 0; i < 16; ++i) key[static_cast<std::size_t>(i)] = static_cast<uint8_t>(i);
  std::string msg;
  for (int i = 0; i < 15; ++i) msg.push_back(static_cast<char>(i));
  CHECK(siphash24(key, msg) == 0xa129ca6149be45e5ull);
}

TEST_CASE("prefilter: every added name passes, unlisted names rarely do") {
  std::array<uint8_t, 16> key{};
  key[3] = 42;
  Prefilter f(2000);
  for (int i = 0; i < 2000; ++i) f.add(key, "listed-" + std::to_string(i) + ".example");
  Prefilter g;
  std::string err;
  REQUIRE(g.parse(f.serialise(), err));
  for (int i = 0; i < 2000; ++i) CHECK(g.maybe_contains(key, "listed-" + std::to_string(i) + ".example"));
  int fp = 0;
  for (int i = 0; i < 100000; ++i) fp += g.maybe_contains(key, "other-" + std::to_string(i) + ".example");
  CHECK(fp < 100);  // expected ~0.05%: 50 of 100,000
  // Another key sees a different filter.
  std::array<uint8_t, 16> other{};
  int hits = 0;
  for (int i = 0; i < 2000; ++i) hits += g.maybe_contains(other, "listed-" + std::to_string(i) + ".example");
  CHECK(hits < 20);
}

TEST_CASE("prefilter: malformed files are rejected") {
  Prefilter f;
  std::string err;
  CHECK_FALSE(f.parse("", err));
  CHECK_FALSE(f.parse("HDGF", err));
  std::string bytes = Prefilter(10).serialise();
  CHECK(f.parse(bytes, err));
  CHECK_FALSE(f.parse(bytes.substr(0, bytes.size() - 8), err));  // truncated
  bytes[8] = 60;                                                 // absurd size
  CHECK_FALSE(f.parse(bytes, err));
}
