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
  // Names the built-in filtering check expects blocked in this category.
  // `hedge compile` adds them to the category's lists (when it has any) and
  // to the manifest; --test-name CATEGORY=NAME replaces them.
  std::vector<std::string> test_names;
};

// The built-in taxonomy, parsed once from the embedded categories.toml.
const std::vector<TaxonomyEntry>& builtin_taxonomy();
const TaxonomyEntry* find_category(std::string_view id);

// The tier a bundle category is served in: the illegal tier if the bundle's
// manifest says so, or the taxonomy does, or the id is in the legal floor
// (child-abuse, terrorism: UK law requires them blocked for everyone, so no
// manifest and no taxonomy edit can take them out). A manifest may add
// categories to the illegal tier, never remove one.
Tier effective_tier(std::string_view id, Tier manifest_tier);
bool in_illegal_floor(std::string_view id) noexcept;

}  // namespace hedge::lists
