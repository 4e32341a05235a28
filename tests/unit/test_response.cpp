// Unit: upstream reply matching and scrubbing (chain, negative TTL, clamps).
#include <doctest/doctest.h>

#include "dns/response.hpp"
#include "ldns_helpers.hpp"

using namespace hedge::dns;

namespace {
// Builds a reply with ldns from zone-file lines.
std::vector<uint8_t> reply_for(const std::vector<uint8_t>& query, ldns_pkt_rcode rc,
                               const std::vector<std::string>& answer,
                               const std::vector<std::string>& authority = {},
                               const std::vector<std::string>& additional = {}) {
  ldns_pkt* q = nullptr;
  REQUIRE(ldns_wire2pkt(&q, query.data(), query.size()) == LDNS_STATUS_OK);
  ldns_pkt_set_qr(q, true);
  ldns_pkt_set_rcode(q, static_cast<uint8_t>(rc));
  auto add = [&](const std::vector<std::string>& lines, ldns_pkt_section s) {
    for (const auto& l : lines) {
      ldns_rr* rr = nullptr;
      REQUIRE(ldns_rr_new_frm_str(&rr, l.c_str(), 300, nullptr, nullptr) == LDNS_STATUS_OK);
      ldns_pkt_push_rr(q, s, rr);
    }
  };
  add(answer, LDNS_SECTION_ANSWER);
  add(authority, LDNS_SECTION_AUTHORITY);
  add(additional, LDNS_SECTION_ADDITIONAL);
  uint8_t* buf = nullptr;
  size_t len = 0;
  ldns_pkt2wire(&buf, q, &len);
  std::vector<uint8_t> out(buf, buf + len);
  free(buf);
  ldns_pkt_free(q);
  return out;
}
}  // namespace

TEST_CASE("check_reply: id, question and TC") {
  auto q = testutil::make_query("www.example.com.", LDNS_RR_TYPE_A, 100);
  auto r = reply_for(q, LDNS_RCODE_NOERROR, {"www.example.com. 300 IN A 192.0.2.1"});
  CHECK(check_reply(r, q) == ReplyCheck::ok);
  auto other_id = testutil::make_query("www.example.com.", LDNS_RR_TYPE_A, 101);
  CHECK(check_reply(r, other_id) == ReplyCheck::mismatch);
  auto other_q = testutil::make_query("www.example.org.", LDNS_RR_TYPE_A, 100);
  CHECK(check_reply(r, other_q) == ReplyCheck::mismatch);
  auto other_t = testutil::make_query("www.example.com.", LDNS_RR_TYPE_AAAA, 100);
  CHECK(check_reply(r, other_t) == ReplyCheck::mismatch);
  auto upper = testutil::make_query("WWW.EXAMPLE.COM.", LDNS_RR_TYPE_A, 100);
  CHECK(check_reply(r, upper) == ReplyCheck::ok);  // case-insensitive (RFC 4343)
  r[2] |= 0x02;                                    // TC
  CHECK(check_reply(r, q) == ReplyCheck::truncated);
  CHECK(check_reply(q, q) == ReplyCheck::mismatch);  // a query (QR=0) is not a reply
}

TEST_CASE("scrub: records off the chain are dropped, chain recorded") {
  auto q = testutil::make_query("www.example.com.", LDNS_RR_TYPE_A, 1);
  auto r = reply_for(
      q, LDNS_RCODE_NOERROR,
      {"www.example.com. 300 IN CNAME cdn.example.net.", "cdn.example.net. 120 IN CNAME edge.tracker.test.",
       "edge.tracker.test. 60 IN A 192.0.2.7", "evil.example.org. 9999 IN A 198.51.100.66"},
      {"example.com. 300 IN NS ns.example.com."}, {"ns.example.com. 300 IN A 192.0.2.53"});
  ScrubbedReply s;
  REQUIRE(scrub_reply(r, {}, s));
  CHECK(s.rcode == 0);
  CHECK_FALSE(s.negative);
  CHECK(s.ttl == 60);
  REQUIRE(s.chain.size() == 2);
  CHECK(s.chain[0] == "cdn.example.net");
  CHECK(s.chain[1] == "edge.tracker.test");
  auto p = testutil::parse(s.wire.data(), s.wire.size());
  REQUIRE(p);
  CHECK(ldns_pkt_ancount(p.get()) == 3);  // the unrelated A record is gone
  CHECK(ldns_pkt_nscount(p.get()) == 0);  // NS of a positive answer dropped
  CHECK(ldns_pkt_arcount(p.get()) == 0);  // no additional, no OPT
  CHECK(s.ttl_offsets.size() == 3);
}

TEST_CASE("scrub: negative answers take the SOA minimum (RFC 2308)") {
  auto q = testutil::make_query("nope.example.com.", LDNS_RR_TYPE_A, 1);
  auto r = reply_for(q, LDNS_RCODE_NXDOMAIN, {},
                     {"example.com. 3600 IN SOA ns.example.com. host.example.com. 1 3600 600 86400 120"});
  ScrubbedReply s;
  REQUIRE(scrub_reply(r, {}, s));
  CHECK(s.negative);
  CHECK(s.rcode == 3);
  CHECK(s.ttl == 120);
  // Without a SOA a negative answer is not cached.
  auto r2 = reply_for(q, LDNS_RCODE_NXDOMAIN, {});
  REQUIRE(scrub_reply(r2, {}, s));
  CHECK(s.ttl == 0);
}

TEST_CASE("scrub: TTL clamps") {
  auto q = testutil::make_query("www.example.com.", LDNS_RR_TYPE_A, 1);
  auto r = reply_for(q, LDNS_RCODE_NOERROR, {"www.example.com. 2000000 IN A 192.0.2.1"});
  ScrubbedReply s;
  REQUIRE(scrub_reply(r, {5, 3600, 600}, s));
  CHECK(s.ttl == 3600);
  auto r0 = reply_for(q, LDNS_RCODE_NOERROR, {"www.example.com. 0 IN A 192.0.2.1"});
  REQUIRE(scrub_reply(r0, {5, 3600, 600}, s));
  CHECK(s.ttl == 5);
}

TEST_CASE("scrub: NODATA and garbage") {
  auto q = testutil::make_query("www.example.com.", LDNS_RR_TYPE_AAAA, 1);
  auto r = reply_for(q, LDNS_RCODE_NOERROR, {},
                     {"example.com. 300 IN SOA ns.example.com. host.example.com. 1 3600 600 86400 60"});
  ScrubbedReply s;
  REQUIRE(scrub_reply(r, {}, s));
  CHECK(s.negative);
  CHECK(s.ttl == 60);
  std::vector<uint8_t> junk(r.begin(), r.begin() + 20);
  CHECK_FALSE(scrub_reply(junk, {}, s));
}
