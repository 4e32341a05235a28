// config/network_cli: `hedge netconf --config FILE [--hostname]`: validates the
// whole config and prints the systemd-networkd .network file for its [network]
// table (or, with --hostname, the box's host name). The appliance's boot script
// (board/common/hedge-boot-config) calls it so it never parses TOML itself.
#include <cstdio>
#include <string>

#include "cli.hpp"
#include "config/config.hpp"

namespace hedge::cli {

int netconf(int argc, char** argv) {
  std::string path;
  bool hostname = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) {
      path = argv[++i];
    } else if (a == "--hostname") {
      hostname = true;
    } else {
      std::fprintf(stderr, "usage: hedge netconf --config FILE [--hostname]\n");
      return 2;
    }
  }
  if (path.empty()) {
    std::fprintf(stderr, "usage: hedge netconf --config FILE [--hostname]\n");
    return 2;
  }
  config::Config cfg;
  config::ConfigErrors errs(path);
  if (!config::load_config(path, cfg, errs)) {
    for (const auto& e : errs.list()) std::fprintf(stderr, "%s\n", e.str().c_str());
    return 1;
  }
  if (hostname) {
    if (!cfg.network.hostname.empty()) std::printf("%s\n", cfg.network.hostname.c_str());
    return 0;
  }
  std::fputs(config::networkd_unit(cfg.network).c_str(), stdout);
  return 0;
}

}  // namespace hedge::cli
