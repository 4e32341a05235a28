// blocklists/list_parser: one line of any list format -> candidates or skips.
#include "blocklists/list_parser.hpp"

#include "blocklists/list_format.hpp"

#include <array>
#include <cstring>

#include "dns/name.hpp"

namespace hedge::lists {

const char* to_string(Format f) noexcept {
  switch (f) {
    case Format::domains: return "domains";
    case Format::hosts: return "hosts";
    case Format::adblock: return "adblock";
    case Format::wildcard: return "wildcard";
    case Format::rpz: return "rpz";
    case Format::dnsmasq: return "dnsmasq";
    case Format::unbound: return "unbound";
  }
  return "domains";
}

std::optional<Format> format_from_string(std::string_view s) noexcept {
  static constexpr std::array all = {Format::domains, Format::hosts,   Format::adblock, Format::wildcard,
                                     Format::rpz,     Format::dnsmasq, Format::unbound};
  for (Format f : all)
    if (s == to_string(f)) return f;
  if (s == "plain") return Format::domains;
  return std::nullopt;
}

const char* to_string(UrlEntries u) noexcept {
  return u == UrlEntries::skip ? "skip" : "block-host";
}

std::optional<UrlEntries> url_entries_from_string(std::string_view s) noexcept {
  if (s == "skip") return UrlEntries::skip;
  if (s == "block-host") return UrlEntries::block_host;
  return std::nullopt;
}

const char* to_string(SkipReason r) noexcept {
  switch (r) {
    case SkipReason::invalid_name: return "invalid-name";
    case SkipReason::single_label: return "single-label";
    case SkipReason::public_suffix: return "public-suffix";
    case SkipReason::ip_address: return "ip-address";
    case SkipReason::cidr: return "cidr";
    case SkipReason::localhost: return "localhost";
    case SkipReason::real_address: return "real-address";
    case SkipReason::url_entry: return "url-entry";
    case SkipReason::adblock_modifier: return "adblock-modifier";
    case SkipReason::adblock_path: return "adblock-path";
    case SkipReason::adblock_cosmetic: return "adblock-cosmetic";
    case SkipReason::adblock_regex: return "adblock-regex";
    case SkipReason::adblock_wildcard: return "adblock-wildcard";
    case SkipReason::rpz_unsupported: return "rpz-unsupported";
    case SkipReason::dnsmasq_unsupported: return "dnsmasq-unsupported";
    case SkipReason::unbound_unsupported: return "unbound-unsupported";
    case SkipReason::excepted: return "excepted";
    case SkipReason::syntax: return "syntax";
    case SkipReason::count_: break;
  }
  return "unknown";
}

using namespace detail;  // the per-format parsers (list_format.hpp)

bool looks_like_ipv4(std::string_view s) noexcept {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t digits = 0;
    unsigned v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && digits < 4) {
      v = v * 10 + static_cast<unsigned>(s[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 3 || v > 255) return false;
    ++parts;
    if (i == s.size()) return parts == 4;
    if (s[i] != '.' || parts == 4) return false;
    ++i;
  }
}

bool looks_like_ip(std::string_view s) noexcept {
  if (looks_like_ipv4(s)) return true;
  if (const auto pct = s.find('%'); pct != std::string_view::npos) s = s.substr(0, pct);
  if (s.size() < 2 || s.find(':') == std::string_view::npos) return false;
  int colons = 0;
  for (char c : s) {
    const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (c == ':')
      ++colons;
    else if (!hex && c != '.')
      return false;
  }
  return colons >= 2 && colons <= 7;
}

void parse_line(Format f, UrlEntries url, std::string_view line, ParseState& st, LineResult& out) {
  out.clear();
  if (st.first_line) {
    st.first_line = false;
    if (line.starts_with("\xEF\xBB\xBF")) line.remove_prefix(3);  // UTF-8 BOM
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const std::string_view t = trim(line);
  if (t.empty()) {
    if (f == Format::rpz && st.paren_depth > 0) out.kind = LineResult::Kind::directive;
    return;
  }
  // Comment styles shared by every format except adblock and RPZ, which have
  // their own (adblock "!" and RPZ ";" are handled inside).
  if (f != Format::adblock && f != Format::rpz) {
    if (t.front() == '#' || t.front() == '!' || t.front() == ';' || t.starts_with("//")) {
      out.kind = LineResult::Kind::comment;
      return;
    }
  }
  switch (f) {
    case Format::domains: parse_plain(line, url, false, out); break;
    case Format::wildcard: parse_plain(line, url, true, out); break;
    case Format::hosts: parse_hosts(line, url, out); break;
    case Format::adblock: parse_adblock(line, url, out); break;
    case Format::dnsmasq: parse_dnsmasq(line, out); break;
    case Format::unbound: parse_unbound(line, out); break;
    case Format::rpz:
      if (t.front() == ';') {
        out.kind = st.paren_depth > 0 ? LineResult::Kind::directive : LineResult::Kind::comment;
        return;
      }
      parse_rpz(line, st, out);
      break;
  }
}

Format detect_format(const std::vector<std::string>& first_lines) {
  std::array<int, 7> score{};
  auto bump = [&](Format f, int n = 1) { score[static_cast<std::size_t>(f)] += n; };
  bool first = true;
  for (const auto& raw : first_lines) {
    std::string_view l = raw;
    if (first && l.starts_with("\xEF\xBB\xBF")) l.remove_prefix(3);
    first = false;
    l = trim(l);
    if (l.empty()) continue;
    if (l.starts_with("[Adblock") || l.starts_with("[AdGuard") || l.front() == '!') {
      bump(Format::adblock);
      continue;
    }
    if (l.front() == '#' || l.front() == ';') continue;
    if (l.starts_with("||") || l.starts_with("@@") || (l.starts_with("|") && l.ends_with("^"))) {
      bump(Format::adblock, 2);
    } else if (l.starts_with("address=/") || l.starts_with("server=/") || l.starts_with("local=/")) {
      bump(Format::dnsmasq, 2);
    } else if (l.starts_with("local-zone:") || l.starts_with("local-data:") || l == "server:") {
      bump(Format::unbound, 2);
    } else if (l.front() == '$' || l.find(" CNAME ") != std::string_view::npos ||
               l.find("\tCNAME\t") != std::string_view::npos || l.find(" SOA ") != std::string_view::npos ||
               l.find(" cname ") != std::string_view::npos) {
      bump(Format::rpz, 2);
    } else if (l.starts_with("*.")) {
      bump(Format::wildcard, 2);
    } else {
      Tokens tk;
      split(l, tk);
      if (tk.n >= 2 && looks_like_ip(tk.t[0]))
        bump(Format::hosts, 2);
      else
        bump(Format::domains, 1);
    }
  }
  // Adblock-only comment headers must not outvote real rules of another format.
  Format best = Format::domains;
  int best_score = 0;
  for (std::size_t i = 0; i < score.size(); ++i) {
    if (score[i] > best_score) {
      best_score = score[i];
      best = static_cast<Format>(i);
    }
  }
  return best;
}

}  // namespace hedge::lists