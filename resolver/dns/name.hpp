// dns/name: the one name normaliser shared by list compilation, config and
// query lookup, and the zero-allocation suffix walk over a query name.
//
// Normal form (what list keys and lookups agree on): lower-case ASCII,
// labels joined by '.', no trailing dot, IDN labels as punycode (xn--),
// each label 1..63 octets, whole name at most 253 characters.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace hedge::dns {

enum class NameError : uint8_t {
  ok,
  empty,
  too_long,        // over 253 characters in normal form
  label_too_long,  // a label over 63 octets
  empty_label,     // "a..b" or a leading dot
  invalid_char,    // a character no host name may contain
  bad_idn,         // UTF-8 that libidn2 could not turn into punycode
};

const char* to_string(NameError e) noexcept;

struct NormalisedName {
  std::string name;  // normal form, valid only when error == ok
  NameError error = NameError::ok;
  explicit operator bool() const noexcept { return error == NameError::ok; }
};

// Normalises a host name typed by a person or found in a list file: trims
// nothing (callers split lines), accepts a single trailing dot, upper case
// and UTF-8 IDN. Underscores are accepted (service labels such as _dns).
NormalisedName normalise_name(std::string_view input);

// A query name decoded from wire format into normal form, with the offset of
// every label so each suffix is a string_view into the same buffer: the
// lookup walks "a.b.example.com", "b.example.com", "example.com", "com"
// without allocating. Labels holding bytes a host name cannot contain are
// kept escaped (\DDD) so they never match a list key, but their parents can.
class QueryName {
 public:
  static constexpr std::size_t max_text = 1024;  // 255 octets, worst case escaped
  static constexpr std::size_t max_labels = 128;

  // Decodes an uncompressed wire name (as in a question). Returns false on
  // anything malformed. `wire` must be the exact name bytes.
  bool assign_wire(std::span<const uint8_t> wire) noexcept;
  // For tests and CLI: from normal-form text.
  bool assign_text(std::string_view normal) noexcept;

  std::string_view text() const noexcept { return {m_text.data(), m_len}; }
  std::size_t label_count() const noexcept { return m_labels; }
  // Suffix starting at label i (0 = whole name).
  std::string_view suffix(std::size_t i) const noexcept {
    return {m_text.data() + m_off[i], m_len - m_off[i]};
  }
  bool is_root() const noexcept { return m_labels == 0; }
  // Offset of label i in the wire name it was decoded from (assign_wire only),
  // so a synthesized record can point at a suffix of the question with compression.
  uint8_t wire_offset(std::size_t i) const noexcept { return m_woff[i]; }

 private:
  // Not zero-initialised on purpose: one lives on the stack of every query
  // and only [0, m_len) / [0, m_labels) are ever read.
  std::array<char, max_text> m_text;
  std::array<uint16_t, max_labels> m_off;
  std::array<uint8_t, max_labels> m_woff;
  std::size_t m_len = 0;
  std::size_t m_labels = 0;
};

// Appends one wire label to normal-form text at out[len]: host characters
// lower-cased, any other byte as \DDD (so it can never equal a list key).
// Shared by QueryName and dns/wire's decode_name. False if it does not fit.
inline bool append_label_text(const uint8_t* label, std::size_t n, char* out, std::size_t cap,
                              std::size_t& len) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    uint8_t c = label[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + 32);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
      if (len >= cap) return false;
      out[len++] = static_cast<char>(c);
    } else {
      if (cap - len < 4) return false;
      out[len++] = '\\';
      out[len++] = static_cast<char>('0' + c / 100);
      out[len++] = static_cast<char>('0' + (c / 10) % 10);
      out[len++] = static_cast<char>('0' + c % 10);
    }
  }
  return true;
}

// True if `name` equals `zone` or is a subdomain of it (both normal form).
bool is_subdomain_of(std::string_view name, std::string_view zone) noexcept;

}  // namespace hedge::dns
