// snapshot: everything a query decision reads, immutable once built. A reload
// builds a new one (validated first) and swaps the pointer; queries in flight
// keep the one they started with.
#pragma once

#include <memory>

#include "blocklists/bundle.hpp"
#include "config/config.hpp"
#include "dns/synthesize.hpp"

namespace hedge {

struct Snapshot {
  config::Config config;
  std::shared_ptr<const lists::Bundle> bundle;
  dns::BlockSettings block;
};

// Builds a snapshot from a validated config: opens the bundle. On error
// returns null and sets err (the caller keeps its previous snapshot).
std::shared_ptr<const Snapshot> build_snapshot(const config::Config& cfg, std::string& err);

}  // namespace hedge
