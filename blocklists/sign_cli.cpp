// blocklists/sign_cli: `hedge keygen` and `hedge verify`: arguments and
// messages only; the crypto is in signing.cpp.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "blocklists/signing.hpp"
#include "cli.hpp"
#include "util/crypto.hpp"

namespace hedge::cli {

namespace {

bool read_all(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

int fail(const std::string& dir, const std::string& msg) {
  std::fprintf(stderr, "hedge verify: %s: REJECTED: %s\n", dir.c_str(), msg.c_str());
  return 1;
}

}  // namespace

int keygen(int argc, char** argv) {
  std::string prefix;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--out" && i + 1 < argc) {
      prefix = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: hedge keygen --out PREFIX   (writes PREFIX.key, mode 0600, and PREFIX.pub)\n");
      return 2;
    }
  }
  if (prefix.empty()) {
    std::fprintf(stderr,
                 "usage: hedge keygen --out PREFIX   (writes PREFIX.key, mode 0600, and PREFIX.pub)\n");
    return 2;
  }
  std::string err;
  if (!lists::signing::generate_key_pair(prefix, err)) {
    std::fprintf(stderr, "hedge keygen: %s\n", err.c_str());
    return 1;
  }
  std::printf("wrote %s.key (private, keep it off the boxes) and %s.pub\n", prefix.c_str(), prefix.c_str());
  return 0;
}

int verify(int argc, char** argv) {
  std::string dir, pub;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--pubkey" && i + 1 < argc) {
      pub = argv[++i];
    } else if (dir.empty() && !a.starts_with("-")) {
      dir = argv[i];
    } else {
      dir.clear();
      break;
    }
  }
  if (dir.empty() || pub.empty()) {
    std::fprintf(stderr, "usage: hedge verify DIR --pubkey KEY\n");
    return 2;
  }
  std::string manifest, sig;
  if (!read_all(dir + "/manifest.json", manifest)) return fail(dir, "manifest.json missing or unreadable");
  if (!read_all(dir + "/manifest.sig", sig)) return fail(dir, "manifest.sig missing (bundle is not signed)");
  std::string err;
  if (!lists::signing::verify_digest(pub, util::sha256(manifest), {sig.begin(), sig.end()}, err))
    return fail(dir, err);
  // The signature covers the manifest; the manifest covers every file.
  nlohmann::json m;
  try {
    m = nlohmann::json::parse(manifest);
    if (m.at("format").get<int>() != 1) return fail(dir, "manifest.json: unsupported format");
    std::set<std::string> expected = {"manifest.json", "manifest.sig"};
    for (const auto& [name, info] : m.at("files").items()) {
      if (name.find('/') != std::string::npos || name == "." || name == "..")
        return fail(dir, "manifest.json: bad file name '" + name + "'");
      expected.insert(name);
      uint64_t size = 0;
      std::string ferr;
      auto h = util::sha256_file(dir + "/" + name, ferr, &size);
      if (!h) return fail(dir, name + ": missing or unreadable (" + ferr + ")");
      if (size != info.at("size").get<uint64_t>())
        return fail(dir, name + ": size " + std::to_string(size) + " differs from the manifest");
      if (util::to_hex(*h) != info.at("sha256").get<std::string>())
        return fail(dir, name + ": sha256 differs from the manifest (modified or corrupt)");
    }
    if (!expected.count("public.cdb")) return fail(dir, "manifest.json: public.cdb not listed");
    DIR* d = ::opendir(dir.c_str());
    if (!d) return fail(dir, "cannot list directory");
    std::string extra;
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      if (!expected.count(n)) extra = n;
    }
    ::closedir(d);
    if (!extra.empty()) return fail(dir, "extra file '" + extra + "' not named in the manifest");
    std::printf("hedge verify: %s: OK: signature valid, version %llu, %zu files match\n", dir.c_str(),
                static_cast<unsigned long long>(m.at("version").get<uint64_t>()), expected.size() - 2);
  } catch (const nlohmann::json::exception& e) {
    return fail(dir, std::string("manifest.json: ") + e.what());
  }
  return 0;
}

}  // namespace hedge::cli
