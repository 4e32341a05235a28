// blocklists/public_suffix: the Public Suffix List (Debian's `publicsuffix`
// package), loaded when a bundle is compiled so entries that would block a
// whole TLD or a shared hosting suffix (co.uk, github.io, duckdns.org) are
// rejected. Never used at serve time: the bundle simply holds no such keys.
#pragma once

#include <string>
#include <string_view>
#include <unordered_set>

namespace hedge::lists {

class PublicSuffixList {
 public:
  static constexpr const char* default_path = "/usr/share/publicsuffix/public_suffix_list.dat";

  // Loads the list (both ICANN and private sections). False and err on I/O failure.
  bool load(const std::string& path, std::string& err);
  // Rules given directly (tests): same syntax as the file, one per element.
  void add_rule(std::string_view rule);

  // True if `name` (normal form) is itself a public suffix: an exact rule,
  // or one label under a wildcard rule, unless an exception rule says no.
  bool is_public_suffix(std::string_view name) const;
  std::size_t size() const noexcept { return m_exact.size() + m_wild.size() + m_except.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using Set = std::unordered_set<std::string, Hash, std::equal_to<>>;
  Set m_exact, m_wild, m_except;  // m_wild holds X for rule "*.X"
};

}  // namespace hedge::lists
