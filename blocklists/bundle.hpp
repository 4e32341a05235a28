// blocklists/bundle: the read side of a list bundle (docs/bundle-format.md).
// Owns the mmap'd cdb files of one bundle generation; immutable once open, so
// a snapshot can share it with in-flight queries while a reload opens the next.
// Only this file and bundle_writer call cdb_* directly.
#pragma once

#include <cdb.h>
#include <mbedtls/sha256.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "blocklists/prefilter.hpp"
#include "dns/name.hpp"
#include "util/pacer.hpp"

namespace hedge::lists {

enum class Tier : uint8_t { illegal, inappropriate, school, other };
const char* to_string(Tier t) noexcept;
Tier tier_from_string(std::string_view s) noexcept;
// Update channel names ([update] channel, hedge compile --channel): 1-32 of [a-z0-9_-].
bool valid_channel(std::string_view s) noexcept;

// Test names per category at most (the compiler refuses more; a reader ignores the rest).
inline constexpr std::size_t kMaxTestNames = 16;

struct Category {
  std::string id;    // e.g. "pornography"
  std::string name;  // display name for the block page
  Tier tier = Tier::other;
  unsigned bit = 0;
  bool confidential = false;
  uint64_t entries = 0;
  // The built-in filtering check's names for this category (in its lists; signed with the manifest).
  std::vector<std::string> test_names;
};

struct Source {
  unsigned id = 0;
  std::string category, path, format, sha256;
};

struct Match {
  uint64_t categories = 0;      // union over every matching suffix
  uint64_t confidential = 0;    // categories that matched in the confidential cdb
  int public_label = -1;        // most specific public match (label index), -1 if none
  int confidential_label = -1;  // same for the confidential cdb
  explicit operator bool() const noexcept { return (categories | confidential) != 0; }
};

// One mmap'd cdb file (RAII: closes the fd and unmaps).
class CdbFile {
 public:
  CdbFile() = default;
  ~CdbFile();
  CdbFile(const CdbFile&) = delete;
  CdbFile& operator=(const CdbFile&) = delete;
  bool open(const std::string& path, std::string& err);
  bool is_open() const noexcept { return m_fd >= 0; }
  // Returns the value bytes for key, or an empty view. No allocation.
  std::string_view find(std::string_view key) const noexcept;
  std::size_t size_bytes() const noexcept;
  // The mapped file (empty when not open).
  std::span<const uint8_t> bytes() const noexcept;
  // Every table pointer and record length stays inside the file (reads the
  // whole mapping once). False and err when the file is not a sound cdb.
  // With pace, pace->step() runs every 256 KiB of the walk (a reload).
  bool structure_ok(std::string& err, util::Pacer* pace = nullptr) const;
  // The file was truncated or rewritten under the mapping (a SIGBUS caught
  // by MappingGuard): lookups may have read zeros, do not trust them.
  bool broken() const noexcept { return m_broken.load(std::memory_order_acquire); }

 private:
  struct cdb m_cdb {};  // written only by open(); find() copies it
  std::atomic<bool> m_broken{false};
  int m_fd = -1;
};

class Bundle {
 public:
  // Opens and checks a bundle directory: manifest parses, files present with
  // the sizes it names, cdb headers sane, the sha256 of the confidential
  // files and of every file up to 1 MiB; with verify_hashes, of every file.
  // On failure returns null and sets err to a one-line reason.
  // With pace (a reload while DNS is served), hashing and the cdb walks are
  // held to pace's share of a core; without, they run flat out (start-up).
  static std::shared_ptr<const Bundle> open(const std::string& dir, bool verify_hashes, std::string& err,
                                            util::Pacer* pace = nullptr);
  // An empty bundle (no lists): used only when no bundle is configured.
  static std::shared_ptr<const Bundle> empty();
  ~Bundle();
  Bundle(const Bundle&) = delete;
  Bundle& operator=(const Bundle&) = delete;

  // Safe from any thread at once, without a lock (no shared state is written).
  // Check broken() after it: a damaged mapping reads as zeros.
  Match lookup(const dns::QueryName& q) const noexcept;
  // A file of this bundle was truncated or changed after it was verified
  // (SIGBUS caught, or the server saw the file change): answers that depend
  // on it must not be trusted. Sticky; recovery is the next good bundle.
  bool broken() const noexcept {
    return m_public.broken() || m_confidential.broken() || m_marked_broken.load(std::memory_order_acquire);
  }
  void mark_broken() const noexcept { m_marked_broken.store(true, std::memory_order_release); }

  const std::vector<Category>& categories() const noexcept { return m_categories; }
  const std::vector<Source>& sources() const noexcept { return m_sources; }
  const Category* category_by_bit(unsigned bit) const noexcept;
  const Category* category_by_id(std::string_view id) const noexcept;
  uint64_t illegal_mask() const noexcept { return m_illegal_mask; }
  uint64_t version() const noexcept { return m_version; }
  const std::string& created() const noexcept { return m_created; }
  // Unix seconds; 0 when the manifest predates the field (then never "expired").
  int64_t created_at() const noexcept { return m_created_at; }
  int64_t valid_until() const noexcept { return m_valid_until; }
  const std::string& channel() const noexcept { return m_channel; }
  const std::string& dir() const noexcept { return m_dir; }
  uint64_t entries() const noexcept { return m_entries; }
  // Source ids recorded for a public entry (for explain / lists lookup).
  std::vector<unsigned> sources_of(std::string_view normal_name) const;

  // Keyed hash used for confidential keys (16 bytes), exposed for the writer
  // and tests so both sides agree.
  static void confidential_key_hash(const uint8_t key[32], std::string_view name, uint8_t out[16]);

 private:
  Bundle() = default;
  void hash_name(std::string_view name, uint8_t out[16]) const noexcept;

  std::string m_dir, m_created, m_channel;
  int64_t m_created_at = 0, m_valid_until = 0;
  uint64_t m_version = 0, m_entries = 0, m_illegal_mask = 0;
  std::vector<Category> m_categories;
  std::vector<Source> m_sources;
  CdbFile m_public, m_confidential;
  mutable std::atomic<bool> m_marked_broken{false};
  bool m_has_confidential = false;
  Prefilter m_filter;  // empty: probe every suffix
  std::array<uint8_t, 16> m_filter_key{};
  // HMAC-SHA256 with the inner and outer pads absorbed once at open, so each
  // probe costs two compressions and no allocation.
  mbedtls_sha256_context m_inner{}, m_outer{};
};

}  // namespace hedge::lists
