// blocklists/list_format_rpz: RPZ zone files ($ORIGIN, multi-line records,
// CNAME . / rpz-passthru. triggers by owner name).
#include <array>
#include <cstring>

#include "blocklists/list_format.hpp"
#include "dns/name.hpp"

namespace hedge::lists::detail {

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

}  // namespace hedge::lists::detail
