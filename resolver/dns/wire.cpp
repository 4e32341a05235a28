// dns/wire: name skipping/decoding with compression (bounded) and name writing.
#include "dns/wire.hpp"

#include "dns/name.hpp"

namespace hedge::dns {

// Text form as decode_name() and the name classes write it: labels separated
// by '.', any other byte as \DDD (RFC 1035 5.1; `\X` for a literal X is read
// too). Decoding escapes here keeps a name with a binary or dotted label the
// same name on the way back to the wire instead of writing "\046" verbatim.
bool Writer::text_name(std::string_view name) noexcept {
  std::size_t i = 0, wire_total = 0;
  while (i < name.size()) {
    const std::size_t len_at = m_len;
    if (!u8(0)) return false;  // label length, patched below
    std::size_t n = 0;
    while (i < name.size() && name[i] != '.') {
      uint8_t c = static_cast<uint8_t>(name[i]);
      if (c == '\\') {
        if (name.size() - i >= 4 && name[i + 1] >= '0' && name[i + 1] <= '9') {
          int v = 0;
          for (std::size_t k = 1; k <= 3; ++k) {
            const char d = name[i + k];
            if (d < '0' || d > '9') return fail();
            v = v * 10 + (d - '0');
          }
          if (v > 255) return fail();
          c = static_cast<uint8_t>(v);
          i += 4;
        } else if (i + 1 < name.size() && !(name[i + 1] >= '0' && name[i + 1] <= '9')) {
          c = static_cast<uint8_t>(name[i + 1]);
          i += 2;
        } else {
          return fail();  // a dangling or short escape
        }
      } else {
        ++i;
      }
      if (++n > 63 || !u8(c)) return fail();
    }
    if (n == 0) return fail();  // empty label ("a..b", ".a")
    m_buf[len_at] = static_cast<uint8_t>(n);
    wire_total += n + 1;
    if (wire_total + 1 > 255) return fail();
    if (i < name.size()) ++i;  // the dot (a single trailing one ends the name, as before)
  }
  return u8(0);
}

std::size_t skip_name(std::span<const uint8_t> msg, std::size_t pos) noexcept {
  std::size_t total = 0;
  while (true) {
    if (pos >= msg.size()) return 0;
    const uint8_t n = msg[pos];
    if ((n & 0xC0) == 0xC0) {
      if (msg.size() - pos < 2) return 0;
      return pos + 2;  // a pointer ends the name in this position
    }
    if (n & 0xC0) return 0;  // 0x40/0x80 label types are obsolete (RFC 6891)
    if (n == 0) return pos + 1;
    if (msg.size() - pos - 1 < n) return 0;
    total += n + 1;
    if (total > 255) return 0;
    pos += 1 + n;
  }
}

bool decode_name(std::span<const uint8_t> msg, std::size_t pos, char* out, std::size_t cap,
                 std::size_t& out_len) noexcept {
  out_len = 0;
  std::size_t wire_total = 0;
  std::size_t floor = pos;  // pointers must go strictly below the lowest point seen
  while (true) {
    if (pos >= msg.size()) return false;
    const uint8_t n = msg[pos];
    if ((n & 0xC0) == 0xC0) {
      if (msg.size() - pos < 2) return false;
      const std::size_t target = static_cast<std::size_t>((n & 0x3F) << 8) | msg[pos + 1];
      if (target >= floor) return false;
      floor = target;
      pos = target;
      continue;
    }
    if (n & 0xC0) return false;
    if (n == 0) return true;
    if (msg.size() - pos - 1 < n) return false;
    wire_total += n + 1;
    if (wire_total > 255) return false;
    if (out_len) {
      if (out_len >= cap) return false;
      out[out_len++] = '.';
    }
    if (!append_label_text(msg.data() + pos + 1, n, out, cap, out_len)) return false;
    pos += 1 + n;
  }
}

}  // namespace hedge::dns
