// util/address: inet_pton-based parsing; IPv4-mapped IPv6 clients match IPv4 prefixes.
#include "util/address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace hedge::util {

uint16_t SockAddr::port() const noexcept {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

std::string SockAddr::ip_str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  else if (ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  return buf;
}

std::string SockAddr::str() const {
  if (ss.ss_family == AF_INET6) return "[" + ip_str() + "]:" + std::to_string(port());
  return ip_str() + ":" + std::to_string(port());
}

bool SockAddr::same(const sockaddr* o) const noexcept {
  if (!o || o->sa_family != ss.ss_family) return false;
  if (ss.ss_family == AF_INET) {
    auto a = reinterpret_cast<const sockaddr_in*>(&ss);
    auto b = reinterpret_cast<const sockaddr_in*>(o);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  auto a = reinterpret_cast<const sockaddr_in6*>(&ss);
  auto b = reinterpret_cast<const sockaddr_in6*>(o);
  return a->sin6_port == b->sin6_port && std::memcmp(&a->sin6_addr, &b->sin6_addr, 16) == 0;
}

std::optional<SockAddr> parse_ip(std::string_view s) {
  SockAddr out;
  const std::string z(s);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
  if (inet_pton(AF_INET, z.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    return out;
  }
  out = SockAddr{};
  if (inet_pton(AF_INET6, z.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    return out;
  }
  return std::nullopt;
}

std::optional<SockAddr> parse_sockaddr(std::string_view s, std::optional<uint16_t> default_port) {
  std::string_view host = s, port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = s.substr(1, close - 1);
    const auto rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else if (const auto colon = s.rfind(':'); colon != std::string_view::npos && s.find(':') == colon) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  auto addr = parse_ip(host);
  if (!addr) return std::nullopt;
  uint16_t p = 0;
  if (port.empty()) {
    if (!default_port) return std::nullopt;
    p = *default_port;
  } else {
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || ptr != port.data() + port.size() || v > 65535) return std::nullopt;
    p = static_cast<uint16_t>(v);
  }
  if (addr->family() == AF_INET)
    reinterpret_cast<sockaddr_in*>(&addr->ss)->sin_port = htons(p);
  else
    reinterpret_cast<sockaddr_in6*>(&addr->ss)->sin6_port = htons(p);
  return addr;
}

namespace {
bool prefix_equal(const uint8_t* a, const uint8_t* b, unsigned bits) noexcept {
  const unsigned whole = bits / 8, rest = bits % 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  if (!rest) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}
}  // namespace

bool Cidr::contains(const sockaddr* sa) const noexcept {
  if (!sa) return false;
  if (sa->sa_family == AF_INET) {
    if (family != AF_INET) return false;
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return prefix_equal(reinterpret_cast<const uint8_t*>(&in->sin_addr), addr.data(), prefix);
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    const auto* b = reinterpret_cast<const uint8_t*>(&in6->sin6_addr);
    if (family == AF_INET6) return prefix_equal(b, addr.data(), prefix);
    // ::ffff:a.b.c.d (a dual-stack socket's view of an IPv4 client).
    static constexpr uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(b, mapped, 12) == 0 && prefix_equal(b + 12, addr.data(), prefix);
  }
  return false;
}

bool Cidr::overlaps(const Cidr& o) const noexcept {
  if (family != o.family) return false;
  return prefix_equal(addr.data(), o.addr.data(), prefix < o.prefix ? prefix : o.prefix);
}

std::string Cidr::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, addr.data(), buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

std::optional<Cidr> parse_cidr(std::string_view s, std::string* why) {
  auto fail = [&](const char* m) -> std::optional<Cidr> {
    if (why) *why = m;
    return std::nullopt;
  };
  const auto slash = s.find('/');
  auto ip = parse_ip(s.substr(0, slash));
  if (!ip) return fail("not an IP address or CIDR prefix");
  Cidr c;
  c.family = ip->family();
  const unsigned max = c.family == AF_INET ? 32 : 128;
  if (c.family == AF_INET)
    std::memcpy(c.addr.data(), &reinterpret_cast<const sockaddr_in*>(&ip->ss)->sin_addr, 4);
  else
    std::memcpy(c.addr.data(), &reinterpret_cast<const sockaddr_in6*>(&ip->ss)->sin6_addr, 16);
  unsigned bits = max;
  if (slash != std::string_view::npos) {
    const auto p = s.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), bits);
    if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || bits > max)
      return fail("bad prefix length");
  }
  c.prefix = static_cast<uint8_t>(bits);
  // Host bits must be zero.
  for (unsigned b = bits; b < max; ++b) {
    if (c.addr[b / 8] & (0x80 >> (b % 8))) return fail("address has bits set beyond the prefix length");
  }
  return c;
}

}  // namespace hedge::util
