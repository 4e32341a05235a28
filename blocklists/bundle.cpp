// blocklists/bundle: opens a bundle directory and answers suffix lookups.
#include "blocklists/bundle.hpp"

#include "blocklists/mapping_guard.hpp"
#include "blocklists/taxonomy.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "util/crypto.hpp"
#include "util/units.hpp"

namespace hedge::lists {

const char* to_string(Tier t) noexcept {
  switch (t) {
    case Tier::illegal: return "illegal";
    case Tier::inappropriate: return "inappropriate";
    case Tier::school: return "school";
    case Tier::other: return "other";
  }
  return "other";
}

Tier tier_from_string(std::string_view s) noexcept {
  if (s == "illegal") return Tier::illegal;
  if (s == "inappropriate") return Tier::inappropriate;
  if (s == "school") return Tier::school;
  return Tier::other;
}

bool valid_channel(std::string_view s) noexcept {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return false;
  return true;
}

CdbFile::~CdbFile() {
  if (m_fd >= 0) {
    if (m_cdb.cdb_mem) {
      MappingGuard::remove(m_cdb.cdb_mem);
      // Unmapped a MiB at a time: munmap holds the process's mmap lock for
      // writing while it tears the pages down, and a page fault on the DNS
      // loop (any thread's) waits for it. One call over 60 MB of touched
      // pages held it for milliseconds; a MiB at a time, each wait is short.
      // (The whole range is ours, so cdb_free gets nothing left to unmap.)
      auto* p = const_cast<unsigned char*>(
          m_cdb.cdb_mem);  // NOLINT(cppcoreguidelines-pro-type-const-cast): ours to unmap
      const std::size_t n = m_cdb.cdb_fsize;
      constexpr std::size_t kStep = std::size_t{1} << 20;
      for (std::size_t at = 0; at < n; at += kStep) ::munmap(p + at, std::min(kStep, n - at));
      m_cdb.cdb_mem = nullptr;
    }
    cdb_free(&m_cdb);
    ::close(m_fd);
  }
}

bool CdbFile::open(const std::string& path, std::string& err) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 2048) {
    // A cdb always starts with a 2048-byte table of hash pointers.
    err = path + ": not a cdb file (too short)";
    ::close(fd);
    return false;
  }
  if (cdb_init(&m_cdb, fd) != 0) {
    err = path + ": cannot map cdb: " + std::strerror(errno);
    ::close(fd);
    return false;
  }
  m_fd = fd;
  // A truncated or rewritten file must not kill the resolver (SIGBUS).
  if (m_cdb.cdb_mem && !MappingGuard::add(m_cdb.cdb_mem, m_cdb.cdb_fsize, &m_broken)) {
    err = path + ": too many mapped bundles at once";
    return false;
  }
  return true;
}

std::string_view CdbFile::find(std::string_view key) const noexcept {
  // Safe from any thread without a lock: cdb_find writes the found value's
  // position into the struct it is given, so each call works on its own copy
  // (a few words; the mapping it points to is shared and only read).
  // cdb_find (not cdb_findinit) keeps no pointer to the key after returning.
  if (m_fd < 0) return {};
  struct cdb c = m_cdb;
  if (cdb_find(&c, key.data(), static_cast<unsigned>(key.size())) <= 0) return {};
  const unsigned len = cdb_datalen(&c);
  const void* p = cdb_get(&c, len, cdb_datapos(&c));
  if (!p) return {};
  return {static_cast<const char*>(p), len};
}

std::size_t CdbFile::size_bytes() const noexcept {
  return m_fd >= 0 ? m_cdb.cdb_fsize : 0;
}

std::span<const uint8_t> CdbFile::bytes() const noexcept {
  if (m_fd < 0 || !m_cdb.cdb_mem) return {};
  return {static_cast<const uint8_t*>(m_cdb.cdb_mem), m_cdb.cdb_fsize};
}

namespace {
constexpr std::size_t kPaceBytes = std::size_t{256} * 1024;  // a pace step per this much walked (about 1 ms)
}  // namespace

// The cdb format (cr.yp.to/cdb/cdb.txt): 256 (position, slots) pairs; the
// records from 2048 to the first table, each klen, vlen, key, value; then the
// hash tables, each slot (hash, record position). Every pointer must stay
// inside the file and the records must tile their region exactly, or a lookup
// could read outside the file or miss entries.
bool CdbFile::structure_ok(std::string& err, util::Pacer* pace) const {
  const auto b = bytes();
  auto u32 = [&](std::size_t at) {
    return static_cast<uint32_t>(b[at]) | static_cast<uint32_t>(b[at + 1]) << 8 |
           static_cast<uint32_t>(b[at + 2]) << 16 | static_cast<uint32_t>(b[at + 3]) << 24;
  };
  if (b.size() < 2048) {
    err = "shorter than its 2048-byte header";
    return false;
  }
  const std::size_t n = b.size();
  std::size_t dend = n;
  for (std::size_t i = 0; i < 256; ++i) {
    const std::size_t pos = u32(i * 8), slots = u32(i * 8 + 4);
    if (slots == 0) continue;
    if (pos < 2048 || pos > n || slots > (n - pos) / 8) {
      err = "hash table " + std::to_string(i) + " points outside the file";
      return false;
    }
    dend = std::min(dend, pos);
  }
  std::size_t at = 2048, next_pace = at + kPaceBytes;
  while (at < dend) {
    if (pace && at >= next_pace) {
      pace->step();
      next_pace = at + kPaceBytes;
    }
    if (dend - at < 8) {
      err = "record at " + std::to_string(at) + " is cut short";
      return false;
    }
    const std::size_t klen = u32(at), vlen = u32(at + 4);
    if (klen > dend - at - 8 || vlen > dend - at - 8 - klen) {
      err = "record at " + std::to_string(at) + " runs past the data";
      return false;
    }
    at += 8 + klen + vlen;
  }
  for (std::size_t i = 0; i < 256; ++i) {
    const std::size_t pos = u32(i * 8), slots = u32(i * 8 + 4);
    for (std::size_t k = 0; k < slots; ++k) {
      if (pace && (k & (kPaceBytes / 8 - 1)) == kPaceBytes / 8 - 1) pace->step();
      const std::size_t rp = u32(pos + k * 8 + 4);
      if (rp != 0 && (rp < 2048 || rp + 8 > dend)) {
        err = "hash slot in table " + std::to_string(i) + " points outside the records";
        return false;
      }
    }
  }
  return true;
}

namespace {

uint64_t load_u64(const char* p) noexcept {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

}  // namespace

Bundle::~Bundle() {
  mbedtls_sha256_free(&m_inner);
  mbedtls_sha256_free(&m_outer);
}

std::shared_ptr<const Bundle> Bundle::empty() {
  auto b = std::shared_ptr<Bundle>(new Bundle());
  mbedtls_sha256_init(&b->m_inner);
  mbedtls_sha256_init(&b->m_outer);
  return b;
}

std::shared_ptr<const Bundle> Bundle::open(const std::string& link, bool verify_hashes, std::string& err,
                                           util::Pacer* pace) {
  auto b = std::shared_ptr<Bundle>(new Bundle());
  mbedtls_sha256_init(&b->m_inner);
  mbedtls_sha256_init(&b->m_outer);
  b->m_dir = link;
  // Resolve a `current` symlink once: every file then comes from the same
  // generation even if `hedge update` flips the link while this runs.
  std::string dir = link;
  if (char* rp = ::realpath(link.c_str(), nullptr)) {
    dir = rp;
    std::free(rp);
  }
  const std::string mpath = dir + "/manifest.json";
  std::ifstream in(mpath, std::ios::binary);
  if (!in) {
    err = mpath + ": cannot open (is this a bundle made by `hedge compile`?)";
    return nullptr;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(ss.str());
    if (m.at("format").get<int>() != 1) {
      err = mpath + ": format: unsupported bundle format " + m.at("format").dump();
      return nullptr;
    }
    b->m_version = m.at("version").get<uint64_t>();
    b->m_created = m.value("created", "");
    if (auto t = util::parse_iso_utc(b->m_created)) b->m_created_at = *t;
    if (m.contains("valid_until")) {
      auto t = util::parse_iso_utc(m.at("valid_until").get<std::string>());
      if (!t) {
        err = mpath + ": valid_until: expected a time like 2026-12-09T14:00:00Z";
        return nullptr;
      }
      b->m_valid_until = *t;
    }
    b->m_channel = m.value("channel", "");
    for (const auto& c : m.at("categories")) {
      Category cat;
      cat.id = c.at("id").get<std::string>();
      cat.name = c.value("name", cat.id);
      cat.tier = tier_from_string(c.value("tier", "other"));
      cat.bit = c.at("bit").get<unsigned>();
      cat.confidential = c.value("confidential", false);
      cat.entries = c.value("entries", uint64_t{0});
      if (auto t = c.find("test_names"); t != c.end() && t->is_array())
        for (const auto& n : *t)
          if (n.is_string() && cat.test_names.size() < kMaxTestNames)
            cat.test_names.push_back(n.get<std::string>());
      if (cat.bit >= 64) {
        err = mpath + ": categories: bit " + std::to_string(cat.bit) + " out of range";
        return nullptr;
      }
      // Manifest and taxonomy, above the legal floor (blocklists/taxonomy.hpp).
      cat.tier = effective_tier(cat.id, cat.tier);
      if (cat.tier == Tier::illegal) b->m_illegal_mask |= uint64_t{1} << cat.bit;
      b->m_entries += cat.entries;
      b->m_categories.push_back(std::move(cat));
    }
    if (m.contains("sources")) {
      for (const auto& s : m.at("sources")) {
        Source src;
        src.id = s.at("id").get<unsigned>();
        src.category = s.value("category", "");
        src.path = s.value("path", "");
        src.format = s.value("format", "");
        src.sha256 = s.value("sha256", "");
        b->m_sources.push_back(std::move(src));
      }
    }
    const auto& files = m.at("files");
    for (auto it = files.begin(); it != files.end(); ++it) {
      const std::string path = dir + "/" + it.key();
      if (it.key().find('/') != std::string::npos) {
        err = mpath + ": files: path not allowed: " + it.key();
        return nullptr;
      }
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        err = path + ": missing (" + std::strerror(errno) + ")";
        return nullptr;
      }
      const auto want = it.value().at("size").get<uint64_t>();
      if (static_cast<uint64_t>(st.st_size) != want) {
        err = path + ": size " + std::to_string(st.st_size) + " but manifest says " + std::to_string(want);
        return nullptr;
      }
      // The illegal tier's files and every small file are always re-hashed:
      // cheap, and a damaged one could hide listed names. The big public cdb
      // is re-hashed only on request; `hedge update` / `hedge verify` check
      // signature and every hash before a bundle is flipped into place, and
      // re-hashing 60 MB here would stall a Pi's core on every reload.
      const bool always = it.key().rfind("confidential", 0) == 0 || want <= (1u << 20);
      const bool mapped = it.key() == "public.cdb" || it.key() == "confidential.cdb";
      if ((verify_hashes || always) && !mapped) {
        uint64_t size = 0;
        auto h = util::sha256_file(path, err, &size, pace);
        if (!h) return nullptr;
        if (util::to_hex(*h) != it.value().at("sha256").get<std::string>()) {
          err = path + ": sha256 does not match the manifest (file changed or corrupt)";
          return nullptr;
        }
      }
    }
    if (!files.contains("public.cdb")) {
      err = mpath + ": files: public.cdb not listed";
      return nullptr;
    }
    // The mapped cdbs are checked in the bytes lookups will read (not a
    // second read of the file, which could differ): structure always, the
    // hash by default ([lists] verify_hashes; the confidential one always).
    auto check_mapped = [&](const CdbFile& f, const std::string& name, bool hash) {
      const std::string path = dir + "/" + name;
      if (!f.structure_ok(err, pace)) {
        err = path + ": not a valid cdb (" + err + ")";
        return false;
      }
      if (hash &&
          util::to_hex(util::sha256(f.bytes(), pace)) != files.at(name).at("sha256").get<std::string>()) {
        err = path + ": sha256 does not match the manifest (file changed or corrupt)";
        return false;
      }
      return true;
    };
    if (!b->m_public.open(dir + "/public.cdb", err)) return nullptr;
    if (!check_mapped(b->m_public, "public.cdb", verify_hashes || b->m_public.size_bytes() <= (1u << 20)))
      return nullptr;
    if (files.contains("confidential.cdb")) {
      const auto& conf = m.at("confidential");
      if (conf.value("hash", "") != "hmac-sha256-128") {
        err = mpath + ": confidential.hash: unsupported";
        return nullptr;
      }
      auto key = util::from_hex(conf.at("key").get<std::string>());
      if (!key || key->size() != 32) {
        err = mpath + ": confidential.key: must be 64 hex digits";
        return nullptr;
      }
      if (!b->m_confidential.open(dir + "/confidential.cdb", err)) return nullptr;
      if (!check_mapped(b->m_confidential, "confidential.cdb", true)) return nullptr;
      // Each confidential probe costs an HMAC per suffix: skip them only when
      // the cdb itself holds no record (just its 2048-byte table), never on
      // the manifest's word, so the illegal tier cannot fail open.
      b->m_has_confidential = b->m_confidential.size_bytes() > 2048;
      if (conf.contains("filter")) {
        // A damaged filter could hide listed names (fail open), so its hash is
        // always checked, whatever verify_hashes says. It is small.
        const std::string fname = conf.at("filter").get<std::string>();
        if (conf.value("filter_hash", "") != "siphash24-bloom" || !files.contains(fname) ||
            fname.find('/') != std::string::npos) {
          err = mpath + ": confidential.filter: unsupported or not listed in files";
          return nullptr;
        }
        auto fkey = util::from_hex(conf.at("filter_key").get<std::string>());
        if (!fkey || fkey->size() != 16) {
          err = mpath + ": confidential.filter_key: must be 32 hex digits";
          return nullptr;
        }
        std::copy(fkey->begin(), fkey->end(), b->m_filter_key.begin());
        const std::string fpath = dir + "/" + fname;
        std::ifstream fin(fpath, std::ios::binary);
        std::stringstream fs;
        fs << fin.rdbuf();
        const std::string bytes = fs.str();
        if (util::to_hex(util::sha256({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()},
                                      pace)) != files.at(fname).at("sha256").get<std::string>()) {
          err = fpath + ": sha256 does not match the manifest (file changed or corrupt)";
          return nullptr;
        }
        if (!b->m_filter.parse(bytes, err)) {
          err = fpath + ": " + err;
          return nullptr;
        }
      }
      // Absorb the HMAC pads once (RFC 2104): inner = H(K^ipad || m), outer = H(K^opad || inner).
      uint8_t ipad[64], opad[64];
      for (int i = 0; i < 64; ++i) {
        const uint8_t k = i < 32 ? (*key)[static_cast<std::size_t>(i)] : 0;
        ipad[i] = k ^ 0x36;
        opad[i] = k ^ 0x5c;
      }
      mbedtls_sha256_starts_ret(&b->m_inner, 0);
      mbedtls_sha256_update_ret(&b->m_inner, ipad, 64);
      mbedtls_sha256_starts_ret(&b->m_outer, 0);
      mbedtls_sha256_update_ret(&b->m_outer, opad, 64);
    }
  } catch (const nlohmann::json::exception& e) {
    err = mpath + ": " + e.what();
    return nullptr;
  }
  return b;
}

void Bundle::hash_name(std::string_view name, uint8_t out[16]) const noexcept {
  uint8_t inner[32], full[32];
  mbedtls_sha256_context ctx;
  // Struct copies of the pre-absorbed states; mbedTLS 2.28's context holds no pointers.
  ctx = m_inner;
  mbedtls_sha256_update_ret(&ctx, reinterpret_cast<const uint8_t*>(name.data()), name.size());
  mbedtls_sha256_finish_ret(&ctx, inner);
  ctx = m_outer;
  mbedtls_sha256_update_ret(&ctx, inner, 32);
  mbedtls_sha256_finish_ret(&ctx, full);
  std::memcpy(out, full, 16);
}

void Bundle::confidential_key_hash(const uint8_t key[32], std::string_view name, uint8_t out[16]) {
  uint8_t full[32];
  // Plain RFC 2104 HMAC, computed without the cached pads (the writer's side).
  uint8_t ipad[64], opad[64];
  for (int i = 0; i < 64; ++i) {
    const uint8_t k = i < 32 ? key[i] : 0;
    ipad[i] = k ^ 0x36;
    opad[i] = k ^ 0x5c;
  }
  uint8_t inner[32];
  mbedtls_sha256_context ctx;
  mbedtls_sha256_init(&ctx);
  mbedtls_sha256_starts_ret(&ctx, 0);
  mbedtls_sha256_update_ret(&ctx, ipad, 64);
  mbedtls_sha256_update_ret(&ctx, reinterpret_cast<const uint8_t*>(name.data()), name.size());
  mbedtls_sha256_finish_ret(&ctx, inner);
  mbedtls_sha256_starts_ret(&ctx, 0);
  mbedtls_sha256_update_ret(&ctx, opad, 64);
  mbedtls_sha256_update_ret(&ctx, inner, 32);
  mbedtls_sha256_finish_ret(&ctx, full);
  mbedtls_sha256_free(&ctx);
  std::memcpy(out, full, 16);
}

Match Bundle::lookup(const dns::QueryName& q) const noexcept {
  Match m;
  const std::size_t n = q.label_count();
  // Single-label entries (bare TLDs) are rejected at compile time, so the
  // last label is never probed; a single-label query probes itself.
  const std::size_t last = n > 1 ? n - 1 : n;
  for (std::size_t i = 0; i < last; ++i) {
    const std::string_view s = q.suffix(i);
    std::string_view v = m_public.find(s);
    if (v.size() >= 16) {
      const uint64_t hit = load_u64(v.data()) | (i == 0 ? load_u64(v.data() + 8) : 0);
      if (hit && m.public_label < 0) m.public_label = static_cast<int>(i);
      m.categories |= hit;
    }
    if (m_has_confidential && m_filter.maybe_contains(m_filter_key, s)) {
      uint8_t h[16];
      hash_name(s, h);
      v = m_confidential.find({reinterpret_cast<const char*>(h), 16});
      if (v.size() >= 16) {
        const uint64_t hit = load_u64(v.data()) | (i == 0 ? load_u64(v.data() + 8) : 0);
        if (hit && m.confidential_label < 0) m.confidential_label = static_cast<int>(i);
        m.confidential |= hit;
      }
    }
  }
  return m;
}

const Category* Bundle::category_by_bit(unsigned bit) const noexcept {
  for (const auto& c : m_categories)
    if (c.bit == bit) return &c;
  return nullptr;
}

const Category* Bundle::category_by_id(std::string_view id) const noexcept {
  for (const auto& c : m_categories)
    if (c.id == id) return &c;
  return nullptr;
}

std::vector<unsigned> Bundle::sources_of(std::string_view normal_name) const {
  std::vector<unsigned> out;
  const std::string_view v = m_public.find(normal_name);
  for (std::size_t i = 16; i + 1 < v.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(v[i]) | (static_cast<unsigned>(static_cast<uint8_t>(v[i + 1])) << 8));
  }
  return out;
}

}  // namespace hedge::lists
