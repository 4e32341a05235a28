// update/verify: the pure decisions of the updater, table-tested
// (tests/unit/test_update.cpp): what the pointer file says, what a signed
// manifest promises, and whether this box may install it. No I/O, no clock:
// the caller passes the trusted time in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "blocklists/update/https_client.hpp"

namespace hedge::update {

// <channel>.json, written last by `hedge publish`: which serial folder holds
// the newest bundle. Unsigned: it only says where to look; everything it
// leads to is checked against the signed manifest.
struct Pointer {
  uint64_t serial = 0;
  std::string channel;
};
std::optional<Pointer> parse_pointer(const std::string& text, std::string& err);
std::string pointer_json(uint64_t serial, const std::string& channel, const std::string& created);

struct FileEntry {
  std::string name, sha256;
  uint64_t size = 0;
};

struct ManifestInfo {
  uint64_t serial = 0;
  int64_t created = 0, valid_until = 0;
  std::string channel;
  std::vector<FileEntry> files;  // never manifest.json / manifest.sig
  uint64_t total_bytes = 0;
};
// Structure only (the signature is checked before this is trusted).
bool parse_manifest(const std::string& text, ManifestInfo& out, std::string& err);

struct InstallPolicy {
  uint64_t pointer_serial = 0;  // what <channel>.json announced
  uint64_t installed = 0;       // serial behind `current` (0: none)
  uint64_t high_water = 0;      // highest ever installed (state file)
  uint64_t held = 0;            // rolled back from (never re-installed)
  int64_t trusted_now = 0;      // max(system clock, trusted_time)
  std::string channel = "stable";
  uint64_t max_bytes = 0;
  bool allow_downgrade = false;  // a person asked for it
};
// Failure{none} when the manifest may be installed.
Failure judge(const ManifestInfo& m, const InstallPolicy& p);

// max(system time, newest trusted time): the clock Hedge believes.
inline int64_t trusted_now(int64_t system_now, int64_t trusted_time) noexcept {
  return system_now > trusted_time ? system_now : trusted_time;
}

}  // namespace hedge::update
