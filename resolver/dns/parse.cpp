// dns/parse: strict query parsing (RFC 1035 4.1, RFC 6891 6.1).
#include "dns/parse.hpp"

#include "dns/wire.hpp"

namespace hedge::dns {

ParseStatus parse_query(std::span<const uint8_t> pkt, ParsedQuery& out) noexcept {
  out.question_ok = false;
  out.edns = Edns{};
  if (pkt.size() < HEADER_SIZE) return ParseStatus::drop;
  const uint8_t* h = pkt.data();
  out.id = load16(h);
  out.flags = load16(h + 2);
  if (out.flags & Flags::QR) return ParseStatus::drop;  // never answer an answer (reflection loops)
  const uint16_t qd = load16(h + 4), an = load16(h + 6), ns = load16(h + 8), ar = load16(h + 10);

  // Question first, so even error replies can echo it.
  std::size_t pos = HEADER_SIZE;
  if (qd == 1) {
    const std::size_t name_end = [&]() -> std::size_t {
      std::size_t p = pos;
      while (p < pkt.size()) {
        const uint8_t n = pkt[p];
        if (n == 0) return p + 1;
        if (n > 63) return 0;  // compression or extended label in a question
        if (pkt.size() - p - 1 < n) return 0;
        p += 1 + n;
      }
      return 0;
    }();
    if (name_end != 0 && pkt.size() - name_end >= 4 &&
        out.name.assign_wire(pkt.subspan(pos, name_end - pos))) {
      out.qname_len = name_end - pos;
      out.qtype = load16(pkt.data() + name_end);
      out.qclass = load16(pkt.data() + name_end + 2);
      out.qwire = pkt.subspan(pos, out.qname_len + 4);
      out.question_ok = true;
      pos = name_end + 4;
    }
  }
  if (Flags::opcode(out.flags) != 0) return ParseStatus::notimp;
  if (qd != 1 || !out.question_ok) return ParseStatus::formerr;
  if (an != 0 || ns != 0 || ar > 1) return ParseStatus::formerr;
  if (out.flags & Flags::TC) return ParseStatus::formerr;  // a query cannot be truncated

  if (ar == 1) {
    // The only additional record we accept is OPT, owned by the root.
    if (pkt.size() - pos < 11 || pkt[pos] != 0) return ParseStatus::formerr;
    const uint8_t* r = pkt.data() + pos + 1;
    if (load16(r) != type::OPT) return ParseStatus::formerr;
    const uint16_t size = load16(r + 2);
    const uint32_t ttl = load32(r + 4);
    const uint16_t rdlen = load16(r + 8);
    pos += 11;
    if (pkt.size() - pos < rdlen) return ParseStatus::formerr;
    // Options: each a (code, length, data) triple that must fit exactly.
    std::size_t o = pos, end = pos + rdlen;
    while (o < end) {
      if (end - o < 4) return ParseStatus::formerr;
      const uint16_t olen = load16(pkt.data() + o + 2);
      if (end - o - 4 < olen) return ParseStatus::formerr;
      o += 4 + olen;
    }
    pos = end;
    out.edns.present = true;
    out.edns.udp_size = size < 512 ? 512 : size;
    out.edns.version = static_cast<uint8_t>(ttl >> 16);
    out.edns.do_bit = (ttl & 0x8000) != 0;
  }
  if (pos != pkt.size()) return ParseStatus::formerr;  // trailing bytes
  if (out.edns.present && out.edns.version > 0) return ParseStatus::badvers;
  if (out.qtype == type::OPT) return ParseStatus::formerr;
  if (out.qclass != CLASS_IN) return ParseStatus::refused;
  if (out.qtype == type::AXFR || out.qtype == type::IXFR || out.qtype == type::TKEY ||
      out.qtype == type::TSIG || out.qtype == type::MAILA || out.qtype == type::MAILB)
    return ParseStatus::refused;
  return ParseStatus::ok;
}

}  // namespace hedge::dns
