// dns/synthesize: answers Hedge makes itself (block, NODATA/NXDOMAIN,
// errors, truncation) and the per-client finishing of a cached or upstream
// answer (id, client's letter case, TTL ageing, OPT, size limit).
// All write into a caller's buffer: no allocation on the query path.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "dns/parse.hpp"

namespace hedge::dns {

struct EdeInfo {
  uint16_t code = 0;      // 0 = none
  std::string_view text;  // EXTRA-TEXT (UTF-8), may be empty
};

struct BlockSettings {
  bool has_v4 = false, has_v6 = false;
  // "self": the address the query arrived on; the pipeline fills v4/v6 per
  // query (resolve_self) and has_* is false when it arrived over the other family.
  bool v4_self = false, v6_self = false;
  std::array<uint8_t, 4> v4{};
  std::array<uint8_t, 16> v6{};
  uint32_t ttl = 60;
  uint32_t soa_serial = 1;
};

// The block settings for a query that arrived on `local`: "self" becomes that
// address, or (when the query came over the other family) no address.
inline BlockSettings resolve_self(const BlockSettings& s, const sockaddr* local) noexcept {
  if (!s.v4_self && !s.v6_self) return s;
  BlockSettings b = s;
  const int fam = local ? local->sa_family : AF_UNSPEC;
  const auto* in6 = fam == AF_INET6 ? &reinterpret_cast<const sockaddr_in6*>(local)->sin6_addr : nullptr;
  const bool mapped = in6 && IN6_IS_ADDR_V4MAPPED(in6);
  if (b.v4_self) {
    b.has_v4 = fam == AF_INET || mapped;
    if (fam == AF_INET) std::memcpy(b.v4.data(), &reinterpret_cast<const sockaddr_in*>(local)->sin_addr, 4);
    if (mapped) std::memcpy(b.v4.data(), in6->s6_addr + 12, 4);
  }
  if (b.v6_self) {
    b.has_v6 = in6 && !mapped;
    if (b.has_v6) std::memcpy(b.v6.data(), in6->s6_addr, 16);
  }
  return b;
}

enum class BlockKind : uint8_t { block_page, nodata, nxdomain };

// Our OPT record settings for replies.
inline constexpr uint16_t kOurUdpSize = 1232;

// Reply limit for a client: its EDNS size (or 512), capped by our maximum.
inline std::size_t reply_limit(const ParsedQuery& q, std::size_t server_max) noexcept {
  const std::size_t want = q.edns.present ? q.edns.udp_size : 512;
  return want < server_max ? want : server_max;
}

// Error reply: header (+ question if it parsed) (+ OPT with EDE if the client used EDNS).
std::size_t write_error(const ParsedQuery& q, uint16_t rcode, EdeInfo ede, uint8_t* out,
                        std::size_t cap) noexcept;

// A synthesized filtering answer. `owner_label` is the label index of the
// list entry (SOA owner for NODATA); -1 uses the query name. ttl overrides
// settings.ttl when non-zero (schedule caps).
std::size_t write_block(const ParsedQuery& q, BlockKind kind, const BlockSettings& s, int owner_label,
                        uint32_t ttl, EdeInfo ede, uint8_t* out, std::size_t cap) noexcept;

// Finishes a stored answer (upstream wire, no OPT, any id) for one client:
// copies it, sets id and flags, restores the client's question bytes,
// subtracts `age` from every TTL (offsets given), caps TTLs at ttl_cap (0 =
// none), appends OPT (+EDE) when the client used EDNS, and truncates with
// TC=1 if over `limit`. Returns the length, 0 if it could not be built.
struct StoredAnswer {
  std::span<const uint8_t> wire;
  std::span<const uint16_t> ttl_offsets;
};
std::size_t write_from_stored(const ParsedQuery& q, const StoredAnswer& a, uint32_t age, uint32_t ttl_cap,
                              uint32_t ttl_floor, EdeInfo ede, std::size_t limit, uint8_t* out,
                              std::size_t cap) noexcept;

// Safe-search rewrite (RFC 1034 3.6.2 style): the client's question, a CNAME
// from it to `target`, then the target's own answer records (a stored
// upstream answer for target/qtype), re-encoded without compression. The
// rcode is the target's. TTLs age and are capped like write_from_stored.
std::size_t write_rewrite(const ParsedQuery& q, std::string_view target, const StoredAnswer& target_answer,
                          uint32_t age, uint32_t ttl_cap, std::size_t limit, uint8_t* out,
                          std::size_t cap) noexcept;

// Header + question + OPT with TC=1: "ask again over TCP".
std::size_t write_truncated(const ParsedQuery& q, uint16_t rcode, uint8_t* out, std::size_t cap) noexcept;

// The question we send upstream: fresh id, RD, lower-case name, EDNS with DO
// when the client asked for DNSSEC records.
std::size_t write_upstream_query(const ParsedQuery& q, uint16_t id, uint8_t* out, std::size_t cap) noexcept;

}  // namespace hedge::dns
