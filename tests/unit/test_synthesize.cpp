// Unit: synthesized answers, read back by ldns (an independent parser).
#include <doctest/doctest.h>

#include <cstring>

#include "dns/parse.hpp"
#include "dns/synthesize.hpp"
#include "dns/wire.hpp"
#include "ldns_helpers.hpp"

using namespace hedge::dns;

namespace {
BlockSettings settings(bool v6 = true) {
  BlockSettings s;
  s.has_v4 = true;
  s.v4 = {192, 0, 2, 99};
  s.has_v6 = v6;
  s.v6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99};
  s.ttl = 60;
  return s;
}
}  // namespace

TEST_CASE("block answers: A, AAAA, other types, EDE") {
  struct Row {
    ldns_rr_type type;
    bool v6;
    int answers;
    bool soa;
  };
  const Row rows[] = {
      {LDNS_RR_TYPE_A, true, 1, false},    {LDNS_RR_TYPE_AAAA, true, 1, false},
      {LDNS_RR_TYPE_AAAA, false, 0, true}, {LDNS_RR_TYPE_MX, true, 0, true},
      {LDNS_RR_TYPE_HTTPS, true, 0, true}, {LDNS_RR_TYPE_TXT, true, 0, true},
  };
  for (const auto& r : rows) {
    CAPTURE(r.type);
    CAPTURE(r.v6);
    auto pkt = testutil::make_query("Ads.Tracker.Example.", r.type);
    ParsedQuery q;
    REQUIRE(parse_query(pkt, q) == ParseStatus::ok);
    uint8_t out[1500];
    const std::size_t n = write_block(q, BlockKind::block_page, settings(r.v6), 1, 0,
                                      {ede::BLOCKED, "blocked: pornography"}, out, sizeof out);
    REQUIRE(n > 0);
    auto p = testutil::parse(out, n);
    REQUIRE(p);
    CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_NOERROR);
    CHECK(ldns_pkt_qr(p.get()));
    CHECK(ldns_pkt_ra(p.get()));
    CHECK_FALSE(ldns_pkt_aa(p.get()));
    CHECK(ldns_pkt_id(p.get()) == 0x1234);
    CHECK(ldns_pkt_ancount(p.get()) == r.answers);
    CHECK((ldns_pkt_nscount(p.get()) == 1) == r.soa);
    if (r.answers) {
      ldns_rr* rr = ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0);
      CHECK(ldns_rr_ttl(rr) == 60);
      char* s = ldns_rdf2str(ldns_rr_rdf(rr, 0));
      CHECK(std::string(s) == (r.type == LDNS_RR_TYPE_A ? "192.0.2.99" : "2001:db8::99"));
      free(s);
    }
    if (r.soa) {
      ldns_rr* soa = ldns_rr_list_rr(ldns_pkt_authority(p.get()), 0);
      CHECK(ldns_rr_get_type(soa) == LDNS_RR_TYPE_SOA);
      char* owner = ldns_rdf2str(ldns_rr_owner(soa));
      CHECK(std::string(owner) == "Tracker.Example.");  // the list entry (label 1), client's case
      free(owner);
    }
    std::string text;
    CHECK(testutil::ede_code(out, n, &text) == 15);
    CHECK(text == "blocked: pornography");
  }
}

TEST_CASE("block answer without EDNS carries no OPT") {
  auto pkt = testutil::make_query("x.example.", LDNS_RR_TYPE_A, 7, 0);
  ParsedQuery q;
  REQUIRE(parse_query(pkt, q) == ParseStatus::ok);
  uint8_t out[512];
  const std::size_t n =
      write_block(q, BlockKind::block_page, settings(), 0, 0, {ede::BLOCKED, "x"}, out, sizeof out);
  auto p = testutil::parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_arcount(p.get()) == 0);
}

TEST_CASE("NXDOMAIN kind and error replies") {
  auto pkt = testutil::make_query("use-application-dns.net.", LDNS_RR_TYPE_A);
  ParsedQuery q;
  REQUIRE(parse_query(pkt, q) == ParseStatus::ok);
  uint8_t out[512];
  std::size_t n = write_block(q, BlockKind::nxdomain, settings(), -1, 0, {}, out, sizeof out);
  auto p = testutil::parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_NXDOMAIN);
  n = write_error(q, rcode::SERVFAIL, {ede::NO_REACHABLE_AUTHORITY, "no upstream"}, out, sizeof out);
  p = testutil::parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_get_rcode(p.get()) == LDNS_RCODE_SERVFAIL);
  CHECK(testutil::ede_code(out, n) == 22);
}

TEST_CASE("BADVERS uses the extended rcode in OPT") {
  auto pkt = testutil::make_query("example.", LDNS_RR_TYPE_A);
  ParsedQuery q;
  REQUIRE(parse_query(pkt, q) == ParseStatus::ok);
  uint8_t out[512];
  const std::size_t n = write_error(q, rcode::BADVERS, {}, out, sizeof out);
  auto p = testutil::parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_edns_extended_rcode(p.get()) == 1);  // 16 >> 4
  CHECK((out[3] & 0xF) == 0);
}

TEST_CASE("stored answers: id, case, TTL ageing, truncation") {
  // An upstream-style answer for www.example.com A, TTL 300.
  auto query = testutil::make_query("www.example.com.", LDNS_RR_TYPE_A, 0, 0);
  std::vector<uint8_t> stored(query.begin(), query.end());
  stored[2] |= 0x80;
  stored[7] = 1;  // ANCOUNT
  const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, 10};
  const uint16_t ttl_off = static_cast<uint16_t>(stored.size() + 6);
  stored.insert(stored.end(), rr, rr + sizeof rr);
  const uint16_t offs[] = {ttl_off};

  auto pkt = testutil::make_query("WwW.ExAmple.com.", LDNS_RR_TYPE_A, 0x4242, 1232);
  ParsedQuery q;
  REQUIRE(parse_query(pkt, q) == ParseStatus::ok);
  uint8_t out[1500];
  std::size_t n = write_from_stored(q, {stored, offs}, 100, 0, 0, {}, 1232, out, sizeof out);
  auto p = testutil::parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_id(p.get()) == 0x4242);
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0)) == 200);
  char* qn = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p.get()), 0)));
  CHECK(std::string(qn) == "WwW.ExAmple.com.");
  free(qn);
  CHECK(ldns_pkt_edns(p.get()));
  // TTL cap (schedule window) and floor (stale answers).
  n = write_from_stored(q, {stored, offs}, 0, 42, 0, {}, 1232, out, sizeof out);
  p = testutil::parse(out, n);
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0)) == 42);
  n = write_from_stored(q, {stored, offs}, 1000, 30, 30, {}, 1232, out, sizeof out);
  p = testutil::parse(out, n);
  CHECK(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p.get()), 0)) == 30);
  // Too big for the limit: TC=1, question only.
  n = write_from_stored(q, {stored, offs}, 0, 0, 0, {}, 40, out, sizeof out);
  p = testutil::parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_tc(p.get()));
  CHECK(ldns_pkt_ancount(p.get()) == 0);
}

TEST_CASE("upstream query is lower-case with a fresh id and EDNS") {
  auto pkt = testutil::make_query("WWW.EXAMPLE.COM.", LDNS_RR_TYPE_A, 1, 1232, true);
  ParsedQuery q;
  REQUIRE(parse_query(pkt, q) == ParseStatus::ok);
  uint8_t out[512];
  const std::size_t n = write_upstream_query(q, 0x9999, out, sizeof out);
  auto p = testutil::parse(out, n);
  REQUIRE(p);
  CHECK(ldns_pkt_id(p.get()) == 0x9999);
  CHECK(ldns_pkt_edns_do(p.get()));
  char* qn = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(p.get()), 0)));
  CHECK(std::string(qn) == "www.example.com.");
  free(qn);
}
