// blocklists/taxonomy: the category ids Hedge knows (blocklists/categories.toml,
// compiled into the binary so the box never depends on a loose file for it).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "blocklists/bundle.hpp"

namespace hedge::lists {

struct TaxonomyEntry {
  std::string id, name, description, uksic;
  Tier tier = Tier::other;
  bool confidential = false;
};

// The built-in taxonomy, parsed once from the embedded categories.toml.
const std::vector<TaxonomyEntry>& builtin_taxonomy();
const TaxonomyEntry* find_category(std::string_view id);

}  // namespace hedge::lists
