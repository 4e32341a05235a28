// blocklists/bundle_writer: cdbs, report, manifest, signature; temp + fsync + rename.
#include "blocklists/bundle_writer.hpp"
#include "blocklists/prefilter.hpp"

#include <cdb.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "blocklists/signing.hpp"
#include "util/crypto.hpp"

namespace hedge::lists {

namespace fs = std::filesystem;

namespace {

// Owns an fd.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  bool close_checked() {
    const int f = fd;
    fd = -1;
    return ::close(f) == 0;
  }
};

// Owns a cdb_make: tinycdb frees its record index only in cdb_make_finish,
// so an abandoned writer finishes into the (discarded) temp file.
class CdbMaker {
 public:
  explicit CdbMaker(int fd) { m_ok = cdb_make_start(&m_cdb, fd) == 0; }
  ~CdbMaker() {
    if (m_ok && !m_finished) cdb_make_finish(&m_cdb);
  }
  CdbMaker(const CdbMaker&) = delete;
  CdbMaker& operator=(const CdbMaker&) = delete;
  bool ok() const noexcept { return m_ok; }
  bool add(const void* k, unsigned kl, const void* v, unsigned vl) {
    return cdb_make_add(&m_cdb, k, kl, v, vl) == 0;
  }
  bool finish() {
    m_finished = true;
    return cdb_make_finish(&m_cdb) == 0;
  }

 private:
  struct cdb_make m_cdb {};
  bool m_ok = false, m_finished = false;
};

// Removes the temp directory unless the bundle was moved into place.
struct TempDir {
  std::string path;
  bool keep = false;
  ~TempDir() {
    if (!path.empty() && !keep) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }
};

void put_u64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

bool fsync_path(const std::string& path, int flags, std::string& err) {
  Fd fd(::open(path.c_str(), flags | O_CLOEXEC));
  if (fd.fd < 0 || ::fsync(fd.fd) != 0) {
    err = path + ": fsync: " + std::strerror(errno);
    return false;
  }
  return true;
}

bool write_whole(const std::string& path, std::string_view data, std::string& err) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.fd < 0) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = path + ": write: " + std::strerror(errno);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.fd) != 0 || !fd.close_checked()) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// Writes one cdb from a name table. `conf_key` set: keys are keyed hashes
// and values carry no source ids (docs/bundle-format.md).
bool write_cdb(const std::string& path, const NameTable& t, const uint8_t* conf_key, std::string& err) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.fd < 0) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  CdbMaker mk(fd.fd);
  if (!mk.ok()) {
    err = path + ": cdb_make_start failed";
    return false;
  }
  std::vector<uint16_t> srcs;
  std::vector<char> val;
  for (const auto& r : t.records()) {
    const std::string_view name = t.name(r);
    val.assign(16, 0);
    put_u64(val.data(), r.subtree);
    put_u64(val.data() + 8, r.exact);
    bool ok;
    if (conf_key) {
      uint8_t h[16];
      Bundle::confidential_key_hash(conf_key, name, h);
      ok = mk.add(h, 16, val.data(), 16);
    } else {
      t.sources(r, srcs);
      for (uint16_t s : srcs) {
        val.push_back(static_cast<char>(s & 0xff));
        val.push_back(static_cast<char>(s >> 8));
      }
      ok = mk.add(name.data(), static_cast<unsigned>(name.size()), val.data(),
                  static_cast<unsigned>(val.size()));
    }
    if (!ok) {
      err = path + ": cdb write failed: " + std::strerror(errno);
      return false;
    }
  }
  if (!mk.finish()) {
    err = path + ": cdb finish failed: " + std::strerror(errno);
    return false;
  }
  if (::fsync(fd.fd) != 0 || !fd.close_checked()) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::string iso_utc(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string report_json(const Compiler& c) {
  using nlohmann::json;
  json sources = json::array();
  json totals = {{"lines", 0},      {"entries", 0}, {"accepted", 0},
                 {"duplicates", 0}, {"skipped", 0}, {"exceptions", 0}};
  for (const auto& r : c.reports()) {
    json reasons = json::object();
    for (std::size_t i = 0; i < r.reasons.size(); ++i) {
      const auto& s = r.reasons[i];
      if (s.count == 0) continue;
      json j = {{"count", s.count}};
      if (!r.confidential) {
        json ex = json::array();
        for (const auto& e : s.examples) ex.push_back({{"line", e.line}, {"text", e.text}});
        j["examples"] = std::move(ex);
      }
      reasons[to_string(static_cast<SkipReason>(i))] = std::move(j);
    }
    sources.push_back({{"id", r.id},
                       {"category", r.category},
                       {"path", r.path},
                       {"test_names", r.test_names},
                       {"format", to_string(r.format)},
                       {"format_detected", r.detected},
                       {"url_entries", to_string(r.url_entries)},
                       {"confidential", r.confidential},
                       {"compressed", r.compressed},
                       {"bytes", r.bytes},
                       {"sha256", r.sha256},
                       {"lines", r.lines},
                       {"blank", r.blank},
                       {"comments", r.comments},
                       {"directives", r.directives},
                       {"entries", r.entries},
                       {"accepted", r.accepted},
                       {"duplicates", r.duplicates},
                       {"skipped", r.skipped},
                       {"exceptions", r.exceptions},
                       {"url_hosts", r.url_hosts},
                       {"reasons", std::move(reasons)}});
    for (const char* k : {"lines", "entries", "accepted", "duplicates", "skipped", "exceptions"})
      totals[k] = totals[k].get<uint64_t>() + sources.back()[k].get<uint64_t>();
  }
  totals["public_names"] = c.public_table().size();
  totals["confidential_names"] = c.confidential_table().size();
  json j = {{"format", 1}, {"sources", std::move(sources)}, {"totals", std::move(totals)}};
  return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

bool write_bundle(const Compiler& c, const WriteOptions& opt, WriteResult& out, std::string& err) {
  using nlohmann::json;
  std::string target = opt.out_dir;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  if (target.empty()) {
    err = "--out: empty path";
    return false;
  }
  const fs::path tp(target);
  const std::string parent = tp.has_parent_path() ? tp.parent_path().string() : ".";
  std::error_code ec;
  const bool exists = fs::exists(tp, ec);
  if (exists) {
    // Never replace something that is not a bundle (a typo in --out must not eat a directory).
    if (!fs::is_directory(tp, ec) || (!fs::is_empty(tp, ec) && !fs::exists(tp / "manifest.json", ec))) {
      err = target + ": exists and is not a bundle; refusing to replace it";
      return false;
    }
  } else if (!fs::is_directory(parent, ec)) {
    err = parent + ": no such directory";
    return false;
  }

  TempDir tmp;
  {
    std::string templ = parent + "/." + tp.filename().string() + ".tmp-XXXXXX";
    if (!::mkdtemp(templ.data())) {
      err = templ + ": " + std::strerror(errno);
      return false;
    }
    tmp.path = templ;
    ::chmod(tmp.path.c_str(), 0755);
  }
  const std::time_t now = std::time(nullptr);
  // Versions only go up (the updater refuses anything not newer): a bundle
  // replacing another one at the same path gets a higher version, even when
  // compiled twice within a second.
  uint64_t previous = 0;
  if (exists) {
    try {
      std::ifstream in(tp / "manifest.json");
      previous = nlohmann::json::parse(in).at("version").get<uint64_t>();
    } catch (const std::exception&) {
      previous = 0;  // unreadable old manifest: nothing to be newer than
    }
  }
  out.version = opt.version ? *opt.version : std::max(static_cast<uint64_t>(now), previous + 1);
  if (out.version <= previous) {
    err = "--version " + std::to_string(out.version) +
          " is not newer than the bundle it would replace (version " + std::to_string(previous) + ")";
    return false;
  }

  // Files first, manifest last: the manifest names their hashes.
  json files = json::object();
  auto record_file = [&](const char* name, uint64_t* size_out) {
    uint64_t size = 0;
    auto h = util::sha256_file(tmp.path + "/" + name, err, &size);
    if (!h) return false;
    files[name] = {{"sha256", util::to_hex(*h)}, {"size", size}};
    if (size_out) *size_out = size;
    return true;
  };

  if (!write_cdb(tmp.path + "/public.cdb", c.public_table(), nullptr, err)) return false;
  if (!record_file("public.cdb", &out.public_bytes)) return false;
  out.public_keys = c.public_table().size();

  std::array<uint8_t, 32> key{};
  std::array<uint8_t, 16> filter_key{};
  const bool confidential = c.has_confidential_sources();
  if (confidential) {
    if (!util::random_bytes(key)) {
      err = "cannot get random bytes for the confidential key";
      return false;
    }
    if (!write_cdb(tmp.path + "/confidential.cdb", c.confidential_table(), key.data(), err)) return false;
    if (!record_file("confidential.cdb", &out.confidential_bytes)) return false;
    out.confidential_keys = c.confidential_table().size();
    // The keyed prefilter that spares the HMAC for unlisted names (prefilter.hpp).
    if (!util::random_bytes(filter_key)) {
      err = "cannot get random bytes for the prefilter key";
      return false;
    }
    Prefilter filter(c.confidential_table().size());
    for (const auto& r : c.confidential_table().records())
      filter.add(filter_key, c.confidential_table().name(r));
    if (!write_whole(tmp.path + "/confidential.filter", filter.serialise(), err)) return false;
    if (!record_file("confidential.filter", nullptr)) return false;
  }

  if (!write_whole(tmp.path + "/report.json", report_json(c), err)) return false;
  if (!record_file("report.json", &out.report_bytes)) return false;

  // Per-category distinct names.
  std::vector<uint64_t> counts(64, 0);
  for (const NameTable* t : {&c.public_table(), &c.confidential_table()}) {
    for (const auto& r : t->records()) {
      uint64_t m = r.subtree | r.exact;
      while (m) {
        ++counts[static_cast<std::size_t>(__builtin_ctzll(m))];
        m &= m - 1;
      }
    }
  }
  json cats = json::array();
  for (const auto& cat : c.categories()) {
    json j = {{"id", cat.id},
              {"bit", cat.bit},
              {"tier", to_string(cat.tier)},
              {"name", cat.name},
              {"confidential", cat.confidential},
              {"entries", counts[cat.bit]}};
    // Reserved or trust-chosen names, never a listed site of a confidential category.
    if (!cat.test_names.empty()) j["test_names"] = cat.test_names;
    cats.push_back(std::move(j));
  }
  json sources = json::array();
  for (const auto& r : c.reports()) {
    sources.push_back({{"id", r.id},
                       {"category", r.category},
                       {"path", r.path},
                       {"format", to_string(r.format)},
                       {"sha256", r.sha256},
                       {"bytes", r.bytes},
                       {"lines", r.lines},
                       {"accepted", r.accepted}});
  }
  out.created = static_cast<int64_t>(now);
  out.valid_until = out.created + opt.valid_for_s;
  json manifest = {{"format", 1},
                   {"version", out.version},
                   {"created", iso_utc(now)},
                   {"valid_until", iso_utc(static_cast<std::time_t>(out.valid_until))},
                   {"channel", opt.channel},
                   {"categories", std::move(cats)},
                   {"sources", std::move(sources)},
                   {"files", std::move(files)}};
  if (confidential) {
    manifest["confidential"] = {{"hash", "hmac-sha256-128"},
                                {"key", util::to_hex(key)},
                                {"filter", "confidential.filter"},
                                {"filter_hash", "siphash24-bloom"},
                                {"filter_key", util::to_hex(filter_key)}};
  }
  const std::string mtext = manifest.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  out.manifest_bytes = mtext.size();
  if (!write_whole(tmp.path + "/manifest.json", mtext, err)) return false;
  if (opt.sign_key) {
    auto sig = signing::sign_digest(*opt.sign_key, util::sha256(mtext), err);
    if (!sig) return false;
    if (!write_whole(tmp.path + "/manifest.sig", {reinterpret_cast<const char*>(sig->data()), sig->size()},
                     err))
      return false;
  }
  if (!fsync_path(tmp.path, O_RDONLY | O_DIRECTORY, err)) return false;

  // Into place: a plain rename for a new bundle, an atomic exchange for an
  // existing one (then the old generation, now at the temp path, goes).
  if (!exists) {
    if (::rename(tmp.path.c_str(), target.c_str()) != 0) {
      err = target + ": rename: " + std::strerror(errno);
      return false;
    }
    tmp.path.clear();
  } else if (::renameat2(AT_FDCWD, tmp.path.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) != 0) {
    err = target + ": rename (exchange): " + std::strerror(errno);
    return false;
  }
  // tmp now holds the previous bundle (or nothing): its destructor removes it.
  return fsync_path(parent, O_RDONLY | O_DIRECTORY, err);
}

}  // namespace hedge::lists
