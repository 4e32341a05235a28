// blocklists/list_format_dnsmasq: dnsmasq address=/d/ and server=/d/ lines.
#include <array>
#include <cstring>

#include "blocklists/list_format.hpp"
#include "dns/name.hpp"

namespace hedge::lists::detail {

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

}  // namespace hedge::lists::detail
