// Unit: the strict query parser (drop / FORMERR / NOTIMP / BADVERS / REFUSED / ok).
#include <doctest/doctest.h>

#include <vector>

#include "dns/parse.hpp"
#include "ldns_helpers.hpp"

using hedge::dns::parse_query;
using hedge::dns::ParsedQuery;
using hedge::dns::ParseStatus;

namespace {
std::vector<uint8_t> header(uint16_t flags, uint16_t qd, uint16_t an = 0, uint16_t ns = 0, uint16_t ar = 0) {
  return {0x12,
          0x34,
          static_cast<uint8_t>(flags >> 8),
          static_cast<uint8_t>(flags),
          0,
          static_cast<uint8_t>(qd),
          0,
          static_cast<uint8_t>(an),
          0,
          static_cast<uint8_t>(ns),
          0,
          static_cast<uint8_t>(ar)};
}
void add_question(std::vector<uint8_t>& p, uint16_t type = 1, uint16_t cls = 1) {
  const uint8_t q[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
  p.insert(p.end(), q, q + sizeof q);
  p.push_back(static_cast<uint8_t>(type >> 8));
  p.push_back(static_cast<uint8_t>(type));
  p.push_back(static_cast<uint8_t>(cls >> 8));
  p.push_back(static_cast<uint8_t>(cls));
}
void add_opt(std::vector<uint8_t>& p, uint16_t size, uint8_t version, bool do_bit,
             std::vector<uint8_t> rdata = {}) {
  p.push_back(0);
  p.push_back(0);
  p.push_back(41);
  p.push_back(static_cast<uint8_t>(size >> 8));
  p.push_back(static_cast<uint8_t>(size));
  p.push_back(0);
  p.push_back(version);
  p.push_back(do_bit ? 0x80 : 0);
  p.push_back(0);
  p.push_back(static_cast<uint8_t>(rdata.size() >> 8));
  p.push_back(static_cast<uint8_t>(rdata.size()));
  p.insert(p.end(), rdata.begin(), rdata.end());
}
}  // namespace

TEST_CASE("parse: a normal query from ldns") {
  auto pkt = testutil::make_query("WWW.Example.COM.", LDNS_RR_TYPE_AAAA, 0xbeef, 4096, true);
  ParsedQuery q;
  REQUIRE(parse_query(pkt, q) == ParseStatus::ok);
  CHECK(q.id == 0xbeef);
  CHECK(q.qtype == 28);
  CHECK(q.qclass == 1);
  CHECK(q.name.text() == "www.example.com");
  CHECK(q.edns.present);
  CHECK(q.edns.do_bit);
  CHECK(q.edns.udp_size == 4096);
  CHECK(q.qwire.size() == 17 + 4);
  CHECK(q.qwire[1] == 'W');  // the client's case is kept for the reply
}

TEST_CASE("parse: status table") {
  struct Row {
    const char* what;
    std::vector<uint8_t> pkt;
    ParseStatus want;
  };
  std::vector<Row> rows;
  {
    auto p = header(0x0100, 1);
    add_question(p);
    rows.push_back({"plain query", p, ParseStatus::ok});
  }
  rows.push_back({"runt", {0x12, 0x34, 0x01}, ParseStatus::drop});
  {
    auto p = header(0x8100, 1);
    add_question(p);
    rows.push_back({"QR=1 (a response)", p, ParseStatus::drop});
  }
  {
    auto p = header(0x2000, 1);  // opcode 4 NOTIFY
    add_question(p);
    rows.push_back({"NOTIFY", p, ParseStatus::notimp});
  }
  {
    auto p = header(0x2800, 1);  // opcode 5 UPDATE
    add_question(p);
    rows.push_back({"UPDATE", p, ParseStatus::notimp});
  }
  rows.push_back({"QDCOUNT=0", header(0x0100, 0), ParseStatus::formerr});
  {
    auto p = header(0x0100, 2);
    add_question(p);
    add_question(p);
    rows.push_back({"QDCOUNT=2", p, ParseStatus::formerr});
  }
  {
    auto p = header(0x0100, 1, 1);
    add_question(p);
    rows.push_back({"ANCOUNT=1 claimed", p, ParseStatus::formerr});
  }
  {
    auto p = header(0x0100, 1);
    add_question(p);
    p.pop_back();
    rows.push_back({"question cut short", p, ParseStatus::formerr});
  }
  {
    auto p = header(0x0100, 1);
    const uint8_t q[] = {0xc0, 0x0c, 0, 1, 0, 1};
    p.insert(p.end(), q, q + sizeof q);
    rows.push_back({"compression pointer in question", p, ParseStatus::formerr});
  }
  {
    auto p = header(0x0100, 1);
    add_question(p);
    p.push_back(0);
    rows.push_back({"trailing byte", p, ParseStatus::formerr});
  }
  {
    auto p = header(0x0300, 1);
    add_question(p);
    rows.push_back({"TC=1 in a query", p, ParseStatus::formerr});
  }
  {
    auto p = header(0x0100, 1, 0, 0, 1);
    add_question(p);
    add_opt(p, 1232, 1, false);
    rows.push_back({"EDNS version 1", p, ParseStatus::badvers});
  }
  {
    auto p = header(0x0100, 1, 0, 0, 1);
    add_question(p);
    add_opt(p, 1232, 0, false, {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});  // a client cookie
    rows.push_back({"EDNS with a cookie option", p, ParseStatus::ok});
  }
  {
    auto p = header(0x0100, 1, 0, 0, 1);
    add_question(p);
    add_opt(p, 1232, 0, false, {0, 10, 0, 9, 1, 2});  // option longer than rdata
    rows.push_back({"EDNS option overruns", p, ParseStatus::formerr});
  }
  {
    auto p = header(0x0100, 1, 0, 0, 2);
    add_question(p);
    add_opt(p, 1232, 0, false);
    add_opt(p, 1232, 0, false);
    rows.push_back({"two OPT records", p, ParseStatus::formerr});
  }
  {
    auto p = header(0x0100, 1);
    add_question(p, 252);
    rows.push_back({"AXFR over a forwarder", p, ParseStatus::refused});
  }
  {
    auto p = header(0x0100, 1);
    add_question(p, 16, 3);
    rows.push_back({"CHAOS class", p, ParseStatus::refused});
  }
  {
    auto p = header(0x0100, 1);
    add_question(p, 41);
    rows.push_back({"OPT as a question type", p, ParseStatus::formerr});
  }
  for (const auto& r : rows) {
    CAPTURE(r.what);
    ParsedQuery q;
    CHECK(parse_query(r.pkt, q) == r.want);
  }
}

TEST_CASE("parse: EDNS sizes below 512 count as 512") {
  auto p = header(0x0100, 1, 0, 0, 1);
  add_question(p);
  add_opt(p, 100, 0, false);
  ParsedQuery q;
  REQUIRE(parse_query(p, q) == ParseStatus::ok);
  CHECK(q.edns.udp_size == 512);
}
