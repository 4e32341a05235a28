// config/network: the `[network]` table (the box's own interface: DHCP or a
// static address), validated with the rest of the config so a technician's
// mistake in the boot partition's hedge.toml gets `file:line: key: message`,
// and rendered as a systemd-networkd `.network` file by `hedge netconf`.
// Owns no I/O: parse and render only (network_cli.cpp writes the file).
#pragma once

#include <string>
#include <vector>

#include "util/address.hpp"
#include "util/errors.hpp"

namespace hedge::config {

using util::ConfigErrors;

struct NetworkConfig {
  bool present = false;                   // a [network] table was in the file
  bool is_static = false;                 // mode = "static" (default "dhcp")
  std::string address;                    // static: "192.0.2.53/24" as written
  std::string gateway;                    // static: "192.0.2.1"
  std::vector<std::string> dns;           // as written
  std::vector<util::SockAddr> dns_addrs;  // port 53; Hedge's upstreams when [upstream] servers is absent
  int dns_line = 0;
  std::string hostname;   // optional; letters, digits and '-'
  std::string interface;  // optional; default: the first wired interface (en*, eth*)
};

// Reads root["network"] (if any) into out; every problem goes to errs.
void parse_network(const toml::table& root, ConfigErrors& errs, NetworkConfig& out);

// systemd-networkd .network text for the box's interface (valid input only).
std::string networkd_unit(const NetworkConfig& n);

}  // namespace hedge::config
