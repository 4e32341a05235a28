// blocklists/list_format_unbound: unbound local-zone / local-data lines.
#include <array>
#include <cstring>

#include "blocklists/list_format.hpp"
#include "dns/name.hpp"

namespace hedge::lists::detail {

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

}  // namespace hedge::lists::detail
