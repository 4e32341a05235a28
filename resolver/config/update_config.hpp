// config/update_config: the [update] table (docs/configuration.md, docs/update.md).
// Read by `hedge update` / `hedge rollback` (every key) and by `hedge serve`
// (only where the control socket and the update state live, for the reload
// trigger and /status). Parsed here so config.cpp only gains one call.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <string>

#include "util/errors.hpp"

namespace hedge::config {

using util::ConfigErrors;

struct UpdateConfig {
  bool present = false;  // an [update] table exists
  std::string url;       // https://host[:port]/dir/ (trailing / added)
  std::string pubkey = "/etc/hedge/trust.pub";
  std::string ca_file = "/etc/ssl/certs/ca-certificates.crt";
  std::string channel = "stable";
  int64_t max_age_s = 129600;                        // 36 h: /health degrades past this
  uint64_t max_bytes = uint64_t{200} * 1000 * 1000;  // whole download
  int64_t connect_timeout_s = 10, idle_timeout_s = 30, total_timeout_s = 1800;  // 30 min
  // Nightly window (UTC, minutes after midnight) for `hedge update --scheduled`:
  // each box picks its own minute in it, so a trust's boxes spread out.
  int window_start_min = 60, window_len_min = 240;
  std::string state_file;      // empty: <bundle parent>/update-state.json
  std::string control_socket;  // empty: <bundle parent>/hedge.sock
};

void parse_update_config(const toml::table& t, UpdateConfig& out, ConfigErrors& errs);

// Where generations live: the directory holding the `current` symlink.
std::string generations_dir(const std::string& bundle_path);
// The defaults above, derived from [lists] bundle when not set ("" if neither).
std::string update_state_path(const UpdateConfig& u, const std::string& bundle_path);
std::string control_socket_path(const UpdateConfig& u, const std::string& bundle_path);

}  // namespace hedge::config
