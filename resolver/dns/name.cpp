// dns/name: normaliser (libidn2 for IDN) and wire-name decoding for lookups.
#include "dns/name.hpp"

#include <idn2.h>

#include <cstdlib>
#include <memory>

namespace hedge::dns {

const char* to_string(NameError e) noexcept {
  switch (e) {
    case NameError::ok: return "ok";
    case NameError::empty: return "empty name";
    case NameError::too_long: return "name longer than 253 characters";
    case NameError::label_too_long: return "label longer than 63 characters";
    case NameError::empty_label: return "empty label";
    case NameError::invalid_char: return "invalid character in name";
    case NameError::bad_idn: return "invalid internationalised name";
  }
  return "unknown";
}

namespace {

bool is_host_char(unsigned char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

unsigned char lower(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c;
}

// Checks an all-ASCII, already lower-cased candidate for label and name limits.
NameError check_ascii(std::string_view s) noexcept {
  if (s.empty()) return NameError::empty;
  if (s.size() > 253) return NameError::too_long;
  std::size_t label = 0;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '.') {
      if (label == 0) return NameError::empty_label;
      label = 0;
      continue;
    }
    if (!is_host_char(c)) return NameError::invalid_char;
    if (++label > 63) return NameError::label_too_long;
  }
  if (label == 0) return NameError::empty_label;
  return NameError::ok;
}

}  // namespace

NormalisedName normalise_name(std::string_view input) {
  NormalisedName out;
  if (!input.empty() && input.back() == '.') input.remove_suffix(1);
  if (input.empty()) {
    out.error = NameError::empty;
    return out;
  }
  bool ascii = true;
  for (char ch : input) {
    if (static_cast<unsigned char>(ch) >= 0x80) ascii = false;
  }
  if (ascii) {
    out.name.reserve(input.size());
    for (char ch : input) out.name.push_back(static_cast<char>(lower(static_cast<unsigned char>(ch))));
  } else {
    // IDNA2008 with UTS#46 mapping (lower-cases and maps full-width dots),
    // as browsers do, so the list key matches what clients will ask for.
    std::string z(input);
    char* result = nullptr;
    int rc = idn2_to_ascii_8z(z.c_str(), &result, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) {
      rc = idn2_to_ascii_8z(z.c_str(), &result, IDN2_TRANSITIONAL | IDN2_NFC_INPUT);
    }
    std::unique_ptr<char, decltype(&idn2_free)> owned(result, &idn2_free);
    if (rc != IDN2_OK || !result) {
      out.error = NameError::bad_idn;
      return out;
    }
    out.name = result;
    for (char& ch : out.name) ch = static_cast<char>(lower(static_cast<unsigned char>(ch)));
  }
  out.error = check_ascii(out.name);
  if (out.error != NameError::ok) out.name.clear();
  return out;
}

bool QueryName::assign_wire(std::span<const uint8_t> wire) noexcept {
  m_len = 0;
  m_labels = 0;
  std::size_t pos = 0;
  while (true) {
    if (pos >= wire.size()) return false;
    const std::size_t n = wire[pos];
    if (n == 0) return pos + 1 == wire.size();
    if (n > 63) return false;  // compression or extended label: not in a question we decode
    if (wire.size() - pos - 1 < n) return false;
    if (m_labels == max_labels) return false;
    if (m_labels > 0) m_text[m_len++] = '.';
    m_woff[m_labels] = static_cast<uint8_t>(pos);
    m_off[m_labels++] = static_cast<uint16_t>(m_len);
    if (!append_label_text(wire.data() + pos + 1, n, m_text.data(), max_text, m_len)) return false;
    pos += 1 + n;
    if (pos >= 255) return false;  // the terminating zero must fit in 255 octets
  }
}

bool QueryName::assign_text(std::string_view normal) noexcept {
  m_len = 0;
  m_labels = 0;
  if (normal.empty()) return true;
  if (normal.size() > max_text) return false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= normal.size(); ++i) {
    if (i == normal.size() || normal[i] == '.') {
      if (i == start || m_labels == max_labels) return false;
      m_off[m_labels++] = static_cast<uint16_t>(start);
      start = i + 1;
    }
  }
  for (std::size_t i = 0; i < normal.size(); ++i) m_text[i] = normal[i];
  m_len = normal.size();
  return true;
}

bool is_subdomain_of(std::string_view name, std::string_view zone) noexcept {
  if (zone.empty()) return true;
  if (name.size() < zone.size()) return false;
  if (name.substr(name.size() - zone.size()) != zone) return false;
  return name.size() == zone.size() || name[name.size() - zone.size() - 1] == '.';
}

}  // namespace hedge::dns
