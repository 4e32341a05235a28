// Fuzz: lists::Bundle::open on arbitrary bundle directories. A bundle is file
// input from an SD card anyone with the card can edit, so its manifest, cdbs
// and prefilter are hostile bytes: open must refuse or accept them without a
// crash, a hang or an out-of-bounds read, and what it accepts must be safe to
// look names up in.
//
// Input: [flags u8] then up to four files, each [len u32 LE][bytes]:
// manifest.json, public.cdb, confidential.cdb, confidential.filter (a short
// input leaves the rest empty). flags bit 0: rewrite the manifest's "files"
// table with the real sizes and SHA-256 of the files given, so mutations reach
// the cdb structure walk and the prefilter instead of stopping at the hash
// check; bit 1: open with verify_hashes. Seeds: tests/fuzz/corpus/bundle/
// (made from the sample bundle by tests/fuzz/make_bundle_seeds.py).
#include <mbedtls/sha256.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "blocklists/bundle.hpp"
#include "dns/name.hpp"

using namespace hedge;

namespace {

constexpr const char* kFiles[] = {"manifest.json", "public.cdb", "confidential.cdb", "confidential.filter"};

std::string hex_sha256(std::string_view b) {
  unsigned char h[32];
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(b.data()), b.size(), h, 0);
  std::string out;
  char x[3];
  for (unsigned char c : h) {
    std::snprintf(x, sizeof x, "%02x", c);
    out += x;
  }
  return out;
}

void write_file(const std::filesystem::path& p, std::string_view b) {
  std::ofstream o(p, std::ios::binary | std::ios::trunc);
  o.write(b.data(), static_cast<std::streamsize>(b.size()));
}

const std::filesystem::path& dir() {
  // tmpfs when there is one: a fuzzer writes the files many thousand times.
  static const std::filesystem::path d = [] {
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    auto p = base / ("hedge-fuzz-bundle-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p;
  }();
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string parts[4];
  for (auto& part : parts) {
    if (rest.size() < 4) break;
    uint32_t n = 0;
    std::memcpy(&n, rest.data(), 4);  // little-endian on every target we build for
    rest.remove_prefix(4);
    n = static_cast<uint32_t>(std::min<std::size_t>(n, rest.size()));
    part.assign(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  if (flags & 1) {
    auto m = nlohmann::json::parse(parts[0], nullptr, false);
    if (m.is_object() && m.contains("files") && m["files"].is_object()) {
      for (auto it = m["files"].begin(); it != m["files"].end();) {
        // Files this harness does not write (report.json) would stop every input at "missing".
        if (std::find(std::begin(kFiles) + 1, std::end(kFiles), it.key()) == std::end(kFiles))
          it = m["files"].erase(it);
        else
          ++it;
      }
      for (std::size_t i = 1; i < 4; ++i) {
        auto& f = m["files"][kFiles[i]];
        f["size"] = parts[i].size();
        f["sha256"] = hex_sha256(parts[i]);
      }
      parts[0] = m.dump();
    }
  }
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir(), ec)) std::filesystem::remove(e.path(), ec);
  for (std::size_t i = 0; i < 4; ++i)
    if (!parts[i].empty() || i == 0) write_file(dir() / kFiles[i], parts[i]);

  std::string err;
  const auto b = lists::Bundle::open(dir().string(), (flags & 2) != 0, err);
  static const bool debug = std::getenv("HEDGE_FUZZ_DEBUG") != nullptr;  // for corpus upkeep
  if (debug) std::fprintf(stderr, "fuzz_bundle: %s\n", b ? "opened" : err.c_str());
  if (!b) {
    if (err.empty()) __builtin_trap();  // a refusal must say why
    return 0;
  }
  // The illegal-tier floor: a manifest may add to it, never take these out.
  for (const char* id : {"child-abuse", "terrorism"})
    if (const auto* c = b->category_by_id(id); c && !(b->illegal_mask() & (uint64_t{1} << c->bit)))
      __builtin_trap();
  // Look names up: the walk was accepted, so every probe must stay in bounds.
  for (const char* name : {"pornhub.com", "www.pornhub.com", "a.b.c.d.e.example", "com", "x"}) {
    dns::QueryName q;
    if (q.assign_text(name)) (void)b->lookup(q);
  }
  for (std::size_t i = 0; i + 1 < parts[1].size() && i < 4096; i += 97) {
    // Names cut from the cdb's own bytes hit real keys more often than chance.
    std::string n;
    for (std::size_t k = i; k < parts[1].size() && n.size() < 60; ++k) {
      const char c = parts[1][k];
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')
        n += c;
      else if (!n.empty())
        break;
    }
    while (!n.empty() && n.front() == '.') n.erase(0, 1);
    while (!n.empty() && n.back() == '.') n.pop_back();
    dns::QueryName q;
    if (!n.empty() && n.find("..") == std::string::npos && q.assign_text(n)) (void)b->lookup(q);
  }
  return 0;
}
