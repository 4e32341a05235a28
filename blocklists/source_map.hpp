// blocklists/source_map: mapping files that turn a directory of public
// category lists into compile sources (blocklists/sources/*.toml), so a
// technician builds a full bundle with one command:
//   hedge compile --out DIR --mapping blocklists/sources/ut1.toml --source-dir ../shared/data/lists/ut1
//
//   [folders]                 # UT1 layout: <folder>/domains(.gz) -> category
//   gambling = "gambling"
//   [[source]]                # any file under --source-dir
//   category = "pornography"
//   path = "pornhosts/0.0.0.0/hosts"
//   format = "hosts"          # optional, default auto
//   url_entries = "skip"      # optional
#pragma once

#include <string>
#include <vector>

#include "blocklists/compiler.hpp"

namespace hedge::lists {

// Appends the sources the mapping names. Missing files are warnings (public
// mirrors drop big files); a malformed mapping or unknown category is an error.
bool load_source_map(const std::string& mapping, const std::string& source_dir, UrlEntries default_url,
                     std::vector<SourceSpec>& out, std::vector<std::string>& warnings, std::string& err);

}  // namespace hedge::lists
