// blocklists/list_format_plain: plain domains, wildcard (*.d) and hosts-file lines.
#include <array>
#include <cstring>

#include "blocklists/list_format.hpp"
#include "dns/name.hpp"

namespace hedge::lists::detail {

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

}  // namespace hedge::lists::detail
