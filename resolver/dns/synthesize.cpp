// dns/synthesize: building replies in place (RFC 1035, 2308, 6891, 8914).
#include "dns/synthesize.hpp"

#include <algorithm>

#include "dns/wire.hpp"

namespace hedge::dns {
namespace {

// Reply header flags: QR, the query's opcode (RFC 1035 4.1.1: copied, also
// in NOTIMP), RD and CD echoed, RA set.
uint16_t reply_flags(const ParsedQuery& q, uint16_t rcode) noexcept {
  return static_cast<uint16_t>(Flags::QR | Flags::RA | (q.flags & (0x7800 | Flags::RD | Flags::CD)) |
                               (rcode & 0xF));
}

bool write_header(Writer& w, const ParsedQuery& q, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                  uint16_t ar) noexcept {
  return w.u16(q.id) && w.u16(flags) && w.u16(qd) && w.u16(an) && w.u16(ns) && w.u16(ar);
}

// OPT pseudo-RR: our UDP size, extended rcode high bits, DO echoed, EDE option.
bool write_opt(Writer& w, const ParsedQuery& q, uint16_t rcode, EdeInfo ede) noexcept {
  const uint32_t ttl = (static_cast<uint32_t>(rcode >> 4) << 24) | (q.edns.do_bit ? 0x8000u : 0u);
  const std::size_t text_len = std::min<std::size_t>(ede.text.size(), 200);
  const uint16_t rdlen = ede.code ? static_cast<uint16_t>(6 + text_len) : 0;
  bool ok = w.u8(0) && w.u16(type::OPT) && w.u16(kOurUdpSize) && w.u32(ttl) && w.u16(rdlen);
  if (ok && ede.code) {
    ok = w.u16(OPT_EDE) && w.u16(static_cast<uint16_t>(2 + text_len)) && w.u16(ede.code) &&
         w.bytes(ede.text.data(), text_len);
  }
  return ok;
}

}  // namespace

std::size_t write_error(const ParsedQuery& q, uint16_t rcode, EdeInfo ede, uint8_t* out,
                        std::size_t cap) noexcept {
  Writer w(out, cap);
  const bool opt = q.edns.present || rcode > 15;
  write_header(w, q, reply_flags(q, rcode), q.question_ok ? 1 : 0, 0, 0, opt ? 1 : 0);
  if (q.question_ok) w.bytes(q.qwire.data(), q.qwire.size());
  if (opt) write_opt(w, q, rcode, q.edns.present ? ede : EdeInfo{});
  return w.ok() ? w.size() : 0;
}

std::size_t write_truncated(const ParsedQuery& q, uint16_t rcode, uint8_t* out, std::size_t cap) noexcept {
  Writer w(out, cap);
  write_header(w, q, static_cast<uint16_t>(reply_flags(q, rcode) | Flags::TC), 1, 0, 0,
               q.edns.present ? 1 : 0);
  w.bytes(q.qwire.data(), q.qwire.size());
  if (q.edns.present) write_opt(w, q, rcode, {});
  return w.ok() ? w.size() : 0;
}

std::size_t write_block(const ParsedQuery& q, BlockKind kind, const BlockSettings& s, int owner_label,
                        uint32_t ttl, EdeInfo ede, uint8_t* out, std::size_t cap) noexcept {
  if (ttl == 0) ttl = s.ttl;
  const uint16_t qtype = q.qtype;
  bool answer = false;
  if (kind == BlockKind::block_page) {
    answer = (qtype == type::A && s.has_v4) || (qtype == type::AAAA && s.has_v6) ||
             (qtype == type::ANY && s.has_v4);
  }
  const uint16_t rc = kind == BlockKind::nxdomain ? rcode::NXDOMAIN : rcode::NOERROR;
  Writer w(out, cap);
  write_header(w, q, reply_flags(q, rc), 1, answer ? 1 : 0, answer ? 0 : 1, q.edns.present ? 1 : 0);
  w.bytes(q.qwire.data(), q.qwire.size());
  if (answer) {
    const bool v6 = qtype == type::AAAA;
    w.u16(0xC000 | HEADER_SIZE);  // the owner is the question name
    w.u16(v6 ? type::AAAA : type::A);
    w.u16(CLASS_IN);
    w.u32(ttl);
    if (v6) {
      w.u16(16);
      w.bytes(s.v6.data(), 16);
    } else {
      w.u16(4);
      w.bytes(s.v4.data(), 4);
    }
  } else {
    // NODATA / NXDOMAIN carry a SOA so resolvers downstream cache the negative
    // answer for the block TTL (RFC 2308 section 3). Its owner is the list
    // entry (a suffix of the question), written as a pointer into it.
    const std::size_t label = owner_label >= 0 && static_cast<std::size_t>(owner_label) < q.name.label_count()
                                  ? static_cast<std::size_t>(owner_label)
                                  : 0;
    const std::size_t owner_off = q.name.is_root() ? 0 : HEADER_SIZE + q.name.wire_offset(label);
    if (q.name.is_root()) {
      w.u8(0);
    } else {
      w.u16(static_cast<uint16_t>(0xC000 | owner_off));
    }
    w.u16(type::SOA);
    w.u16(CLASS_IN);
    w.u32(ttl);
    const std::size_t rdlen_at = w.size();
    w.u16(0);
    w.text_name("hedge.invalid");
    w.text_name("nobody.invalid");
    w.u32(s.soa_serial);
    w.u32(3600);   // refresh
    w.u32(600);    // retry
    w.u32(86400);  // expire
    w.u32(ttl);    // minimum: the negative TTL
    if (w.ok()) w.patch16(rdlen_at, static_cast<uint16_t>(w.size() - rdlen_at - 2));
  }
  if (q.edns.present) write_opt(w, q, rc, ede);
  return w.ok() ? w.size() : 0;
}

std::size_t write_from_stored(const ParsedQuery& q, const StoredAnswer& a, uint32_t age, uint32_t ttl_cap,
                              uint32_t ttl_floor, EdeInfo ede, std::size_t limit, uint8_t* out,
                              std::size_t cap) noexcept {
  const std::size_t n = a.wire.size();
  if (n < HEADER_SIZE + q.qwire.size()) return 0;
  // Bigger than this client may take (or than our buffer): TC=1 sends it to TCP.
  if (n > cap || n > limit) return write_truncated(q, Flags::rcode(load16(a.wire.data() + 2)), out, cap);
  std::memcpy(out, a.wire.data(), n);
  store16(out, q.id);
  // Keep upstream's AA/AD/rcode bits; take RD/CD from the client; always RA.
  uint16_t f = load16(out + 2);
  f = static_cast<uint16_t>((f & ~(Flags::RD | Flags::CD | Flags::TC | Flags::AA)) | Flags::RA |
                            (q.flags & (Flags::RD | Flags::CD)));
  // RFC 6840 5.8: AD only for clients that asked for it (AD or DO).
  if (!(q.flags & Flags::AD) && !q.edns.do_bit) f = static_cast<uint16_t>(f & ~Flags::AD);
  store16(out + 2, f);
  // The stored question has the same length (same name, other case): restore the client's bytes (0x20).
  std::memcpy(out + HEADER_SIZE, q.qwire.data(), q.qwire.size());
  for (uint16_t off : a.ttl_offsets) {
    if (off + 4u > n) return 0;
    uint32_t t = load32(out + off);
    t = t > age ? t - age : 0;
    if (ttl_cap && t > ttl_cap) t = ttl_cap;
    if (t < ttl_floor) t = ttl_floor;
    store32(out + off, t);
  }
  std::size_t len = n;
  if (q.edns.present) {
    Writer w(out + n, cap - n);
    if (!write_opt(w, q, Flags::rcode(f), ede)) return write_truncated(q, Flags::rcode(f), out, cap);
    len += w.size();
    store16(out + 10, static_cast<uint16_t>(load16(out + 10) + 1));
  }
  if (len > limit) return write_truncated(q, Flags::rcode(f), out, cap);
  return len;
}

std::size_t write_rewrite(const ParsedQuery& q, std::string_view target, const StoredAnswer& a, uint32_t age,
                          uint32_t ttl_cap, std::size_t limit, uint8_t* out, std::size_t cap) noexcept {
  const std::span<const uint8_t> w = a.wire;
  if (w.size() < HEADER_SIZE) return 0;
  const uint16_t rc = Flags::rcode(load16(w.data() + 2));
  const uint16_t an = load16(w.data() + 6);
  std::size_t pos = skip_name(w, HEADER_SIZE);
  if (pos == 0 || w.size() - pos < 4) return 0;
  pos += 4;
  auto age_ttl = [&](uint32_t t) {
    t = t > age ? t - age : 0;
    return ttl_cap && t > ttl_cap ? ttl_cap : t;
  };
  Writer wr(out, cap);
  write_header(wr, q, reply_flags(q, rc), 1, 0, 0, q.edns.present ? 1 : 0);
  wr.bytes(q.qwire.data(), q.qwire.size());
  uint16_t count = 0;
  uint32_t min_ttl = UINT32_MAX;
  // The target's records first, to learn the smallest TTL for the CNAME.
  Writer body(out + cap / 2, cap / 2);
  char name[1024];
  for (uint16_t i = 0; i < an; ++i) {
    std::size_t name_len = 0;
    if (!decode_name(w, pos, name, sizeof name, name_len)) return 0;
    pos = skip_name(w, pos);
    if (pos == 0 || w.size() - pos < 10) return 0;
    const uint16_t type = load16(w.data() + pos), cls = load16(w.data() + pos + 2);
    const uint32_t ttl = age_ttl(load32(w.data() + pos + 4));
    const uint16_t rdlen = load16(w.data() + pos + 8);
    pos += 10;
    if (w.size() - pos < rdlen) return 0;
    min_ttl = std::min(min_ttl, ttl);
    body.text_name({name, name_len});
    body.u16(type);
    body.u16(cls);
    body.u32(ttl);
    if (type == type::CNAME || type == type::DNAME) {
      // The only rdata here that may hold a compressed name (RFC 3597 4).
      std::size_t tlen = 0;
      char tname[1024];
      if (!decode_name(w, pos, tname, sizeof tname, tlen)) return 0;
      const std::size_t at = body.size();
      body.u16(0);
      body.text_name({tname, tlen});
      if (body.ok()) store16(body.data() + at, static_cast<uint16_t>(body.size() - at - 2));
    } else {
      body.u16(rdlen);
      body.bytes(w.data() + pos, rdlen);
    }
    pos += rdlen;
    ++count;
  }
  if (!body.ok()) return 0;
  // CNAME owner = the question (pointer), target uncompressed.
  wr.u16(0xC000 | HEADER_SIZE);
  wr.u16(type::CNAME);
  wr.u16(CLASS_IN);
  wr.u32(min_ttl == UINT32_MAX ? (ttl_cap ? std::min<uint32_t>(ttl_cap, 300) : 300) : min_ttl);
  const std::size_t at = wr.size();
  wr.u16(0);
  wr.text_name(target);
  if (wr.ok()) wr.patch16(at, static_cast<uint16_t>(wr.size() - at - 2));
  if (wr.ok() && wr.size() + body.size() <= cap / 2) {
    std::memmove(out + wr.size(), body.data(), body.size());
    Writer tail(out + wr.size() + body.size(), cap / 2 - wr.size() - body.size());
    if (q.edns.present) write_opt(tail, q, rc, {});
    if (!tail.ok()) return 0;
    store16(out + 6, static_cast<uint16_t>(count + 1));
    const std::size_t n = wr.size() + body.size() + tail.size();
    return n > limit ? write_truncated(q, rc, out, cap) : n;
  }
  return 0;
}

std::size_t write_upstream_query(const ParsedQuery& q, uint16_t id, uint8_t* out, std::size_t cap) noexcept {
  Writer w(out, cap);
  w.u16(id);
  w.u16(static_cast<uint16_t>(Flags::RD | (q.flags & Flags::CD)));
  w.u16(1);
  w.u16(0);
  w.u16(0);
  w.u16(1);
  // Lower-case name: upstream answers are shared by every client's casing.
  const std::size_t name_at = w.size();
  w.bytes(q.qwire.data(), q.qwire.size());
  if (!w.ok()) return 0;
  for (std::size_t i = name_at; i < name_at + q.qname_len; ++i) {
    uint8_t& c = w.data()[i];
    // Only letters inside labels change; length octets are < 64 and never in 'A'..'Z'.
    if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + 32);
  }
  w.u8(0);
  w.u16(type::OPT);
  w.u16(kOurUdpSize);
  w.u32(q.edns.do_bit ? 0x8000u : 0u);
  w.u16(0);
  return w.ok() ? w.size() : 0;
}

}  // namespace hedge::dns
