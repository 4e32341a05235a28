// dns/wire: name skipping/decoding with compression (bounded) and name writing.
#include "dns/wire.hpp"

#include "dns/name.hpp"

namespace hedge::dns {

bool Writer::text_name(std::string_view name) noexcept {
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    if (dot == std::string_view::npos) dot = name.size();
    const std::size_t n = dot - start;
    if (n == 0 || n > 63) return fail();
    if (!u8(static_cast<uint8_t>(n)) || !bytes(name.data() + start, n)) return false;
    start = dot + 1;
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
