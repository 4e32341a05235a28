// blocklists/public_suffix: PSL loader and membership test.
#include "blocklists/public_suffix.hpp"

#include <fstream>

#include "dns/name.hpp"

namespace hedge::lists {

void PublicSuffixList::add_rule(std::string_view rule) {
  // A rule is the first whitespace-delimited field; "//" starts a comment.
  while (!rule.empty() && (rule.front() == ' ' || rule.front() == '\t')) rule.remove_prefix(1);
  const auto end = rule.find_first_of(" \t\r");
  rule = rule.substr(0, end);
  if (rule.empty() || rule.starts_with("//")) return;
  Set* set = &m_exact;
  if (rule.starts_with("!")) {
    set = &m_except;
    rule.remove_prefix(1);
  } else if (rule.starts_with("*.")) {
    set = &m_wild;
    rule.remove_prefix(2);
  }
  // IDN rules are UTF-8 in the file; the shared normaliser gives the same
  // punycode form the list entries are compared in.
  auto n = dns::normalise_name(rule);
  if (n) set->insert(std::move(n.name));
}

bool PublicSuffixList::load(const std::string& path, std::string& err) {
  std::ifstream in(path);
  if (!in) {
    err = path + ": cannot open the public suffix list (Debian package `publicsuffix`)";
    return false;
  }
  std::string line;
  while (std::getline(in, line)) add_rule(line);
  if (m_exact.empty()) {
    err = path + ": no rules found";
    return false;
  }
  return true;
}

bool PublicSuffixList::is_public_suffix(std::string_view name) const {
  if (name.find('.') == std::string_view::npos) return true;  // every TLD is a suffix
  // Most names match no rule: probe the rules first and the (rare)
  // exceptions only on a match; this runs once per accepted entry.
  const auto dot = name.find('.');
  if (m_exact.find(name) == m_exact.end() && m_wild.find(name.substr(dot + 1)) == m_wild.end()) return false;
  return m_except.find(name) == m_except.end();
}

}  // namespace hedge::lists
