// snapshot: config + bundle + policy -> immutable snapshot.
#include "snapshot.hpp"

#include <cstring>

namespace hedge {

std::shared_ptr<const lists::Bundle> open_bundle(const config::Config& cfg, std::string& err,
                                                 util::Pacer* pace) {
  if (cfg.lists.bundle.empty()) return lists::Bundle::empty();
  return lists::Bundle::open(cfg.lists.bundle, cfg.lists.verify_hashes, err, pace);
}

std::shared_ptr<const Snapshot> make_snapshot(const config::Config& cfg,
                                              std::shared_ptr<const lists::Bundle> bundle,
                                              std::shared_ptr<const policy::PolicySnapshot> policy) {
  auto s = std::make_shared<Snapshot>();
  s->config = cfg;
  s->bundle = std::move(bundle);
  s->policy = std::move(policy);
  auto& b = s->block;
  b.ttl = cfg.block.ttl;
  b.has_v4 = cfg.block.has_v4;
  b.has_v6 = cfg.block.has_v6;
  b.v4_self = cfg.block.v4_self;
  b.v6_self = cfg.block.v6_self;
  if (b.has_v4 && !b.v4_self)
    std::memcpy(b.v4.data(), &reinterpret_cast<const sockaddr_in*>(cfg.block.v4.sa())->sin_addr, 4);
  if (b.has_v6 && !b.v6_self)
    std::memcpy(b.v6.data(), &reinterpret_cast<const sockaddr_in6*>(cfg.block.v6.sa())->sin6_addr, 16);
  b.soa_serial = static_cast<uint32_t>(s->bundle->version());
  return s;
}

bool check_snapshot(const config::Config& cfg, std::string& err, std::vector<std::string>* warnings) {
  auto bundle = open_bundle(cfg, err);
  if (!bundle) {
    err = cfg.path + ":" + std::to_string(cfg.lists.bundle_line) + ": lists.bundle: " + err;
    return false;
  }
  util::ConfigErrors errs(cfg.path);
  const bool built = policy::build_policy_snapshot(cfg.policy, bundle, {}, errs) != nullptr;
  if (warnings)
    for (const auto& w : errs.warnings()) warnings->push_back(w.str());
  if (!built || !errs.empty()) {
    for (const auto& e : errs.list()) err += (err.empty() ? "" : "\n") + e.str();
    return false;
  }
  return true;
}

}  // namespace hedge
