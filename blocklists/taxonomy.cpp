// blocklists/taxonomy: parses the embedded categories.toml once.
#include "blocklists/taxonomy.hpp"

#include <toml++/toml.h>

#include <cstdio>
#include <cstdlib>

#include "categories_toml.hpp"  // generated: kCategoriesToml

namespace hedge::lists {

const std::vector<TaxonomyEntry>& builtin_taxonomy() {
  static const std::vector<TaxonomyEntry> entries = [] {
    std::vector<TaxonomyEntry> out;
    toml::table t;
    try {
      t = toml::parse(std::string_view{kCategoriesToml}, std::string_view{"categories.toml"});
    } catch (const toml::parse_error& e) {
      // The file is compiled in and covered by unit tests; this is a build defect.
      std::fprintf(stderr, "hedge: built-in categories.toml does not parse: %s\n", e.what());
      std::abort();
    }
    if (auto* arr = t["category"].as_array()) {
      for (auto& node : *arr) {
        auto* c = node.as_table();
        if (!c) continue;
        TaxonomyEntry e;
        e.id = (*c)["id"].value_or(std::string{});
        e.name = (*c)["name"].value_or(e.id);
        e.description = (*c)["description"].value_or(std::string{});
        e.uksic = (*c)["uksic"].value_or(std::string{});
        e.tier = tier_from_string((*c)["tier"].value_or(std::string{"other"}));
        e.confidential = (*c)["confidential"].value_or(false);
        if (auto* names = (*c)["test_names"].as_array())
          for (auto& n : *names)
            if (auto v = n.value<std::string>()) e.test_names.push_back(*v);
        out.push_back(std::move(e));
      }
    }
    return out;
  }();
  return entries;
}

const TaxonomyEntry* find_category(std::string_view id) {
  for (const auto& e : builtin_taxonomy())
    if (e.id == id) return &e;
  return nullptr;
}

bool in_illegal_floor(std::string_view id) noexcept {
  // The legal floor, the one list of ids in the code (docs/lists.md).
  return id == "child-abuse" || id == "terrorism";
}

Tier effective_tier(std::string_view id, Tier manifest_tier) {
  if (manifest_tier == Tier::illegal || in_illegal_floor(id)) return Tier::illegal;
  if (const TaxonomyEntry* t = find_category(id); t && t->tier == Tier::illegal) return Tier::illegal;
  return manifest_tier;
}

}  // namespace hedge::lists
