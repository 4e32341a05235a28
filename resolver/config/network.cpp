// config/network: [network] parsing and the networkd rendering (see network.hpp).
#include "config/network.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>
#include <optional>

namespace hedge::config {
namespace {

struct Prefix {
  util::SockAddr addr;
  int len = 0;
};

// "192.0.2.53/24" (a host address with its prefix length; the host part must not be zero).
std::optional<Prefix> parse_host_prefix(const std::string& s, std::string& why) {
  const auto slash = s.find('/');
  if (slash == std::string::npos) {
    why = "needs a prefix length, e.g. \"192.168.1.53/24\"";
    return std::nullopt;
  }
  auto a = util::parse_ip(std::string_view(s).substr(0, slash));
  if (!a) {
    why = "is not an IP address with a prefix length, e.g. \"192.168.1.53/24\"";
    return std::nullopt;
  }
  const std::string len_s = s.substr(slash + 1);
  const int max = a->family() == AF_INET ? 32 : 128;
  int len = -1;
  if (!len_s.empty() && len_s.size() <= 3 && len_s.find_first_not_of("0123456789") == std::string::npos)
    len = std::stoi(len_s);
  if (len < 1 || len > max) {
    why = "prefix length must be between 1 and " + std::to_string(max);
    return std::nullopt;
  }
  return Prefix{*a, len};
}

// Address bytes of an IP (4 or 16).
std::string ip_bytes(const util::SockAddr& a) {
  if (a.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(a.sa());
    return std::string(reinterpret_cast<const char*>(&in->sin_addr), 4);
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a.sa());
  return std::string(reinterpret_cast<const char*>(&in6->sin6_addr), 16);
}

bool same_subnet(const Prefix& p, const util::SockAddr& other) {
  if (p.addr.family() != other.family()) return false;
  const std::string x = ip_bytes(p.addr), y = ip_bytes(other);
  for (int bit = 0; bit < p.len; ++bit) {
    const auto m = static_cast<unsigned char>(0x80u >> (bit % 8));
    if ((static_cast<unsigned char>(x[bit / 8]) & m) != (static_cast<unsigned char>(y[bit / 8]) & m))
      return false;
  }
  return true;
}

// Host part all zeros (the network's own address) or, for IPv4, all ones (broadcast).
bool is_network_or_broadcast(const Prefix& p) {
  const std::string x = ip_bytes(p.addr);
  const int bits = static_cast<int>(x.size()) * 8;
  if (p.len >= bits - 1) return false;  // /31, /32: no network/broadcast address
  bool zeros = true, ones = true;
  for (int bit = p.len; bit < bits; ++bit) {
    const bool set = (static_cast<unsigned char>(x[bit / 8]) & (0x80u >> (bit % 8))) != 0;
    zeros = zeros && !set;
    ones = ones && set;
  }
  return zeros || (ones && p.addr.family() == AF_INET);
}

bool valid_label(const std::string& s, std::size_t max) {
  if (s.empty() || s.size() > max || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void parse_network(const toml::table& root, ConfigErrors& errs, NetworkConfig& out) {
  out = NetworkConfig{};
  const toml::node* node = root.get("network");
  if (!node) return;
  const toml::table* t = node->as_table();
  if (!t) {
    errs.add(*node, "network", "must be a table ([network])");
    return;
  }
  out.present = true;
  for (auto&& [k, v] : *t) {
    const std::string_view key = k.str();
    if (key != "mode" && key != "address" && key != "gateway" && key != "dns" && key != "hostname" &&
        key != "interface")
      errs.add(v, "network." + std::string(key),
               "unknown key (known: mode, address, gateway, dns, hostname, interface)");
  }
  auto str = [&](std::string_view key) -> std::optional<std::string> {
    const toml::node* n = t->get(key);
    if (!n) return std::nullopt;
    if (!n->is_string()) {
      errs.add(*n, "network." + std::string(key), "must be a string in quotes");
      return std::nullopt;
    }
    return n->value<std::string>();
  };
  if (auto m = str("mode")) {
    if (*m == "static")
      out.is_static = true;
    else if (*m != "dhcp")
      errs.add(*t->get("mode"), "network.mode", "must be \"dhcp\" or \"static\", not \"" + *m + "\"");
  }
  std::optional<Prefix> prefix;
  if (auto a = str("address")) {
    out.address = *a;
    std::string why;
    prefix = parse_host_prefix(*a, why);
    if (!prefix)
      errs.add(*t->get("address"), "network.address", "'" + *a + "' " + why);
    else if (is_network_or_broadcast(*prefix))
      errs.add(*t->get("address"), "network.address",
               "'" + *a + "' is the network's own or broadcast address, not one for the box");
  }
  if (auto g = str("gateway")) {
    out.gateway = *g;
    auto ga = util::parse_ip(*g);
    if (!ga)
      errs.add(*t->get("gateway"), "network.gateway",
               "'" + *g + "' is not an IP address (e.g. \"192.168.1.1\")");
    else if (prefix && !same_subnet(*prefix, *ga))
      errs.add(*t->get("gateway"), "network.gateway",
               "'" + *g + "' is not in the same network as address '" + out.address + "'");
  }
  if (const toml::node* d = t->get("dns")) {
    out.dns_line = ConfigErrors::line_of(*d);
    const toml::array* arr = d->as_array();
    if (!arr) {
      errs.add(*d, "network.dns", "must be a list of addresses, e.g. [\"192.168.1.1\"]");
    } else {
      for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& el = *arr->get(i);
        const std::string k = "network.dns[" + std::to_string(i) + "]";
        auto s = el.value<std::string>();
        if (!el.is_string() || !s) {
          errs.add(el, k, "must be an address in quotes");
          continue;
        }
        auto a = util::parse_sockaddr(*s, 53);
        if (!a) {
          errs.add(el, k, "'" + *s + "' is not an IP address (e.g. \"192.168.1.1\")");
          continue;
        }
        out.dns.push_back(*s);
        out.dns_addrs.push_back(*a);
      }
    }
  }
  if (auto h = str("hostname")) {
    if (!valid_label(*h, 63))
      errs.add(*t->get("hostname"), "network.hostname", "'" + *h + "' must be 1-63 letters, digits or '-'");
    else
      out.hostname = *h;
  }
  if (auto i = str("interface")) {
    bool ok = !i->empty() && i->size() <= 15;
    for (char c : *i)
      ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
    if (!ok)
      errs.add(*t->get("interface"), "network.interface",
               "'" + *i + "' is not an interface name (e.g. \"eth0\")");
    else
      out.interface = *i;
  }
  if (out.is_static) {
    if (out.address.empty())
      errs.add(*node, "network.address", "mode = \"static\" needs an address, e.g. \"192.168.1.53/24\"");
    if (out.gateway.empty())
      errs.add(*node, "network.gateway", "mode = \"static\" needs a gateway, e.g. \"192.168.1.1\"");
  } else {
    if (const toml::node* n = t->get("address"))
      errs.add(*n, "network.address", "is only used with mode = \"static\" (DHCP gives the address)");
    if (const toml::node* n = t->get("gateway"))
      errs.add(*n, "network.gateway", "is only used with mode = \"static\" (DHCP gives the gateway)");
  }
}

std::string networkd_unit(const NetworkConfig& n) {
  std::string s = "# Written at boot by hedge-boot-config from the boot partition's hedge.toml [network].\n";
  s += "[Match]\n";
  s += n.interface.empty() ? "Name=en* eth*\n" : "Name=" + n.interface + "\n";
  s += "\n[Network]\n";
  if (n.is_static) {
    s += "Address=" + n.address + "\n";
    s += "Gateway=" + n.gateway + "\n";
  } else {
    s += "DHCP=yes\n";
  }
  // No DNS= lines: the box resolves through Hedge itself (/etc/resolv.conf -> 127.0.0.1);
  // [network] dns are Hedge's upstreams, not the host's resolver.
  s += "LinkLocalAddressing=ipv6\nIPv6AcceptRA=yes\n";
  if (!n.is_static) {
    s += "\n[DHCPv4]\nUseDNS=no\nUseNTP=yes\nUseHostname=no\n";
  }
  return s;
}

}  // namespace hedge::config
