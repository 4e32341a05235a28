// blocklists/list_format_common: token helpers and the one place a token
// becomes a name (add_name), shared by every format.
#include <array>
#include <cstring>

#include "blocklists/list_format.hpp"
#include "dns/name.hpp"

namespace hedge::lists::detail {

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

void add_skip(LineResult& out, SkipReason r, std::string_view detail) {
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

}  // namespace hedge::lists::detail
