// Test-only: writes a small list bundle exactly per docs/bundle-format.md with
// tinycdb, so policy tests do not depend on the lists compiler.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hedge::test {

struct FixtureCategory {
  std::string id;
  unsigned bit = 0;
  std::string tier = "school";
  bool confidential = false;
  std::vector<std::string> test_names = {};  // written to the manifest when set (add them as entries too)
};

struct FixtureEntry {
  std::string name;      // normal form
  std::string category;  // id
  bool exact = false;    // adblock |name^ (this name only)
};

// Writes the bundle into a fresh temporary directory and returns its path.
// Entries of confidential categories go into confidential.cdb as keyed hashes.
std::string write_bundle(const std::vector<FixtureCategory>& cats, const std::vector<FixtureEntry>& entries);

// The categories used by most policy tests (every taxonomy id, bits in order).
std::vector<FixtureCategory> standard_categories();

// A temporary directory removed at scope exit.
struct TempDir {
  std::string path;
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace hedge::test
