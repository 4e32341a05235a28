// blocklists/bundle_writer: turns a Compiler's result into a bundle directory
// (docs/bundle-format.md). Owns the on-disk side: a temp directory next to the
// target, every file fsync'd, the manifest (and its signature) written last,
// then one atomic rename (or RENAME_EXCHANGE over an existing bundle), so a
// reader or a crash sees either the old bundle or the new one, never a mix.
// With bundle.cpp, the only file that calls cdb_*.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "blocklists/compiler.hpp"

namespace hedge::lists {

struct WriteOptions {
  std::string out_dir;
  std::optional<uint64_t> version;           // default: UTC creation time in seconds
  std::optional<std::string> sign_key;       // private key PEM: also write manifest.sig
  int64_t valid_for_s = int64_t{7} * 86400;  // manifest valid_until = created + this
  std::string channel = "stable";            // the box's [update] channel must match
};

struct WriteResult {
  uint64_t version = 0;
  int64_t created = 0, valid_until = 0;
  uint64_t public_bytes = 0, confidential_bytes = 0, report_bytes = 0, manifest_bytes = 0;
  uint64_t public_keys = 0, confidential_keys = 0;
};

// The report as JSON (also what the CLI prints from). Confidential sources
// carry counts only, never names or lines.
std::string report_json(const Compiler& c);

bool write_bundle(const Compiler& c, const WriteOptions& opt, WriteResult& out, std::string& err);

}  // namespace hedge::lists
