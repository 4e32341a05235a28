// blocklists/list_format: what the per-format parsers share (internal to
// the list parser; include only from list_parser*.cpp). Each format lives in
// its own file: list_format_plain.cpp (domains, wildcard, hosts),
// list_format_adblock.cpp, list_format_rpz.cpp, list_format_dnsmasq.cpp,
// list_format_unbound.cpp; list_parser.cpp dispatches a line to one of them.
#pragma once

#include <array>
#include <string_view>

#include "blocklists/list_parser.hpp"

namespace hedge::lists::detail {

inline bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

inline bool starts_with_ci(std::string_view s, std::string_view p) noexcept {
  if (s.size() < p.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != p[i]) return false;
  }
  return true;
}

inline bool equals_ci(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && starts_with_ci(a, b);
}

// Splits on whitespace into at most N tokens (the rest is ignored: a hosts
// line with more names than that is junk anyway and is counted as syntax).
constexpr std::size_t max_tokens = 64;
struct Tokens {
  std::array<std::string_view, max_tokens> t;
  std::size_t n = 0;
  bool overflow = false;
};

void split(std::string_view s, Tokens& out) noexcept;
// Cuts a comment that starts with `c` at the start or after whitespace.
std::string_view cut_comment(std::string_view s, char c, bool anywhere) noexcept;
bool is_localhost_name(std::string_view n) noexcept;
// Addresses hosts files use to mean "nowhere".
bool is_sink_address(std::string_view a) noexcept;
bool is_cidr(std::string_view s) noexcept;
void add_skip(LineResult& out, SkipReason r, std::string_view detail = {});
// The one place a candidate token becomes a name or a skip.
void add_name(std::string_view raw, bool exact, bool url_host, LineResult& out);
// A token that may be a URL ("host/path", "http://host/path"). Returns true
// if it was one (and handled it).
bool handle_url(std::string_view tok, UrlEntries url, LineResult& out);
void parse_domain_token(std::string_view tok, UrlEntries url, bool wildcard_ok, LineResult& out);
void parse_hosts_tokens(const Tokens& tk, UrlEntries url, LineResult& out);

// One line of each format (parse_line has stripped the BOM, '\r' and the
// comment styles every format shares).
void parse_plain(std::string_view line, UrlEntries url, bool wildcard, LineResult& out);
void parse_hosts(std::string_view line, UrlEntries url, LineResult& out);
void parse_adblock(std::string_view line, UrlEntries url, LineResult& out);
void parse_dnsmasq(std::string_view line, LineResult& out);
void parse_unbound(std::string_view line, LineResult& out);
void parse_rpz(std::string_view raw, ParseState& st, LineResult& out);

}  // namespace hedge::lists::detail
