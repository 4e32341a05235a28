// update/updater: `hedge update`, `hedge rollback` and `hedge publish` as
// whole operations (docs/update.md). Orchestration only: TLS and HTTP are in
// https_client, the decisions in verify, the files in generations, the
// memory in state. Each returns the process exit status and prints one line
// saying what happened (stdout) or what failed and where (stderr).
#pragma once

#include <cstdint>
#include <string>

#include "config/config.hpp"

namespace hedge::update {

struct Context {
  config::Config cfg;
  std::string bundle_link;  // [lists] bundle: the `current` symlink
  std::string state_path, socket_path;
};
// Loads the config and derives the paths; false with a printed error.
bool load_context(const std::string& config_path, Context& ctx, const char* who);

struct UpdateOptions {
  bool check = false;            // say what would happen; change nothing
  bool allow_downgrade = false;  // a person accepts an older or held serial
  bool scheduled = false;        // the timer: honour the backoff and the nightly slot
  int64_t reload_timeout_ms = 60'000;
};
int run_update(const Context& ctx, const UpdateOptions& opt);

struct RollbackOptions {
  std::string by, reason;
  int64_t reload_timeout_ms = 60'000;
};
int run_rollback(const Context& ctx, const RollbackOptions& opt);

struct PublishOptions {
  std::string bundle, webroot, pubkey;
  unsigned keep = 3;  // serial folders kept in the webroot (boxes mid-download still find theirs)
};
int run_publish(const PublishOptions& opt);

}  // namespace hedge::update
