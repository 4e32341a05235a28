// Unit: the safe-search rewrite encoder (dns::write_rewrite) and the text-name
// writer it re-encodes names with, read back by ldns (an independent parser).
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "dns/parse.hpp"
#include "dns/synthesize.hpp"
#include "dns/wire.hpp"
#include "ldns_helpers.hpp"

using namespace hedge::dns;

namespace {

// Text name -> wire bytes through Writer::text_name; empty on failure.
std::vector<uint8_t> encode(std::string_view text) {
  uint8_t buf[300];
  Writer w(buf, sizeof buf);
  if (!w.text_name(text) || !w.ok()) return {};
  return {buf, buf + w.size()};
}

std::vector<uint8_t> wire(std::initializer_list<std::string> labels) {
  std::vector<uint8_t> out;
  for (const auto& l : labels) {
    out.push_back(static_cast<uint8_t>(l.size()));
    out.insert(out.end(), l.begin(), l.end());
  }
  out.push_back(0);
  return out;
}

// A stored upstream answer for `owner` (wire form) type A: `n` records
// 192.0.2.1.. with `ttl`, plus one CNAME record first when `cname` is given.
struct Stored {
  std::vector<uint8_t> bytes;
  std::vector<uint16_t> ttl_offsets;
};
Stored upstream_answer(const std::vector<uint8_t>& owner, int n, uint32_t ttl, uint16_t rcode = 0) {
  Stored s;
  auto& b = s.bytes;
  b.reserve(512);
  b.resize(12);  // header: id, QR|RD, RA|rcode, QDCOUNT 1, ANCOUNT n
  b[0] = 0x12;
  b[1] = 0x34;
  b[2] = 0x81;
  b[3] = static_cast<uint8_t>(0x80 | rcode);
  b[5] = 1;
  b[7] = static_cast<uint8_t>(n);
  b.insert(b.end(), owner.begin(), owner.end());
  b.insert(b.end(), {0, 1, 0, 1});
  for (int i = 0; i < n; ++i) {
    b.insert(b.end(), {0xc0, 12, 0, 1, 0, 1});  // compressed owner: the question
    s.ttl_offsets.push_back(static_cast<uint16_t>(b.size()));
    b.insert(b.end(), {static_cast<uint8_t>(ttl >> 24), static_cast<uint8_t>(ttl >> 16),
                       static_cast<uint8_t>(ttl >> 8), static_cast<uint8_t>(ttl), 0, 4, 192, 0, 2,
                       static_cast<uint8_t>(1 + i)});
  }
  return s;
}

std::string rdf(const ldns_rdf* r) {
  char* s = ldns_rdf2str(r);
  std::string out = s ? s : "";
  free(s);
  return out;
}

}  // namespace

TEST_CASE("text_name: table of names, escapes and refusals") {
  struct Row {
    std::string text;
    std::vector<uint8_t> expect;  // empty = refused
  };
  const std::string l63(63, 'a'), l64(64, 'a');
  const Row rows[] = {
      {"", {0}},
      {"example.com", wire({"example", "com"})},
      {"example.com.", wire({"example", "com"})},   // one trailing dot ends the name
      {"a\\.b.example", wire({"a.b", "example"})},  // an escaped dot stays in its label
      {"a\\046b.example", wire({"a.b", "example"})},
      {"x\\032y.example", wire({"x y", "example"})},
      {"\\000\\255.example", wire({std::string("\0\xff", 2), "example"})},
      {"back\\\\slash.example", wire({"back\\slash", "example"})},
      {l63 + ".com", wire({l63, "com"})},
      {l64 + ".com", {}},
      {"a..b", {}},
      {".a", {}},
      {"a\\", {}},         // dangling escape
      {"a\\25", {}},       // short \DDD
      {"a\\256.com", {}},  // out of range
      {"a\\2x5.com", {}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    CHECK(encode(r.text) == r.expect);
  }
  // 255 octets is the limit for the whole wire name (RFC 1035 3.1).
  std::string ok, too_long;
  for (int i = 0; i < 4; ++i)
    ok += (i ? "." : "") + std::string(i < 3 ? 63 : 61, 'b');  // 64*3 + 62 + 1 = 255
  too_long = ok + "b";
  CHECK(encode(ok).size() == 255);
  CHECK(encode(too_long).empty());
  // A label of 63 escaped octets is 63 on the wire, though 252 characters as text.
  std::string esc;
  for (int i = 0; i < 63; ++i) esc += "\\001";
  CHECK(encode(esc + ".com").size() == 1 + 63 + 4 + 1);
}

TEST_CASE("text_name reads back what decode_name writes, byte for byte") {
  // decode_name lower-cases and escapes every non-LDH octet; the writer must undo the escapes.
  const std::vector<std::vector<uint8_t>> names = {
      wire({"www", "google", "co", "uk"}),
      wire({"a.b", "example"}),
      wire({std::string("\0\x01\x7f\xff", 4), "x"}),
      wire({"sp ace", "tab\t", "quote\"", "back\\slash"}),
  };
  for (const auto& n : names) {
    char text[1024];
    std::size_t len = 0;
    REQUIRE(decode_name(n, 0, text, sizeof text, len));
    CAPTURE(std::string(text, len));
    CHECK(encode({text, len}) == n);
  }
}

TEST_CASE("write_rewrite: CNAME to the target, then the target's records, TTLs aged and capped") {
  auto pkt = testutil::make_query("WWW.Google.co.uk.", LDNS_RR_TYPE_A, 0x5151, 1232);
  ParsedQuery q;
  REQUIRE(parse_query(pkt, q) == ParseStatus::ok);
  const auto target = upstream_answer(wire({"forcesafesearch", "google", "com"}), 2, 300);
  uint8_t out[1500];
  std::size_t n = write_rewrite(q, "forcesafesearch.google.com", {target.bytes, target.ttl_offsets}, 100, 0,
                                1232, out, sizeof out);
  REQUIRE(n > 0);
  auto p = testutil::parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_id(p.get()) == 0x5151);
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_NOERROR);
  CHECK(ldns_pkt_qr(p.get()));
  CHECK(ldns_pkt_ra(p.get()));
  // The question is the client's own bytes (0x20 case kept).
  CHECK(rdf(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p.get()), 0))) == "WWW.Google.co.uk.");
  const ldns_rr_list* an = ldns_pkt_answer(p.get());
  REQUIRE(ldns_rr_list_rr_count(an) == 3);
  const ldns_rr* cname = ldns_rr_list_rr(an, 0);
  CHECK(ldns_rr_get_type(cname) == LDNS_RR_TYPE_CNAME);
  CHECK(rdf(ldns_rr_owner(cname)) == "WWW.Google.co.uk.");
  CHECK(rdf(ldns_rr_rdf(cname, 0)) == "forcesafesearch.google.com.");
  CHECK(ldns_rr_ttl(cname) == 200);  // the smallest aged target TTL
  for (std::size_t i = 1; i < 3; ++i) {
    const ldns_rr* a = ldns_rr_list_rr(an, i);
    CHECK(ldns_rr_get_type(a) == LDNS_RR_TYPE_A);
    CHECK(rdf(ldns_rr_owner(a)) == "forcesafesearch.google.com.");
    CHECK(ldns_rr_ttl(a) == 200);
    CHECK(rdf(ldns_rr_rdf(a, 0)) == "192.0.2." + std::to_string(i));
  }
  CHECK(ldns_pkt_edns(p.get()));
  // A schedule cap shortens every TTL, the CNAME's too.
  n = write_rewrite(q, "forcesafesearch.google.com", {target.bytes, target.ttl_offsets}, 0, 42, 1232, out,
                    sizeof out);
  p = testutil::parse(out, n);
  REQUIRE(p);
  for (std::size_t i = 0; i < 3; ++i) CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p.get()), i)) == 42);
}

TEST_CASE("write_rewrite: the target's rcode, an empty answer, and names with escaped octets") {
  auto pkt = testutil::make_query("www.youtube.com.", LDNS_RR_TYPE_A, 7, 1232);
  ParsedQuery q;
  REQUIRE(parse_query(pkt, q) == ParseStatus::ok);
  uint8_t out[1500];
  // The target NXDOMAIN (nothing to add): CNAME alone, rcode carried.
  const auto nx = upstream_answer(wire({"restrict", "youtube", "com"}), 0, 0, 3);
  std::size_t n =
      write_rewrite(q, "restrict.youtube.com", {nx.bytes, nx.ttl_offsets}, 0, 0, 1232, out, sizeof out);
  auto p = testutil::parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_NXDOMAIN);
  REQUIRE(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())) == 1);
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0)) == 300);  // no target TTL: 300 s

  // A target record whose owner has a dotted/binary label (decoded to \DDD
  // text and written back): the same name must reach the client.
  const auto odd_owner = wire({"a.b", std::string("\x01 z", 3), "example"});
  const auto odd = upstream_answer(odd_owner, 1, 60);
  n = write_rewrite(q, "restrict.youtube.com", {odd.bytes, odd.ttl_offsets}, 0, 0, 1232, out, sizeof out);
  p = testutil::parse(out, n);
  REQUIRE(p);
  REQUIRE(ldns_rr_list_rr_count(ldns_pkt_answer(p.get())) == 2);
  const ldns_rdf* owner = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 1));
  REQUIRE(ldns_rdf_size(owner) == odd_owner.size());
  CHECK(std::memcmp(ldns_rdf_data(owner), odd_owner.data(), odd_owner.size()) == 0);

  // Over the client's UDP limit: TC=1 with the question only, so it asks over TCP.
  n = write_rewrite(q, "restrict.youtube.com", {odd.bytes, odd.ttl_offsets}, 0, 0, 60, out, sizeof out);
  p = testutil::parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_tc(p.get()));
  CHECK(ldns_pkt_ancount(p.get()) == 0);
  // Too small a buffer: refused (0), never a partial packet.
  CHECK(write_rewrite(q, "restrict.youtube.com", {odd.bytes, odd.ttl_offsets}, 0, 0, 1232, out, 40) == 0);
}
