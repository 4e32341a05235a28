// Unit: config validation table (every error message) and the documented example.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "config/config.hpp"

using hedge::config::Config;
using hedge::config::load_config_text;
using hedge::util::ConfigErrors;

namespace {
std::string errors_of(const std::string& toml) {
  Config c;
  ConfigErrors errs("t.toml");
  // An upstream is added (at the end, so line numbers are the row's own) unless the row sets one.
  const std::string text = toml.find("[upstream]") == std::string::npos
                               ? toml + "\n[upstream]\nservers = [\"192.0.2.53\"]\n"
                               : toml;
  load_config_text(text, "t.toml", c, errs);
  std::string all;
  for (const auto& e : errs.list()) all += e.str() + "\n";
  return all;
}
}  // namespace

TEST_CASE("config: the issue's example keys load") {
  Config c;
  ConfigErrors errs("x.toml");
  const char* text = R"([server]
listen = ["127.0.0.1:5300", "[::1]:5300"]
allow_clients = ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
[upstream]
servers = ["192.0.2.53:53", "198.51.100.53:53"]
[lists]
bundle = "/var/lib/hedge/lists/current"
[block]
ipv4 = "192.0.2.99"
ipv6 = "2001:db8::99"
)";
  CHECK(load_config_text(text, "x.toml", c, errs));
  CHECK(errs.empty());
  CHECK(c.server.listen.size() == 2);
  CHECK(c.server.listen[1].str() == "[::1]:5300");
  CHECK(c.server.allow_clients.size() == 6);
  CHECK(c.upstream.servers[1].str() == "198.51.100.53:53");
  CHECK(c.lists.bundle == "/var/lib/hedge/lists/current");
  CHECK(c.block.has_v4);
  CHECK(c.block.has_v6);
}

TEST_CASE("config: error table (file:line: key: message)") {
  struct Row {
    const char* toml;
    const char* expect;
  };
  const Row rows[] = {
      {"[server]\nlisten = [\"nonsense\"]\n",
       "t.toml:2: server.listen[0]: 'nonsense' is not an address with a port"},
      {"[server]\nlisten = \"127.0.0.1:53\"\n", "t.toml:2: server.listen: must be an array of strings"},
      {"[server]\nallow_clients = [\"10.0.0.1/8\"]\n",
       "t.toml:2: server.allow_clients[0]: '10.0.0.1/8': address has bits set beyond the prefix length"},
      {"[server]\nallow_clients = [\"10.0.0.0/33\"]\n",
       "server.allow_clients[0]: '10.0.0.0/33': bad prefix length"},
      {"[server]\nlisen = [\"127.0.0.1:53\"]\n", "t.toml:2: server.lisen: unknown key"},
      {"[server]\nrate_limit_qps = -1\n", "server.rate_limit_qps: must be between 0 and 10000000"},
      {"[server]\nrate_limit_qps = \"fast\"\n", "server.rate_limit_qps: must be an integer"},
      {"[server]\nmax_udp_size = 100\n", "server.max_udp_size: must be between 512 and 4096"},
      {"[upstream]\nattempts = 0\n", "upstream.attempts: must be between 1 and 10"},
      {"[block]\nipv4 = \"2001:db8::1\"\n", "t.toml:2: block.ipv4: '2001:db8::1' is not an IPv4 address"},
      {"[block]\nipv6 = \"192.0.2.1\"\n", "block.ipv6: '192.0.2.1' is not an IPv6 address"},
      {"[lists]\nbundle = \"\"\n", "lists.bundle: must not be empty"},
      {"[lists]\nbundle = 5\n", "lists.bundle: must be a string"},
      {"[cache]\nmin_ttl = 100\nmax_ttl = 10\n", "cache.min_ttl: must not exceed cache.max_ttl"},
      {"[log]\nlevel = \"loud\"\n", "log.level: must be debug, info, warn or error"},
      {"[frobnicate]\nx = 1\n", "t.toml:1: frobnicate: unknown key"},
      {"server = 5\n", "t.toml:1: server: must be a table ([server])"},
      {"[server\n", "t.toml:1: (syntax):"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.toml);
    const std::string got = errors_of(r.toml);
    CAPTURE(got);
    CHECK(got.find(r.expect) != std::string::npos);
  }
}

TEST_CASE("config: upstream duplicates its own listen address") {
  Config c;
  ConfigErrors errs("t.toml");
  load_config_text("[server]\nlisten=[\"127.0.0.1:5300\"]\n[upstream]\nservers=[\"127.0.0.1:5300\"]\n",
                   "t.toml", c, errs);
  REQUIRE(errs.list().size() == 1);
  CHECK(errs.list()[0].str().find("Hedge's own listen address") != std::string::npos);
}

TEST_CASE("config: every error is reported, not just the first") {
  const std::string got =
      errors_of("[server]\nlisten = [\"x\"]\nrate_limit_qps = \"y\"\n[block]\nipv4 = \"z\"\n");
  CHECK(std::count(got.begin(), got.end(), '\n') == 4);  // 3 bad values + "no listen address left"
  CHECK(got.find("server.listen: at least one listen address is needed") != std::string::npos);
}

TEST_CASE("config: resolver/hedge.example.toml is valid") {
  std::ifstream in(std::string(HEDGE_SOURCE_DIR) + "/resolver/hedge.example.toml");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  Config c;
  ConfigErrors errs("hedge.example.toml");
  // The example relies on /etc/resolv.conf for upstream; add one so the test does not depend on the machine.
  load_config_text(ss.str() + "\n[upstream]\nservers = [\"192.0.2.53\"]\n", "hedge.example.toml", c, errs);
  for (const auto& e : errs.list()) FAIL(e.str());
  CHECK(c.server.listen.size() == 2);
}

TEST_CASE("resolv.conf parsing") {
  const std::string path = "/tmp/hedge-test-resolv.conf";
  {
    std::ofstream out(path);
    out << "# comment\nsearch example\nnameserver fe80::1%eth0\nnameserver 192.0.2.1\n";
  }
  auto ns = hedge::config::resolv_conf_nameserver(path);
  REQUIRE(ns);
  CHECK(ns->str() == "[fe80::1]:53");
}
