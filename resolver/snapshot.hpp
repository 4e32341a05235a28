// snapshot: everything a query decision reads, immutable once built. A reload
// builds a new one (validated first) and swaps the pointer; queries in flight
// keep the one they started with.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "blocklists/bundle.hpp"
#include "config/config.hpp"
#include "dns/synthesize.hpp"
#include "policy/snapshot.hpp"

namespace hedge {

struct Snapshot {
  config::Config config;
  std::shared_ptr<const lists::Bundle> bundle;
  dns::BlockSettings block;
  std::shared_ptr<const policy::PolicySnapshot> policy;  // groups, schedules, exceptions
};

// Opens the bundle a config names (the empty bundle when none). On error
// returns null and sets err (the caller keeps its previous snapshot). With
// pace (a reload), the checks are held to its share of a core.
std::shared_ptr<const lists::Bundle> open_bundle(const config::Config& cfg, std::string& err,
                                                 util::Pacer* pace = nullptr);

// A snapshot from a validated config, its bundle and a policy snapshot.
std::shared_ptr<const Snapshot> make_snapshot(const config::Config& cfg,
                                              std::shared_ptr<const lists::Bundle> bundle,
                                              std::shared_ptr<const policy::PolicySnapshot> policy);

// For --check-config: bundle + policy built exactly as serve would, without a store.
// Warnings (the config still loads) are appended to `warnings`, one line each.
bool check_snapshot(const config::Config& cfg, std::string& err,
                    std::vector<std::string>* warnings = nullptr);

}  // namespace hedge
