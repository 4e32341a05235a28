// blocklists/list_parser: one line of any list format -> candidates or skips.
#include "blocklists/list_parser.hpp"

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

namespace {

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with_ci(std::string_view s, std::string_view p) noexcept {
  if (s.size() < p.size()) return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != p[i]) return false;
  }
  return true;
}

bool equals_ci(std::string_view a, std::string_view b) noexcept {
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

void split(std::string_view s, Tokens& out) noexcept {
  out.n = 0;
  out.overflow = false;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    if (i >= s.size()) break;
    std::size_t j = i;
    while (j < s.size() && !is_space(s[j])) ++j;
    if (out.n == max_tokens) {
      out.overflow = true;
      return;
    }
    out.t[out.n++] = s.substr(i, j - i);
    i = j;
  }
}

// Cuts a comment that starts with `c` at the start or after whitespace.
std::string_view cut_comment(std::string_view s, char c, bool anywhere) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == c && (anywhere || i == 0 || is_space(s[i - 1]))) return s.substr(0, i);
  }
  return s;
}

bool is_localhost_name(std::string_view n) noexcept {
  static constexpr std::array<std::string_view, 14> names = {"localhost",     "localhost.localdomain",
                                                             "local",         "broadcasthost",
                                                             "ip6-localhost", "ip6-loopback",
                                                             "ip6-localnet",  "ip6-mcastprefix",
                                                             "ip6-allnodes",  "ip6-allrouters",
                                                             "ip6-allhosts",  "0.0.0.0",
                                                             "localdomain",   "localhost4"};
  for (auto x : names)
    if (equals_ci(n, x)) return true;
  return false;
}

// Addresses hosts files use to mean "nowhere".
bool is_sink_address(std::string_view a) noexcept {
  if (a == "0.0.0.0" || a == "::" || a == "::0" || a == "::1" || a == "0:0:0:0:0:0:0:0" ||
      a == "0:0:0:0:0:0:0:1")
    return true;
  return a.starts_with("127.") && looks_like_ipv4(a);
}

bool is_cidr(std::string_view s) noexcept {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos || slash + 1 >= s.size() || s.size() - slash > 4) return false;
  for (char c : s.substr(slash + 1))
    if (c < '0' || c > '9') return false;
  return looks_like_ip(s.substr(0, slash));
}

void add_skip(LineResult& out, SkipReason r, std::string_view detail = {}) {
  out.skipped.push_back(Skip{r, std::string(detail)});
}

// The one place a candidate token becomes a name or a skip.
void add_name(std::string_view raw, bool exact, bool url_host, LineResult& out) {
  if (raw.empty()) {
    add_skip(out, SkipReason::syntax, "empty name");
    return;
  }
  if (is_cidr(raw)) {
    add_skip(out, SkipReason::cidr);
    return;
  }
  if (looks_like_ip(raw)) {
    add_skip(out, SkipReason::ip_address);
    return;
  }
  if (is_localhost_name(raw)) {
    add_skip(out, SkipReason::localhost);
    return;
  }
  auto n = dns::normalise_name(raw);
  if (!n) {
    add_skip(out, SkipReason::invalid_name, dns::to_string(n.error));
    return;
  }
  if (n.name.find('.') == std::string::npos) {
    add_skip(out, SkipReason::single_label);
    return;
  }
  out.accepted.push_back(Candidate{std::move(n.name), exact, url_host});
}

// A token that may be a URL ("host/path", "http://host/path"). Returns true
// if it was one (and handled it).
bool handle_url(std::string_view tok, UrlEntries url, LineResult& out) {
  std::string_view s = tok;
  bool had_scheme = false;
  for (std::string_view scheme : {"http://", "https://", "ftp://"}) {
    if (starts_with_ci(s, scheme)) {
      s.remove_prefix(scheme.size());
      had_scheme = true;
      break;
    }
  }
  const auto slash = s.find_first_of("/?");
  if (!had_scheme && slash == std::string_view::npos) return false;
  if (!had_scheme && is_cidr(tok)) return false;
  std::string_view host = s.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view{} : s.substr(slash);
  if (const auto at = host.rfind('@'); at != std::string_view::npos) host.remove_prefix(at + 1);
  if (const auto colon = host.rfind(':'); colon != std::string_view::npos && host.find(':') == colon) {
    host = host.substr(0, colon);  // host:port (not an IPv6 literal)
  }
  if (path.empty() || path == "/") {
    add_name(host, false, false, out);  // just a host written as a URL
    return true;
  }
  if (url == UrlEntries::skip) {
    add_skip(out, SkipReason::url_entry);
    return true;
  }
  // The listed thing is a page on this host: block the host itself only.
  add_name(host, true, true, out);
  return true;
}

void parse_domain_token(std::string_view tok, UrlEntries url, bool wildcard_ok, LineResult& out) {
  if (handle_url(tok, url, out)) return;
  if (wildcard_ok && tok.starts_with("*.")) tok.remove_prefix(2);
  // Squid-style ".example.com" means the domain and its subdomains, as every entry here does.
  if (tok.size() > 1 && tok.front() == '.' && tok[1] != '.') tok.remove_prefix(1);
  add_name(tok, false, false, out);
}

void parse_hosts_tokens(const Tokens& tk, UrlEntries url, LineResult& out) {
  const std::string_view addr = tk.t[0];
  const bool sink = is_sink_address(addr);
  for (std::size_t i = 1; i < tk.n; ++i) {
    const std::string_view name = tk.t[i];
    if (is_localhost_name(name)) {
      add_skip(out, SkipReason::localhost);
    } else if (!sink) {
      add_skip(out, SkipReason::real_address, addr);
    } else {
      parse_domain_token(name, url, false, out);
    }
  }
}

void parse_plain(std::string_view line, UrlEntries url, bool wildcard, LineResult& out) {
  line = trim(cut_comment(line, '#', true));
  if (line.empty()) {
    out.kind = LineResult::Kind::comment;
    return;
  }
  out.kind = LineResult::Kind::entries;
  Tokens tk;
  split(line, tk);
  if (tk.overflow) {
    add_skip(out, SkipReason::syntax, "too many fields");
    return;
  }
  if (tk.n >= 2 && looks_like_ip(tk.t[0])) {
    parse_hosts_tokens(tk, url, out);  // a hosts line inside a domains list
    return;
  }
  if (tk.n != 1) {
    add_skip(out, SkipReason::syntax, "more than one field");
    return;
  }
  parse_domain_token(tk.t[0], url, wildcard, out);
}

void parse_hosts(std::string_view line, UrlEntries url, LineResult& out) {
  line = trim(cut_comment(line, '#', true));
  if (line.empty()) {
    out.kind = LineResult::Kind::comment;
    return;
  }
  out.kind = LineResult::Kind::entries;
  Tokens tk;
  split(line, tk);
  if (tk.overflow) {
    add_skip(out, SkipReason::syntax, "too many fields");
    return;
  }
  if (tk.n == 1) {
    parse_domain_token(tk.t[0], url, false, out);  // a bare name in a hosts file: a block
    return;
  }
  if (!looks_like_ip(tk.t[0])) {
    add_skip(out, SkipReason::syntax, "first field is not an address");
    return;
  }
  parse_hosts_tokens(tk, url, out);
}

void parse_adblock(std::string_view line, UrlEntries url, LineResult& out) {
  line = trim(line);
  if (line.empty()) return;
  if (line.front() == '!' || line.front() == '#' || (line.front() == '[' && line.back() == ']')) {
    // "# " lines are comments in the hosts-derived adblock lists; "##" would
    // be a cosmetic rule for every site, which no DNS list means.
    if (!line.starts_with("##") && !line.starts_with("#@#") && !line.starts_with("#?#")) {
      out.kind = LineResult::Kind::comment;
      return;
    }
  }
  out.kind = LineResult::Kind::entries;
  for (std::string_view marker : {"##", "#@#", "#?#", "#$#", "#%#", "$$", "#@$#", "#@%#"}) {
    if (line.find(marker) != std::string_view::npos) {
      add_skip(out, SkipReason::adblock_cosmetic);
      return;
    }
  }
  std::string_view rule = line;
  if (rule.starts_with("@@")) {
    out.allow = true;
    rule.remove_prefix(2);
  }
  if (rule.size() >= 2 && rule.front() == '/' &&
      (rule.back() == '/' || rule.find("/$") != std::string_view::npos)) {
    add_skip(out, SkipReason::adblock_regex);
    return;
  }
  // Modifiers after the last '$': only $important (and an empty one, as in
  // "||d^$") keep their DNS meaning; the rest would change what is blocked.
  if (const auto dollar = rule.rfind('$'); dollar != std::string_view::npos) {
    std::string_view mods = rule.substr(dollar + 1);
    rule = rule.substr(0, dollar);
    while (!mods.empty()) {
      const auto comma = mods.find(',');
      const std::string_view m = trim(mods.substr(0, comma));
      if (!m.empty() && m != "important") {
        add_skip(out, SkipReason::adblock_modifier, m.substr(0, 40));
        return;
      }
      if (comma == std::string_view::npos) break;
      mods.remove_prefix(comma + 1);
    }
  }
  bool exact = false;
  bool anchored = false;
  if (rule.starts_with("||")) {
    rule.remove_prefix(2);
    anchored = true;
  } else if (rule.starts_with("|")) {
    rule.remove_prefix(1);
    for (std::string_view scheme : {"http://", "https://"}) {
      if (starts_with_ci(rule, scheme)) rule.remove_prefix(scheme.size());
    }
    exact = true;
    anchored = true;
  }
  if (rule.ends_with("|")) rule.remove_suffix(1);
  if (rule.ends_with("^")) rule.remove_suffix(1);
  if (rule.ends_with("/")) rule.remove_suffix(1);
  if (rule.find('/') != std::string_view::npos || rule.find('^') != std::string_view::npos) {
    add_skip(out, SkipReason::adblock_path);
    return;
  }
  if (rule.find('*') != std::string_view::npos) {
    add_skip(out, SkipReason::adblock_wildcard);
    return;
  }
  if (!anchored) {
    // Some DNS-flavoured adblock lists carry hosts lines or bare names.
    Tokens tk;
    split(rule, tk);
    if (tk.n >= 2 && looks_like_ip(tk.t[0])) {
      parse_hosts_tokens(tk, url, out);
      return;
    }
  }
  add_name(trim(rule), exact, false, out);
}

void parse_dnsmasq(std::string_view line, LineResult& out) {
  line = trim(cut_comment(line, '#', false));
  if (line.empty()) {
    out.kind = LineResult::Kind::comment;
    return;
  }
  const auto eq = line.find('=');
  if (eq == std::string_view::npos) {
    out.kind = LineResult::Kind::entries;
    add_skip(out, SkipReason::syntax, "not an option=value line");
    return;
  }
  const std::string_view key = trim(line.substr(0, eq));
  std::string_view val = trim(line.substr(eq + 1));
  if (key != "address" && key != "server" && key != "local") {
    out.kind = LineResult::Kind::directive;
    return;
  }
  out.kind = LineResult::Kind::entries;
  if (!val.starts_with("/")) {
    add_skip(out, SkipReason::dnsmasq_unsupported, "no /domain/");
    return;
  }
  val.remove_prefix(1);
  const auto last = val.rfind('/');
  if (last == std::string_view::npos) {
    add_skip(out, SkipReason::syntax, "unterminated /domain/");
    return;
  }
  const std::string_view target = val.substr(last + 1);
  std::string_view domains = val.substr(0, last);
  const bool block = key == "address" ? (target.empty() || target == "#" || is_sink_address(target))
                                      : target.empty() || target == "#";
  std::size_t count = 0;
  while (true) {
    const auto slash = domains.find('/');
    const std::string_view d = domains.substr(0, slash);
    ++count;
    if (d.empty() || d == "#") {
      add_skip(out, SkipReason::dnsmasq_unsupported, "matches every domain");
    } else if (!block) {
      add_skip(out, key == "address" ? SkipReason::real_address : SkipReason::dnsmasq_unsupported, target);
    } else {
      add_name(d.starts_with(".") ? d.substr(1) : d, false, false, out);
    }
    if (slash == std::string_view::npos || count > max_tokens) break;
    domains.remove_prefix(slash + 1);
  }
}

void parse_unbound(std::string_view line, LineResult& out) {
  line = trim(cut_comment(line, '#', false));
  if (line.empty()) {
    out.kind = LineResult::Kind::comment;
    return;
  }
  if (!line.starts_with("local-zone:")) {
    out.kind = LineResult::Kind::directive;
    if (line.starts_with("local-data:") || line.starts_with("local-data-ptr:")) {
      out.kind = LineResult::Kind::entries;
      add_skip(out, SkipReason::unbound_unsupported, "local-data");
    }
    return;
  }
  out.kind = LineResult::Kind::entries;
  std::string_view rest = trim(line.substr(std::strlen("local-zone:")));
  std::string_view name;
  if (rest.starts_with("\"")) {
    const auto close = rest.find('"', 1);
    if (close == std::string_view::npos) {
      add_skip(out, SkipReason::syntax, "unterminated quote");
      return;
    }
    name = rest.substr(1, close - 1);
    rest = trim(rest.substr(close + 1));
  } else {
    const auto sp = rest.find_first_of(" \t");
    name = rest.substr(0, sp);
    rest = sp == std::string_view::npos ? std::string_view{} : trim(rest.substr(sp));
  }
  static constexpr std::array<std::string_view, 9> blocking = {
      "always_nxdomain", "always_refuse", "always_null", "refuse", "static", "deny",
      "inform_deny",     "always_deny",   "noview"};
  for (auto b : blocking) {
    if (rest == b) {
      add_name(name, false, false, out);
      return;
    }
  }
  add_skip(out, SkipReason::unbound_unsupported, rest.substr(0, 40));
}

void parse_rpz(std::string_view raw, ParseState& st, LineResult& out) {
  std::string_view line = cut_comment(raw, ';', true);
  const bool continuation = !line.empty() && is_space(line.front());
  line = trim(line);
  // Multi-line records (the SOA) are zone plumbing, never entries.
  int depth = st.paren_depth;
  for (char c : line) {
    if (c == '(') ++depth;
    if (c == ')' && depth > 0) --depth;
  }
  const bool inside = st.paren_depth > 0;
  st.paren_depth = depth;
  if (line.empty()) {
    out.kind = inside ? LineResult::Kind::directive : LineResult::Kind::comment;
    return;
  }
  if (inside || line.front() == '$' || continuation) {
    out.kind = LineResult::Kind::directive;
    if (starts_with_ci(line, "$origin")) {
      Tokens tk;
      split(line, tk);
      st.origin.clear();
      if (tk.n >= 2 && tk.t[1] != ".") {
        auto n = dns::normalise_name(tk.t[1]);
        if (n) st.origin = std::move(n.name);
      }
    }
    return;
  }
  Tokens tk;
  split(line, tk);
  if (tk.overflow || tk.n < 3) {
    out.kind = LineResult::Kind::entries;
    add_skip(out, SkipReason::syntax, "not a resource record");
    return;
  }
  std::size_t i = 1;
  // owner [ttl] [class] type rdata, with ttl and class in either order.
  for (int k = 0; k < 2 && i < tk.n; ++k) {
    const std::string_view t = tk.t[i];
    const bool ttl = !t.empty() && t.find_first_not_of("0123456789smhdwSMHDW") == std::string_view::npos &&
                     t.front() >= '0' && t.front() <= '9';
    if (ttl || equals_ci(t, "in") || equals_ci(t, "ch") || equals_ci(t, "hs")) ++i;
  }
  if (i >= tk.n) {
    out.kind = LineResult::Kind::entries;
    add_skip(out, SkipReason::syntax, "no record type");
    return;
  }
  const std::string_view type = tk.t[i];
  const std::string_view rdata = i + 1 < tk.n ? tk.t[i + 1] : std::string_view{};
  if (equals_ci(type, "soa") || equals_ci(type, "ns")) {
    out.kind = LineResult::Kind::directive;
    return;
  }
  std::string_view owner = tk.t[0];
  if (owner == "@") {
    out.kind = LineResult::Kind::directive;
    return;
  }
  out.kind = LineResult::Kind::entries;
  if (owner.ends_with(".")) {
    owner.remove_suffix(1);
    if (!st.origin.empty() && owner.size() > st.origin.size() &&
        dns::is_subdomain_of(owner, st.origin)) {  // case: origin is normal form already
      owner.remove_suffix(st.origin.size() + 1);
    }
  }
  for (std::string_view trig : {".rpz-ip", ".rpz-nsdname", ".rpz-nsip", ".rpz-client-ip"}) {
    if (owner.ends_with(trig)) {
      add_skip(out, SkipReason::rpz_unsupported, trig.substr(1));
      return;
    }
  }
  if (!equals_ci(type, "cname")) {
    add_skip(out, SkipReason::rpz_unsupported, "local data");
    return;
  }
  bool allow = false;
  if (rdata == "." || rdata == "*." || equals_ci(rdata, "rpz-drop.")) {
    allow = false;
  } else if (equals_ci(rdata, "rpz-passthru.")) {
    allow = true;
  } else {
    add_skip(out, SkipReason::rpz_unsupported, "rewrite");
    return;
  }
  out.allow = allow;
  // "d CNAME ." is exact; "*.d CNAME ." covers the subdomains. The bundle has
  // no "subdomains only" mask, so *.d becomes d-and-subdomains (lists
  // publishing *.d always list d too).
  bool exact = true;
  if (owner.starts_with("*.")) {
    owner.remove_prefix(2);
    exact = false;
  }
  add_name(owner, exact, false, out);
}

}  // namespace

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
