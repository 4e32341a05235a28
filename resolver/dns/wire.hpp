// dns/wire: constants and a bounds-checked reader/writer for DNS messages.
// Every read checks the remaining length by subtraction before touching a
// byte (HABITS 6); the writer never writes past its buffer and reports
// overflow so callers can truncate instead.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace hedge::dns {

namespace type {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, MX = 15, TXT = 16, AAAA = 28, SRV = 33,
                          DNAME = 39, OPT = 41, DS = 43, RRSIG = 46, DNSKEY = 48, SVCB = 64, HTTPS = 65,
                          TKEY = 249, TSIG = 250, IXFR = 251, AXFR = 252, MAILB = 253, MAILA = 254, ANY = 255;
}
namespace rcode {
inline constexpr uint16_t NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4, REFUSED = 5,
                          BADVERS = 16;
}
namespace ede {  // RFC 8914
inline constexpr uint16_t STALE_ANSWER = 3, BLOCKED = 15, CENSORED = 16, FILTERED = 17, PROHIBITED = 18,
                          NOT_READY = 14, NO_REACHABLE_AUTHORITY = 22;
}
inline constexpr uint16_t CLASS_IN = 1;
inline constexpr std::size_t HEADER_SIZE = 12;
inline constexpr uint16_t OPT_EDE = 15;

inline uint16_t load16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t load32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void store16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Header flag helpers (bytes 2 and 3).
struct Flags {
  static constexpr uint16_t QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100, RA = 0x0080, AD = 0x0020,
                            CD = 0x0010;
  static uint8_t opcode(uint16_t f) noexcept { return static_cast<uint8_t>((f >> 11) & 0xF); }
  static uint8_t rcode(uint16_t f) noexcept { return static_cast<uint8_t>(f & 0xF); }
};

class Writer {
 public:
  Writer(uint8_t* buf, std::size_t cap) noexcept : m_buf(buf), m_cap(cap) {}
  bool u8(uint8_t v) noexcept {
    if (m_cap - m_len < 1) return fail();
    m_buf[m_len++] = v;
    return true;
  }
  bool u16(uint16_t v) noexcept {
    if (m_cap - m_len < 2) return fail();
    store16(m_buf + m_len, v);
    m_len += 2;
    return true;
  }
  bool u32(uint32_t v) noexcept {
    if (m_cap - m_len < 4) return fail();
    store32(m_buf + m_len, v);
    m_len += 4;
    return true;
  }
  bool bytes(const void* p, std::size_t n) noexcept {
    if (m_cap - m_len < n) return fail();
    if (n) std::memcpy(m_buf + m_len, p, n);
    m_len += n;
    return true;
  }
  // Writes a name given in normal-form text ("a.b.c", "" = root).
  bool text_name(std::string_view name) noexcept;
  std::size_t size() const noexcept { return m_len; }
  uint8_t* data() noexcept { return m_buf; }
  bool ok() const noexcept { return m_ok; }
  void patch16(std::size_t at, uint16_t v) noexcept { store16(m_buf + at, v); }

 private:
  bool fail() noexcept {
    m_ok = false;
    return false;
  }
  uint8_t* m_buf;
  std::size_t m_cap;
  std::size_t m_len = 0;
  bool m_ok = true;
};

// Skips a possibly compressed name starting at `pos` in `msg`; returns the
// offset after it or 0 on any malformation. Pointers must point strictly
// backwards, which bounds the walk.
std::size_t skip_name(std::span<const uint8_t> msg, std::size_t pos) noexcept;

// Decodes a possibly compressed name into normal-form text (lower case,
// \DDD for non-host bytes). Returns false on malformation or overflow.
bool decode_name(std::span<const uint8_t> msg, std::size_t pos, char* out, std::size_t cap,
                 std::size_t& out_len) noexcept;

}  // namespace hedge::dns
