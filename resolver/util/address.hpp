// util/address: socket addresses ("192.0.2.1:53", "[2001:db8::1]:53") and
// CIDR prefixes, parsed strictly and matched without allocation.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hedge::util {

struct SockAddr {
  sockaddr_storage ss{};
  const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&ss); }
  sockaddr* sa() noexcept { return reinterpret_cast<sockaddr*>(&ss); }
  socklen_t len() const noexcept {
    return ss.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  }
  int family() const noexcept { return ss.ss_family; }
  uint16_t port() const noexcept;
  std::string str() const;  // "192.0.2.1:53" / "[2001:db8::1]:53"
  std::string ip_str() const;
  bool same(const sockaddr* other) const noexcept;  // address and port
};

// "ip:port" or "[ipv6]:port"; with default_port, a bare address is accepted too.
std::optional<SockAddr> parse_sockaddr(std::string_view s,
                                       std::optional<uint16_t> default_port = std::nullopt);
std::optional<SockAddr> parse_ip(std::string_view s);  // bare address, port 0

struct Cidr {
  int family = AF_INET;
  std::array<uint8_t, 16> addr{};
  uint8_t prefix = 0;
  bool contains(const sockaddr* sa) const noexcept;
  std::string str() const;
  // True if the two prefixes share any address.
  bool overlaps(const Cidr& o) const noexcept;
};

// "10.0.0.0/8", "2001:db8::/32", or a bare address (a /32 or /128). Host bits
// set below the prefix are an error ("10.1.2.3/8" is almost always a typo).
std::optional<Cidr> parse_cidr(std::string_view s, std::string* why = nullptr);

}  // namespace hedge::util
