// Fuzz: the packet path without sockets. Every input is tried both as a
// client query (strict parse, then every answer we could synthesize for it)
// and as an upstream reply to a fixed question (matching, ldns scrubbing,
// then serving the scrubbed answer to a client). Nothing may crash, read out
// of bounds or produce a reply ldns cannot parse.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "cache/answer_cache.hpp"
#include "dns/ldns.hpp"
#include "dns/parse.hpp"
#include "dns/response.hpp"
#include "dns/synthesize.hpp"
#include "dns/wire.hpp"

using namespace hedge::dns;

namespace {
void must_parse(const uint8_t* p, std::size_t n) {
  if (n == 0) return;
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, p, n) != LDNS_STATUS_OK) std::abort();  // we wrote something malformed
  ldns_pkt_free(pkt);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static uint8_t out[65536 + 512];
  const std::span<const uint8_t> in(data, size);

  ParsedQuery q;
  const ParseStatus st = parse_query(in, q);
  if (st != ParseStatus::drop)
    must_parse(out, write_error(q, rcode::FORMERR, {ede::BLOCKED, "x"}, out, sizeof out));
  if (st == ParseStatus::ok) {
    BlockSettings s;
    s.has_v4 = true;
    for (int label = -1; label < 3; ++label) {
      must_parse(out, write_block(q, BlockKind::block_page, s, label, 0, {ede::BLOCKED, "blocked: x"}, out,
                                  sizeof out));
    }
    must_parse(out, write_block(q, BlockKind::nxdomain, s, 0, 0, {}, out, sizeof out));
    must_parse(out, write_truncated(q, 0, out, sizeof out));
    must_parse(out, write_upstream_query(q, 1, out, sizeof out));
    uint8_t key[hedge::cache::kKeyMax];
    (void)hedge::cache::make_key(q.qwire, q.qname_len, q.edns.do_bit, false, key);
  }

  // As an upstream reply: patch in the id and question of a query we "sent".
  static const uint8_t sent[] = {0,   0,   1,   0,   0,   1,   0,   0, 0,   0,   0,   0, 3, 'w', 'w', 'w', 7,
                                 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1,   0,   1};
  char name[1024];
  std::size_t name_len = 0;
  (void)decode_name(in, 12, name, sizeof name, name_len);
  (void)check_reply(in, sent);
  ScrubbedReply r;
  if (scrub_reply(in, {}, r) && r.wire.size() >= 12) {
    for (uint16_t off : r.ttl_offsets)
      if (off + 4u > r.wire.size()) std::abort();
    // Serve it to a client asking the same question (as the pipeline does).
    ParsedQuery cq;
    if (parse_query(std::span<const uint8_t>(r.wire.data(), r.wire.size()), cq) == ParseStatus::drop) {
      // The stored answer has QR=1: build the client query from its question instead.
      std::size_t qend = skip_name(r.wire, 12);
      if (qend && r.wire.size() - qend >= 4) {
        uint8_t query[600];
        const std::size_t qlen = 12 + (qend + 4 - 12);
        if (qlen <= sizeof query) {
          std::memcpy(query, r.wire.data(), qlen);
          query[2] = 1;
          query[3] = 0;
          query[4] = 0;
          query[5] = 1;
          std::memset(query + 6, 0, 6);
          if (parse_query({query, qlen}, cq) == ParseStatus::ok) {
            must_parse(out,
                       write_from_stored(cq, {r.wire, r.ttl_offsets}, 5, 0, 0, {}, 512, out, sizeof out));
          }
        }
      }
    }
  }
  return 0;
}
