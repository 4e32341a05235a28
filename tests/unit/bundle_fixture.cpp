// Test-only bundle writer (see bundle_fixture.hpp).
#include "bundle_fixture.hpp"

#include <cdb.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "blocklists/bundle.hpp"
#include "blocklists/taxonomy.hpp"
#include "util/crypto.hpp"

namespace hedge::test {

TempDir::TempDir() {
  char tmpl[] = "/tmp/hedge-test-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

std::vector<FixtureCategory> standard_categories() {
  std::vector<FixtureCategory> out;
  unsigned bit = 0;
  for (const auto& t : lists::builtin_taxonomy())
    out.push_back({t.id, bit++, lists::to_string(t.tier), t.confidential});
  return out;
}

namespace {

void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void write_cdb(const std::string& path, const std::map<std::string, std::pair<uint64_t, uint64_t>>& rows) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error("open " + path);
  struct cdb_make cm;
  cdb_make_start(&cm, fd);
  for (const auto& [k, v] : rows) {
    std::string val;
    put_u64(val, v.first);
    put_u64(val, v.second);
    cdb_make_add(&cm, k.data(), static_cast<unsigned>(k.size()), val.data(),
                 static_cast<unsigned>(val.size()));
  }
  cdb_make_finish(&cm);
  ::close(fd);
}

}  // namespace

std::string write_bundle(const std::vector<FixtureCategory>& cats, const std::vector<FixtureEntry>& entries) {
  char tmpl[] = "/tmp/hedge-bundle-XXXXXX";
  if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  const std::string dir = tmpl;
  uint8_t key[32];
  for (int i = 0; i < 32; ++i) key[i] = static_cast<uint8_t>(i * 7 + 1);
  std::map<std::string, std::pair<uint64_t, uint64_t>> pub, conf;
  std::map<std::string, uint64_t> counts;
  for (const auto& e : entries) {
    const FixtureCategory* c = nullptr;
    for (const auto& x : cats)
      if (x.id == e.category) c = &x;
    if (!c) throw std::runtime_error("fixture: unknown category " + e.category);
    const uint64_t bit = uint64_t{1} << c->bit;
    ++counts[c->id];
    if (c->confidential) {
      uint8_t h[16];
      lists::Bundle::confidential_key_hash(key, e.name, h);
      auto& v = conf[std::string(reinterpret_cast<char*>(h), 16)];
      (e.exact ? v.second : v.first) |= bit;
    } else {
      auto& v = pub[e.name];
      (e.exact ? v.second : v.first) |= bit;
    }
  }
  write_cdb(dir + "/public.cdb", pub);
  const bool has_conf = !conf.empty();
  if (has_conf) write_cdb(dir + "/confidential.cdb", conf);
  nlohmann::json m;
  m["format"] = 1;
  m["version"] = 1764000000;
  m["created"] = "2026-11-24T14:00:00Z";
  m["categories"] = nlohmann::json::array();
  for (const auto& c : cats) {
    nlohmann::json j = {{"id", c.id},
                        {"bit", c.bit},
                        {"tier", c.tier},
                        {"name", c.id},
                        {"confidential", c.confidential},
                        {"entries", counts[c.id]}};
    if (!c.test_names.empty()) j["test_names"] = c.test_names;
    m["categories"].push_back(std::move(j));
  }
  m["sources"] = nlohmann::json::array();
  nlohmann::json files = nlohmann::json::object();
  for (const char* f : {"public.cdb", "confidential.cdb"}) {
    if (std::string(f) == "confidential.cdb" && !has_conf) continue;
    std::string err;
    uint64_t size = 0;
    auto h = util::sha256_file(dir + "/" + f, err, &size);
    files[f] = {{"sha256", util::to_hex(*h)}, {"size", size}};
  }
  m["files"] = files;
  if (has_conf) m["confidential"] = {{"hash", "hmac-sha256-128"}, {"key", util::to_hex({key, 32})}};
  std::ofstream(dir + "/manifest.json") << m.dump(2);
  return dir;
}

}  // namespace hedge::test
