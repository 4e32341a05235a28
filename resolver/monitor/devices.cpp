// monitor/devices: the three lease/map formats.
#include "monitor/devices.hpp"

#include <vector>

#include "util/address.hpp"

namespace hedge::monitor {

namespace {

std::vector<std::string_view> split_ws(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '"'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '"' || s.back() == ';'))
    s.remove_suffix(1);
  return s;
}

bool is_mac(std::string_view s) {
  if (s.size() != 17) return false;
  for (std::size_t i = 0; i < 17; ++i) {
    const char c = s[i];
    if (i % 3 == 2) {
      if (c != ':' && c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string norm_mac(std::string_view s) {
  std::string m(s);
  for (auto& c : m) {
    if (c == '-') c = ':';
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c + 32);
  }
  return m;
}

// The canonical text of an address (so "2001:DB8::1" and "2001:db8::1" match), or "".
std::string norm_ip(std::string_view s) {
  auto a = util::parse_ip(s);
  return a ? a->ip_str() : std::string();
}

// Keeps names printable and short: they end up in syslog and on pages.
std::string clean_name(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u != 0x7f) out += c;
  }
  return out == "*" ? std::string() : out;
}

template <typename F>
void each_line(std::string_view text, F f) {
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    f(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

void parse_dnsmasq(std::string_view text, DeviceMap& m) {
  each_line(text, [&](std::string_view line) {
    const auto f = split_ws(line);
    if (f.empty()) return;
    if (f[0] == "duid") return;  // the server's DUID line (IPv6 leases)
    if (f.size() < 4) {
      ++m.skipped;
      return;
    }
    const std::string ip = norm_ip(f[2]);
    if (ip.empty()) {
      ++m.skipped;
      return;
    }
    Device d;
    d.name = clean_name(f[3]);
    if (is_mac(f[1])) d.mac = norm_mac(f[1]);  // IPv6 lines carry an IAID here
    m.by_ip[ip] = std::move(d);
  });
}

void parse_isc(std::string_view text, DeviceMap& m) {
  // Append-only log of lease blocks: the last block for an address wins.
  std::string ip;
  Device d;
  bool free = false, in_block = false;
  each_line(text, [&](std::string_view raw) {
    const auto f = split_ws(raw);
    if (f.empty() || f[0].front() == '#') return;
    if (f[0] == "lease" && f.size() >= 3 && f[2] == "{") {
      ip = norm_ip(f[1]);
      d = Device{};
      free = false;
      in_block = true;
      if (ip.empty()) ++m.skipped;
      return;
    }
    if (!in_block) return;
    if (f[0] == "}") {
      if (!ip.empty()) {
        if (free)
          m.by_ip.erase(ip);
        else
          m.by_ip[ip] = d;
      }
      in_block = false;
      return;
    }
    if (f[0] == "hardware" && f.size() >= 3) {
      const std::string_view mac = trim(f[2]);
      if (is_mac(mac)) d.mac = norm_mac(mac);
    } else if (f[0] == "client-hostname" && f.size() >= 2) {
      const std::size_t q1 = raw.find('"'), q2 = raw.rfind('"');
      if (q1 != std::string_view::npos && q2 > q1) d.name = clean_name(raw.substr(q1 + 1, q2 - q1 - 1));
    } else if (f[0] == "binding" && f.size() >= 3 && f[1] == "state") {
      const std::string_view st = trim(f[2]);
      free = st == "free" || st == "expired" || st == "released" || st == "abandoned";
    }
  });
}

void parse_csv(std::string_view text, std::string_view arp, DeviceMap& m) {
  std::unordered_map<std::string, std::string> by_mac;
  each_line(text, [&](std::string_view line) {
    line = trim(line);
    if (line.empty() || line.front() == '#') return;
    const std::size_t comma = line.find(',');
    if (comma == std::string_view::npos) {
      ++m.skipped;
      return;
    }
    const std::string_view key = trim(line.substr(0, comma));
    std::string_view name = trim(line.substr(comma + 1));
    if (const std::size_t c2 = name.find(','); c2 != std::string_view::npos) name = trim(name.substr(0, c2));
    if (is_mac(key)) {
      by_mac[norm_mac(key)] = clean_name(name);
    } else if (const std::string ip = norm_ip(key); !ip.empty()) {
      m.by_ip[ip].name = clean_name(name);
    } else if (key != "ip" && key != "mac" && key != "address") {
      ++m.skipped;  // not a header either
    }
  });
  if (by_mac.empty()) return;
  // /proc/net/arp: "IP address HW type Flags HW address Mask Device"
  each_line(arp, [&](std::string_view line) {
    const auto f = split_ws(line);
    if (f.size() < 4 || !is_mac(f[3])) return;
    const std::string mac = norm_mac(f[3]);
    auto it = by_mac.find(mac);
    const std::string ip = norm_ip(f[0]);
    if (it == by_mac.end() || ip.empty()) return;
    Device& d = m.by_ip[ip];
    if (d.name.empty()) d.name = it->second;
    d.mac = mac;
  });
}

}  // namespace

const char* to_string(DeviceFormat f) noexcept {
  switch (f) {
    case DeviceFormat::dnsmasq: return "dnsmasq leases";
    case DeviceFormat::isc: return "ISC dhcpd leases";
    case DeviceFormat::csv: return "CSV";
    case DeviceFormat::empty: break;
  }
  return "empty";
}

DeviceMap parse_devices(std::string_view text, std::string_view arp) {
  DeviceMap m;
  // Told apart by content: ISC has "lease ADDR {" blocks; dnsmasq lines start
  // with a numeric expiry and have at least four fields; anything else is CSV.
  std::string_view first;
  bool isc = false;
  each_line(text, [&](std::string_view line) {
    const auto f = split_ws(line);
    if (f.empty() || f[0].front() == '#') return;
    if (f[0] == "lease" && f.size() >= 3 && f[2] == "{") isc = true;
    if (first.empty()) first = line;
  });
  if (first.empty()) return m;
  if (isc) {
    m.format = DeviceFormat::isc;
    parse_isc(text, m);
    return m;
  }
  const auto f = split_ws(first);
  const bool numeric = !f.empty() && f[0].find_first_not_of("0123456789") == std::string_view::npos;
  if ((numeric && f.size() >= 4) || (!f.empty() && f[0] == "duid")) {
    m.format = DeviceFormat::dnsmasq;
    parse_dnsmasq(text, m);
  } else {
    m.format = DeviceFormat::csv;
    parse_csv(text, arp, m);
  }
  return m;
}

}  // namespace hedge::monitor
