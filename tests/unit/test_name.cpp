// Unit: the shared name normaliser and the zero-allocation suffix walk.
#include <doctest/doctest.h>

#include <vector>

#include "dns/name.hpp"

using hedge::dns::NameError;
using hedge::dns::normalise_name;
using hedge::dns::QueryName;

TEST_CASE("normalise_name table") {
  struct Row {
    const char* in;
    const char* out;
    NameError err;
  };
  const std::vector<Row> rows = {
      {"Example.COM", "example.com", NameError::ok},
      {"example.com.", "example.com", NameError::ok},
      {"_dns.resolver.arpa", "_dns.resolver.arpa", NameError::ok},
      {"bücher.de", "xn--bcher-kva.de", NameError::ok},
      {"BÜCHER.de", "xn--bcher-kva.de", NameError::ok},
      {"xn--bcher-kva.de", "xn--bcher-kva.de", NameError::ok},
      {"", "", NameError::empty},
      {".", "", NameError::empty},
      {"a..b", "", NameError::empty_label},
      {".a.b", "", NameError::empty_label},
      {"a b.com", "", NameError::invalid_char},
      {"a/b.com", "", NameError::invalid_char},
      {"exa*mple.com", "", NameError::invalid_char},
      {"1.2.3.4", "1.2.3.4", NameError::ok},  // callers decide about IP-looking names
  };
  for (const auto& r : rows) {
    CAPTURE(r.in);
    auto n = normalise_name(r.in);
    CHECK(n.error == r.err);
    CHECK(n.name == r.out);
  }
  CHECK(normalise_name(std::string(64, 'a') + ".com").error == NameError::label_too_long);
  CHECK(normalise_name(std::string(63, 'a') + ".com").error == NameError::ok);
  std::string longname;
  for (int i = 0; i < 50; ++i) longname += "abcd.";
  longname += "com";  // 253 characters
  CHECK(normalise_name(longname).error == NameError::ok);
  CHECK(normalise_name("x" + longname).error == NameError::too_long);
}

TEST_CASE("QueryName decodes wire, lower-cases and walks suffixes") {
  const uint8_t wire[] = {3, 'W', 'w', 'W', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
  QueryName q;
  REQUIRE(q.assign_wire(wire));
  CHECK(q.text() == "www.example.com");
  REQUIRE(q.label_count() == 3);
  CHECK(q.suffix(0) == "www.example.com");
  CHECK(q.suffix(1) == "example.com");
  CHECK(q.suffix(2) == "com");
}

TEST_CASE("QueryName escapes bytes that cannot be in a list key") {
  const uint8_t wire[] = {3, 'a', '.', 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
  QueryName q;
  REQUIRE(q.assign_wire(wire));
  CHECK(q.text() == "a\\046b.example");
  CHECK(q.suffix(1) == "example");
}

TEST_CASE("QueryName rejects malformed wire names") {
  QueryName q;
  const uint8_t truncated[] = {5, 'a', 'b', 0};
  CHECK_FALSE(q.assign_wire(truncated));
  const uint8_t pointer[] = {0xc0, 12};
  CHECK_FALSE(q.assign_wire(pointer));
  const uint8_t trailing[] = {1, 'a', 0, 0};
  CHECK_FALSE(q.assign_wire(trailing));
  const uint8_t root[] = {0};
  CHECK(q.assign_wire(root));
  CHECK(q.is_root());
  std::vector<uint8_t> big;
  for (int i = 0; i < 130; ++i) {
    big.push_back(1);
    big.push_back('a');
  }
  big.push_back(0);
  CHECK_FALSE(q.assign_wire(big));  // over 255 octets
}

TEST_CASE("is_subdomain_of") {
  using hedge::dns::is_subdomain_of;
  CHECK(is_subdomain_of("a.example.com", "example.com"));
  CHECK(is_subdomain_of("example.com", "example.com"));
  CHECK_FALSE(is_subdomain_of("badexample.com", "example.com"));
  CHECK_FALSE(is_subdomain_of("com", "example.com"));
}
