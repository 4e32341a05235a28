// blocklists/list_format_adblock: adblock-style rules (||d^, @@||d^); only the
// parts a DNS filter can honour are accepted, the rest is counted by reason.
#include <array>
#include <cstring>

#include "blocklists/list_format.hpp"
#include "dns/name.hpp"

namespace hedge::lists::detail {

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

}  // namespace hedge::lists::detail
