// blocklists/source_map: mapping TOML -> SourceSpec list.
#include "blocklists/source_map.hpp"

#include <toml++/toml.h>

#include <filesystem>

#include "blocklists/taxonomy.hpp"

namespace hedge::lists {

namespace fs = std::filesystem;

bool load_source_map(const std::string& mapping, const std::string& source_dir, UrlEntries default_url,
                     std::vector<SourceSpec>& out, std::vector<std::string>& warnings, std::string& err) {
  toml::table t;
  try {
    t = toml::parse_file(mapping);
  } catch (const toml::parse_error& e) {
    err = mapping + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description());
    return false;
  }
  const fs::path base(source_dir);
  auto check_category = [&](const std::string& id, const std::string& where) {
    if (find_category(id)) return true;
    err = mapping + ": " + where + ": unknown category '" + id + "'";
    return false;
  };
  if (auto* folders = t["folders"].as_table()) {
    for (auto&& [k, v] : *folders) {
      const std::string folder(k.str());
      const auto cat = v.value<std::string>();
      if (!cat) {
        err = mapping + ": folders." + folder + ": must be a category id string";
        return false;
      }
      if (!check_category(*cat, "folders." + folder)) return false;
      std::error_code ec;
      fs::path p = base / folder / "domains";
      if (!fs::is_regular_file(p, ec)) p = base / folder / "domains.gz";
      if (!fs::is_regular_file(p, ec)) {
        warnings.push_back((base / folder).string() + ": no domains or domains.gz file, skipped");
        continue;
      }
      out.push_back(SourceSpec{*cat, p.string(), std::nullopt, default_url});
    }
  }
  if (auto* arr = t["source"].as_array()) {
    std::size_t i = 0;
    for (auto& node : *arr) {
      const std::string where = "source[" + std::to_string(i++) + "]";
      auto* s = node.as_table();
      if (!s) {
        err = mapping + ": " + where + ": must be a table";
        return false;
      }
      const auto cat = (*s)["category"].value<std::string>();
      const auto path = (*s)["path"].value<std::string>();
      if (!cat || !path) {
        err = mapping + ": " + where + ": needs category and path";
        return false;
      }
      if (!check_category(*cat, where + ".category")) return false;
      SourceSpec spec{*cat, (base / *path).string(), std::nullopt, default_url};
      if (auto f = (*s)["format"].value<std::string>(); f && *f != "auto") {
        spec.format = format_from_string(*f);
        if (!spec.format) {
          err = mapping + ": " + where + ".format: unknown format '" + *f + "'";
          return false;
        }
      }
      if (auto u = (*s)["url_entries"].value<std::string>()) {
        auto m = url_entries_from_string(*u);
        if (!m) {
          err = mapping + ": " + where + ".url_entries: must be block-host or skip";
          return false;
        }
        spec.url_entries = *m;
      }
      std::error_code ec;
      if (!fs::is_regular_file(spec.path, ec)) {
        warnings.push_back(spec.path + ": missing, skipped");
        continue;
      }
      out.push_back(std::move(spec));
    }
  }
  return true;
}

}  // namespace hedge::lists
