// policy/policy_config: the [[schedule]], [[group]], [policy] and [store]
// tables of hedge.toml, validated (every error collected with its line) into
// plain values. The snapshot builder compiles them against a bundle.
//
// Fixed at start: [store] path. Reloadable: everything else (a reload builds a
// new snapshot and keeps the old one if it has any error).
#pragma once

#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "policy/schedule.hpp"
#include "util/errors.hpp"

namespace hedge::policy {

enum class SafeSearch : uint8_t { off, moderate, strict };
enum class GroupMode : uint8_t { categories, allowlist };
enum class BlockMode : uint8_t { block, nxdomain };
const char* to_string(SafeSearch s) noexcept;

// One `clients` entry: a CIDR (or bare address) matched against the peer, or
// "listen:ADDR" matched against the local address the query arrived on.
struct ClientMatch {
  bool listen = false;
  bool v6 = false;
  std::array<uint8_t, 16> addr{};  // network order; v4 uses the first 4 bytes
  uint8_t prefix = 0;              // 0..32 or 0..128
  std::string text;                // as written, for explain and errors
};
// Parses "10.0.0.0/8", "10.1.2.3", "2001:db8::/32", "listen:192.0.2.1".
bool parse_client_match(std::string_view s, ClientMatch& out, std::string& err);

struct GroupConfig {
  std::string name;
  int line = 0;
  std::vector<ClientMatch> clients;
  GroupMode mode = GroupMode::categories;
  std::vector<std::string> allow;  // names (normal form) always allowed; in allowlist mode, the only names
  std::vector<std::string> deny;   // names (normal form) always blocked for this group
  std::vector<std::string> block;  // category ids
  bool block_set = false;          // `block` given (allowlist mode defaults to every category)
  std::vector<std::pair<std::string, std::vector<std::string>>> allow_during;  // schedule -> category ids
  SafeSearch safe_search = SafeSearch::off;
  std::optional<bool> bypass_defence;  // default: on for every group; only an explicit false turns it off
  int bypass_defence_line = 0;
  BlockMode block_mode = BlockMode::block;
};

struct PolicyConfig {
  std::string file;  // for error messages
  std::vector<Schedule> schedules;
  std::vector<GroupConfig> groups;
  // [policy]
  std::string default_group;  // empty: the implicit "default" group (blocks every category)
  std::string timezone = "Europe/London";
  bool require_approval = false;
  int64_t exception_default_seconds = int64_t{7} * 86400;
  int64_t exception_max_seconds = int64_t{30} * 86400;
  // Names that resolve for every group whatever the policy (the block page's
  // host name); filled by the server's loader from [block], not from [policy].
  std::vector<std::string> always_allow;
  // [store]
  std::string store_path = "/var/lib/hedge/hedge.db";
};

// Handles ONLY the top-level keys schedule, group, policy and store of `root`;
// unknown keys inside those tables are reported with their line.
void parse_policy_config(const toml::table& root, util::ConfigErrors& errs, PolicyConfig& out);

}  // namespace hedge::policy
