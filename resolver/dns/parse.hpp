// dns/parse: the strict parse of a client query (header, one question, at
// most one OPT). Decides the early answers: drop (QR=1, runt), FORMERR,
// NOTIMP, BADVERS. Nothing that fails here is ever forwarded upstream.
#pragma once

#include <cstdint>
#include <span>

#include "dns/name.hpp"

namespace hedge::dns {

struct Edns {
  bool present = false;
  uint8_t version = 0;
  bool do_bit = false;
  uint16_t udp_size = 512;  // the client's advertised size, at least 512
};

enum class ParseStatus : uint8_t {
  ok,
  drop,     // no reply at all: a response (QR=1) or a packet without a header
  formerr,  // reply FORMERR (question echoed if it parsed)
  notimp,   // opcode other than QUERY
  badvers,  // EDNS version > 0: BADVERS with our OPT
  refused,  // a class or meta-type a forwarding filter does not serve (AXFR, CH, ...)
};

struct ParsedQuery {
  uint16_t id = 0;
  uint16_t flags = 0;              // the client's header flags
  std::span<const uint8_t> qwire;  // the question exactly as sent (name + type + class), case kept
  std::size_t qname_len = 0;       // bytes of the wire name within qwire
  uint16_t qtype = 0, qclass = 0;
  bool question_ok = false;  // qwire is valid (even when status is not ok)
  Edns edns;
  QueryName name;  // normal form with suffix views
};

ParseStatus parse_query(std::span<const uint8_t> pkt, ParsedQuery& out) noexcept;

}  // namespace hedge::dns
