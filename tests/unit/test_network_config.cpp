// Unit: the appliance's [network] table (config/network): every error as the
// technician sees it (file:line: key: message), the upstream fallback to
// [network] dns, and the networkd file it renders.
#include <doctest/doctest.h>

#include <string>

#include "config/config.hpp"

using hedge::config::Config;
using hedge::config::ConfigErrors;
using hedge::config::load_config_text;

namespace {
std::string errors_of(const std::string& toml, Config* out = nullptr) {
  Config c;
  ConfigErrors errs("hedge.toml");
  load_config_text(toml + "\n[upstream]\nservers = [\"192.0.2.53\"]\n", "hedge.toml", c, errs);
  std::string all;
  for (const auto& e : errs.list()) all += e.str() + "\n";
  if (out) *out = c;
  return all;
}
}  // namespace

TEST_CASE("network: errors name the line and the key") {
  struct Row {
    const char* toml;
    const char* error;  // "" = valid
  };
  const Row rows[] = {
      {"[network]\nmode = \"dhcp\"", ""},
      {"[network]\nmode = \"static\"\naddress = \"192.168.1.53/24\"\ngateway = \"192.168.1.1\"", ""},
      {"[network]\nmode = \"static\"\naddress = \"2001:db8::53/64\"\ngateway = \"2001:db8::1\"", ""},
      {"[network]\nmode = \"dhcp\"\ndns = [\"192.168.1.1\", \"2001:db8::53\"]\nhostname = \"hedge-1\"", ""},
      {"[network]\nmode = \"Static\"",
       "hedge.toml:2: network.mode: must be \"dhcp\" or \"static\", not \"Static\"\n"},
      {"[network]\nmode = \"static\"\ngateway = \"192.168.1.1\"",
       "hedge.toml:1: network.address: mode = \"static\" needs an address, e.g. \"192.168.1.53/24\"\n"},
      {"[network]\nmode = \"static\"\naddress = \"192.168.1.53/24\"",
       "hedge.toml:1: network.gateway: mode = \"static\" needs a gateway, e.g. \"192.168.1.1\"\n"},
      {"[network]\nmode = \"static\"\naddress = \"192.168.1.53\"\ngateway = \"192.168.1.1\"",
       "hedge.toml:3: network.address: '192.168.1.53' needs a prefix length, e.g. \"192.168.1.53/24\"\n"},
      {"[network]\nmode = \"static\"\naddress = \"192.168.1.53/33\"\ngateway = \"192.168.1.1\"",
       "hedge.toml:3: network.address: '192.168.1.53/33' prefix length must be between 1 and 32\n"},
      {"[network]\nmode = \"static\"\naddress = \"192.168.1.0/24\"\ngateway = \"192.168.1.1\"",
       "hedge.toml:3: network.address: '192.168.1.0/24' is the network's own or broadcast address, not one "
       "for the "
       "box\n"},
      {"[network]\nmode = \"static\"\naddress = \"192.168.1.53/24\"\ngateway = \"192.168.2.1\"",
       "hedge.toml:4: network.gateway: '192.168.2.1' is not in the same network as address "
       "'192.168.1.53/24'\n"},
      {"[network]\nmode = \"static\"\naddress = \"192.168.1.53/24\"\ngateway = \"router\"",
       "hedge.toml:4: network.gateway: 'router' is not an IP address (e.g. \"192.168.1.1\")\n"},
      {"[network]\naddress = \"192.168.1.53/24\"",
       "hedge.toml:2: network.address: is only used with mode = \"static\" (DHCP gives the address)\n"},
      {"[network]\ndns = \"192.168.1.1\"",
       "hedge.toml:2: network.dns: must be a list of addresses, e.g. [\"192.168.1.1\"]\n"},
      {"[network]\ndns = [\"192.168.1.1\", \"dns.example\"]",
       "hedge.toml:2: network.dns[1]: 'dns.example' is not an IP address (e.g. \"192.168.1.1\")\n"},
      {"[network]\nhostname = \"my box\"",
       "hedge.toml:2: network.hostname: 'my box' must be 1-63 letters, digits or '-'\n"},
      {"[network]\nmodee = \"dhcp\"",
       "hedge.toml:2: network.modee: unknown key (known: mode, address, gateway, dns, hostname, "
       "interface)\n"},
      {"network = 5", "hedge.toml:1: network: must be a table ([network])\n"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.toml);
    CHECK(errors_of(r.toml) == r.error);
  }
}

TEST_CASE("network: dns are the upstreams when [upstream] servers is absent") {
  Config c;
  ConfigErrors errs("hedge.toml");
  REQUIRE(load_config_text("[network]\ndns = [\"198.51.100.53\", \"198.51.100.54:5353\"]\n", "hedge.toml", c,
                           errs));
  REQUIRE(c.upstream.servers.size() == 2);
  CHECK(c.upstream.servers[0].str() == "198.51.100.53:53");
  CHECK(c.upstream.servers[1].str() == "198.51.100.54:5353");
  CHECK_FALSE(c.upstream.from_resolv_conf);
  // [upstream] servers win over [network] dns.
  Config d;
  ConfigErrors errs2("hedge.toml");
  REQUIRE(load_config_text("[network]\ndns = [\"198.51.100.53\"]\n[upstream]\nservers = [\"192.0.2.53\"]\n",
                           "hedge.toml", d, errs2));
  REQUIRE(d.upstream.servers.size() == 1);
  CHECK(d.upstream.servers[0].str() == "192.0.2.53:53");
}

TEST_CASE("network: networkd file for static and DHCP") {
  Config c;
  REQUIRE(errors_of("[network]\nmode = \"static\"\naddress = \"192.168.1.53/24\"\ngateway = \"192.168.1.1\"\n"
                    "interface = \"eth0\"",
                    &c) == "");
  const std::string s = hedge::config::networkd_unit(c.network);
  CHECK(s.find("[Match]\nName=eth0\n") != std::string::npos);
  CHECK(s.find("Address=192.168.1.53/24\nGateway=192.168.1.1\n") != std::string::npos);
  CHECK(s.find("DHCP=") == std::string::npos);
  Config d;
  REQUIRE(errors_of("[network]\nmode = \"dhcp\"", &d) == "");
  const std::string t = hedge::config::networkd_unit(d.network);
  CHECK(t.find("Name=en* eth*\n") != std::string::npos);
  CHECK(t.find("DHCP=yes\n") != std::string::npos);
  CHECK(t.find("UseDNS=no\n") != std::string::npos);
  CHECK(t.find("Address=") == std::string::npos);
}
