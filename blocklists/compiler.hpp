// blocklists/compiler: streams list sources through the line parser, rejects
// public suffixes, deduplicates and merges category masks per name, and
// keeps a per-source report of every line's fate. Owns the in-memory name
// table (an arena of name bytes plus an open-addressing index: no std::string
// per entry) and nothing on disk: bundle_writer turns the result into files.
//
// Names of confidential categories go to a separate table that is only ever
// written as keyed hashes, and their sources' reports keep counts only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blocklists/bundle.hpp"
#include "blocklists/list_parser.hpp"
#include "blocklists/public_suffix.hpp"

namespace hedge::lists {

struct SourceSpec {
  std::string category;          // taxonomy id
  std::string path;              // file to read (plain or gzip)
  std::optional<Format> format;  // nullopt: auto-detect from the first lines
  UrlEntries url_entries = UrlEntries::skip;
};

struct ReasonStats {
  uint64_t count = 0;
  struct Example {
    uint64_t line;
    std::string text;
  };
  std::vector<Example> examples;  // first few, never for confidential sources
};

struct SourceReport {
  unsigned id = 0;
  std::string category, path, error;
  Format format = Format::domains;
  bool detected = false, confidential = false, compressed = false;
  UrlEntries url_entries = UrlEntries::skip;
  std::string sha256;
  uint64_t bytes = 0;
  // lines = blank + comments + directives + lines holding entries/exceptions.
  uint64_t lines = 0, blank = 0, comments = 0, directives = 0;
  // entries = accepted + duplicates + skipped (a hosts line may hold several).
  uint64_t entries = 0, accepted = 0, duplicates = 0, skipped = 0;
  uint64_t exceptions = 0;  // allow rules (@@, rpz-passthru.): not entries
  uint64_t url_hosts = 0;   // accepted entries that came from host/path lines
  bool test_names = false;  // not a file: the category's test names (Compiler::add_test_names)
  std::array<ReasonStats, static_cast<std::size_t>(SkipReason::count_)> reasons{};
};

// The name table: one record per distinct name, masks merged.
class NameTable {
 public:
  struct Record {
    uint64_t subtree = 0, exact = 0;
    uint32_t off = 0;  // into the arena
    uint32_t hash = 0;
    uint32_t src_head = 0;  // 1-based index into links, 0 = none
    uint16_t len = 0;
  };
  struct Link {
    uint16_t source;
    uint32_t next;
  };
  // Sets `bit` in the subtree or exact mask of `name`; false if it was
  // already set (a duplicate). Records `source` for the name either way.
  bool insert(std::string_view name, unsigned bit, bool exact, unsigned source);
  std::size_t size() const noexcept { return m_records.size(); }
  const std::vector<Record>& records() const noexcept { return m_records; }
  std::string_view name(const Record& r) const noexcept { return {m_arena.data() + r.off, r.len}; }
  // Source ids of a record, in the order they first listed it.
  void sources(const Record& r, std::vector<uint16_t>& out) const;
  std::size_t memory_bytes() const noexcept;
  // Offsets are 32-bit: refuse input that would overflow them (4 GiB of names).
  bool full() const noexcept { return m_arena.size() > 0xffffff00u; }

 private:
  void grow();
  std::vector<char> m_arena;
  std::vector<Record> m_records;
  std::vector<Link> m_links;
  // Slot = hash << 32 | (record index + 1), 0 = empty: the hash in the slot
  // spares a cache miss on the record for most probes of a 1M-name table.
  std::vector<uint64_t> m_slots;
};

class Compiler {
 public:
  // Categories get bits in taxonomy order, so a bit means the same category
  // in every bundle built from the same taxonomy.
  explicit Compiler(const PublicSuffixList& psl);

  // Streams one source. Returns false only if the file cannot be read at all
  // or is corrupt (then err says why and the caller must not write a bundle).
  bool add_source(const SourceSpec& spec, std::string& err);
  // After the sources: adds each category's test names (the taxonomy's, or
  // `chosen` for the categories it names) to the lists of every category
  // that has a source, as one more source per category ("test names").
  // False (err says which) for a name that is not a valid domain name or an
  // unknown category in `chosen`.
  bool add_test_names(const std::map<std::string, std::vector<std::string>>& chosen, std::string& err);

  const std::vector<SourceReport>& reports() const noexcept { return m_reports; }
  const NameTable& public_table() const noexcept { return m_public; }
  const NameTable& confidential_table() const noexcept { return m_confidential; }
  const std::vector<Category>& categories() const noexcept { return m_categories; }
  bool has_confidential_sources() const noexcept { return m_has_confidential; }

  static constexpr std::size_t max_examples = 3;

 private:
  const PublicSuffixList& m_psl;
  std::vector<Category> m_categories;
  std::vector<SourceReport> m_reports;
  NameTable m_public, m_confidential;
  bool m_has_confidential = false;
  uint64_t m_sourced = 0;  // category bits with at least one source
};

// Makes a line safe to show and to store as JSON: printable ASCII kept,
// everything else as \xNN, cut to a sensible length.
std::string printable_excerpt(std::string_view line, std::size_t max = 160);

}  // namespace hedge::lists
