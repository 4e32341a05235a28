// snapshot: config + bundle -> immutable snapshot.
#include "snapshot.hpp"

#include <cstring>

namespace hedge {

std::shared_ptr<const Snapshot> build_snapshot(const config::Config& cfg, std::string& err) {
  auto s = std::make_shared<Snapshot>();
  s->config = cfg;
  if (cfg.lists.bundle.empty()) {
    s->bundle = lists::Bundle::empty();
  } else {
    s->bundle = lists::Bundle::open(cfg.lists.bundle, cfg.lists.verify_hashes, err);
    if (!s->bundle) return nullptr;
  }
  auto& b = s->block;
  b.ttl = cfg.block.ttl;
  b.has_v4 = cfg.block.has_v4;
  b.has_v6 = cfg.block.has_v6;
  if (b.has_v4)
    std::memcpy(b.v4.data(), &reinterpret_cast<const sockaddr_in*>(cfg.block.v4.sa())->sin_addr, 4);
  if (b.has_v6)
    std::memcpy(b.v6.data(), &reinterpret_cast<const sockaddr_in6*>(cfg.block.v6.sa())->sin6_addr, 16);
  b.soa_serial = static_cast<uint32_t>(s->bundle->version());
  return s;
}

}  // namespace hedge
