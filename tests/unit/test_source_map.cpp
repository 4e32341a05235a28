// Unit: mapping files (blocklists/sources/*.toml) -> compile sources, and the
// shipped mappings name only categories the taxonomy knows.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "blocklists/source_map.hpp"

namespace fs = std::filesystem;
using namespace hedge::lists;

TEST_CASE("source map: folders, sources, warnings and errors") {
  std::string t = (fs::temp_directory_path() / "hedge-map-XXXXXX").string();
  REQUIRE(::mkdtemp(t.data()));
  const fs::path dir(t);
  fs::create_directories(dir / "gambling");
  std::ofstream(dir / "gambling" / "domains") << "bet.example.com\n";
  fs::create_directories(dir / "games");
  std::ofstream(dir / "games" / "domains.gz") << "";
  std::ofstream(dir / "x.txt") << "||a.example.com^\n";
  const auto map = (dir / "m.toml").string();
  std::ofstream(map) << "[folders]\ngambling = \"gambling\"\ngames = \"games\"\nmissing = \"chat\"\n"
                        "[[source]]\ncategory = \"ads\"\npath = \"x.txt\"\nformat = \"adblock\"\n"
                        "url_entries = \"block-host\"\n"
                        "[[source]]\ncategory = \"ads\"\npath = \"nope.txt\"\n";
  std::vector<SourceSpec> out;
  std::vector<std::string> warnings;
  std::string err;
  REQUIRE_MESSAGE(load_source_map(map, t, UrlEntries::skip, out, warnings, err), err);
  REQUIRE(out.size() == 3);
  CHECK(out[0].category == "gambling");
  CHECK(out[1].path.ends_with("games/domains.gz"));
  CHECK(out[2].format == Format::adblock);
  CHECK(out[2].url_entries == UrlEntries::block_host);
  CHECK(warnings.size() == 2);  // folder without a domains file, missing source file

  const auto bad = (dir / "bad.toml").string();
  for (const char* text :
       {"[folders]\nx = \"no-such-category\"\n", "[[source]]\ncategory = \"ads\"\n",
        "[[source]]\ncategory = \"ads\"\npath = \"x.txt\"\nformat = \"csv\"\n", "[folders\n"}) {
    CAPTURE(text);
    std::ofstream(bad) << text;
    out.clear();
    CHECK(!load_source_map(bad, t, UrlEntries::skip, out, warnings, err));
    CHECK(!err.empty());
  }
  fs::remove_all(dir);
}

TEST_CASE("shipped mappings parse and use known categories") {
  for (const char* m : {"blocklists/sources/ut1.toml", "blocklists/sources/shared-lists.toml"}) {
    CAPTURE(m);
    std::vector<SourceSpec> out;
    std::vector<std::string> warnings;
    std::string err;
    // An empty source dir: every file is missing (warnings), but categories are checked.
    CHECK_MESSAGE(load_source_map(std::string(HEDGE_SOURCE_DIR) + "/" + m, "/nonexistent", UrlEntries::skip,
                                  out, warnings, err),
                  err);
    CHECK(out.empty());
    CHECK(!warnings.empty());
  }
}
