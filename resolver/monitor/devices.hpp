// monitor/devices: which device an address belongs to, from the file named
// by [monitoring] devices: a dnsmasq leases file ("expiry MAC IP hostname
// client-id"), an ISC dhcpd leases file ("lease IP { ... }"), or a CSV map
// ("IP,name" or "MAC,name"), told apart by content. Parsing is pure; the
// monitor re-reads the file off the DNS loop when its mtime or size changes
// and swaps in a new immutable map, so an event keeps the name and MAC that
// were true when the query was asked.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

namespace hedge::monitor {

struct Device {
  std::string name, mac;
};

enum class DeviceFormat { dnsmasq, isc, csv, empty };

struct DeviceMap {
  DeviceFormat format = DeviceFormat::empty;
  std::unordered_map<std::string, Device> by_ip;  // textual address as util::SockAddr::ip_str() writes it
  std::size_t skipped = 0;                        // lines not understood
  const Device* find(const std::string& ip) const noexcept {
    auto it = by_ip.find(ip);
    return it == by_ip.end() ? nullptr : &it->second;
  }
};

// `arp` (optional): the text of /proc/net/arp, so CSV rows keyed by MAC can
// name the address currently using that MAC.
DeviceMap parse_devices(std::string_view text, std::string_view arp = {});
const char* to_string(DeviceFormat f) noexcept;

}  // namespace hedge::monitor
