// policy/snapshot: everything the decision needs, compiled once and then
// immutable: groups with category bitmasks (against one bundle's bits),
// schedules, the client matcher, exceptions sorted for suffix lookup, safe
// search targets and the time zone. Built at startup and on every reload
// (config change, new bundle, exception store change); in-flight queries keep
// the snapshot they started with (std::shared_ptr<const PolicySnapshot>).
//
// How the server drives it:
//   auto snap = build_policy_snapshot(cfg, bundle, store.load_all(), errs);
//   if (!errs.empty()) { keep the old snapshot, log errs; }
//   ...per query: const Group& g = classify(*snap, peer, local);
//                 Verdict v = decide(qname, qtype, g, *snap, now_unix);
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "blocklists/bundle.hpp"
#include "policy/exception.hpp"
#include "policy/policy_config.hpp"
#include "policy/schedule.hpp"
#include "policy/timezone.hpp"
#include "util/errors.hpp"

namespace hedge::policy {

struct Group {
  std::string name;
  std::size_t index = 0;  // position in PolicySnapshot::groups()
  bool implicit = false;  // the built-in "default" group (no [[group]] for it)
  GroupMode mode = GroupMode::categories;
  BlockMode block_mode = BlockMode::block;
  SafeSearch safe_search = SafeSearch::off;
  bool bypass_defence = false;
  uint64_t block_mask = 0;  // bundle bits blocked outside any window
  struct AllowDuring {
    const Schedule* schedule = nullptr;  // points into the snapshot
    uint64_t mask = 0;                   // bundle bits allowed while the schedule is active
  };
  std::vector<AllowDuring> allow_during;
  std::vector<std::string> allow;      // sorted normal-form names (subtree match)
  std::vector<std::string> deny;       // sorted normal-form names (subtree match)
  std::vector<std::string> clients;    // as written, for explain
  std::vector<std::string> block_ids;  // category ids as written, for explain
};

class PolicySnapshot {
 public:
  const std::vector<Group>& groups() const noexcept { return m_groups; }
  const Group& default_group() const noexcept { return m_groups[m_default]; }
  const Group* find_group(std::string_view name) const noexcept;
  const lists::Bundle& bundle() const noexcept { return *m_bundle; }
  const std::shared_ptr<const lists::Bundle>& bundle_ptr() const noexcept { return m_bundle; }
  const TimeZone& timezone() const noexcept { return m_tz; }
  const std::vector<Schedule>& schedules() const noexcept { return m_schedules; }
  // Every exception handed to the builder (active, pending, expired), for explain.
  const std::vector<Exception>& exceptions() const noexcept { return m_exceptions; }
  bool require_approval() const noexcept { return m_require_approval; }
  uint64_t bypass_mask() const noexcept { return m_bypass_mask; }
  uint64_t confidential_mask() const noexcept { return m_confidential_mask; }
  uint64_t all_mask() const noexcept { return m_all_mask; }
  // Category ids of the bits in `mask`, comma separated (confidential ones
  // left out unless `include_confidential`). Allocates: for logs and explain.
  std::string category_names(uint64_t mask, bool include_confidential = false) const;

  // Compiled forms read by decide() and classify() (not for other callers).
  struct CompiledException {
    std::string name;
    int group = -1;  // group index, -1 = every group
    ExceptionKind kind = ExceptionKind::allow;
    int64_t starts = 0, expires = 0, id = 0;
  };
  struct Net {
    bool v6 = false;
    uint8_t prefix = 0;
    std::array<uint8_t, 16> addr{};
    std::size_t group = 0;
  };
  struct SafeSearchEntry {
    std::string name;
    uint8_t service = 0;  // 0 google, 1 youtube, 2 bing, 3 duckduckgo
  };
  const std::vector<CompiledException>& compiled_exceptions() const noexcept { return m_compiled; }
  const std::vector<Net>& nets() const noexcept { return m_nets; }
  const std::vector<Net>& listens() const noexcept { return m_listens; }
  const std::vector<SafeSearchEntry>& safe_search_names() const noexcept { return m_safe_search; }
  const std::vector<std::string>& always_allow() const noexcept { return m_always_allow; }
  std::string_view safe_search_target(uint8_t service, SafeSearch level) const noexcept;

 private:
  friend std::shared_ptr<const PolicySnapshot> build_policy_snapshot(const PolicyConfig&,
                                                                     std::shared_ptr<const lists::Bundle>,
                                                                     std::vector<Exception>,
                                                                     util::ConfigErrors&);
  std::shared_ptr<const lists::Bundle> m_bundle;
  TimeZone m_tz;
  std::vector<Schedule> m_schedules;
  std::vector<Group> m_groups;
  std::size_t m_default = 0;
  std::vector<Exception> m_exceptions;
  std::vector<CompiledException> m_compiled;  // sorted by name
  std::vector<Net> m_nets;                    // most specific prefix first
  std::vector<Net> m_listens;
  std::vector<SafeSearchEntry> m_safe_search;  // sorted by name
  std::vector<std::string> m_always_allow;     // sorted
  bool m_require_approval = false;
  uint64_t m_bypass_mask = 0, m_confidential_mask = 0, m_all_mask = 0;
};

// Builds a snapshot. On any error (unknown time zone, bad config) the errors
// are added to errs and the result must not be used (the caller keeps its old
// snapshot); a usable snapshot is still returned so --check-config can show it.
std::shared_ptr<const PolicySnapshot> build_policy_snapshot(const PolicyConfig& cfg,
                                                            std::shared_ptr<const lists::Bundle> bundle,
                                                            std::vector<Exception> active_exceptions,
                                                            util::ConfigErrors& errs);

// Picks the client's group: a `listen:ADDR` entry matching the local address
// the query arrived on wins (one VLAN per group), then the most specific CIDR
// containing the peer, else the default group. IPv4-mapped IPv6 peers match
// IPv4 networks. Either pointer may be null.
const Group& classify(const PolicySnapshot& snap, const sockaddr* peer, const sockaddr* local) noexcept;

// Google's search domains (google.<tld> for every country), for safe search.
const std::vector<std::string_view>& google_search_tlds();

}  // namespace hedge::policy
