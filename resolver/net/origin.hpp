// net/origin: where a query came from and where its answer goes. A query
// answered later (after an upstream round trip) keeps a copy of its Origin;
// a TCP connection may have closed by then, so it is named by id, not pointer.
#pragma once

#include <cstdint>
#include <span>

#include "util/address.hpp"

namespace hedge::net {

enum class Transport : uint8_t { udp, tcp };

struct Origin {
  Transport transport = Transport::udp;
  uint32_t listener = 0;  // index of the listener (UDP or TCP) it arrived on
  uint64_t conn = 0;      // TCP connection id
  util::SockAddr peer;
  // The address the query arrived on: the listen address, or on a wildcard
  // listener (0.0.0.0, ::) the one the packet was sent to (IP_PKTINFO). The
  // answer leaves from it; `listen:` groups and block.ipv4/ipv6 = "self" use it.
  util::SockAddr local;
  uint32_t ifindex = 0;  // UDP on a wildcard listener: the interface it came in on
};

// Implemented by the server: sends a late answer. An empty answer means "no
// reply will come" (lets TCP connections account for the query).
class Responder {
 public:
  virtual void deliver(const Origin& o, std::span<const uint8_t> answer) noexcept = 0;

 protected:
  ~Responder() = default;
};

// What QueryHandler::handle returns when the answer will come later through
// Responder::deliver (exactly once). 0 means no answer will ever come
// (dropped, rate-limited): a TCP connection must not wait for it.
inline constexpr std::size_t kDeferred = static_cast<std::size_t>(-1);

// Implemented by the pipeline: handles one query. Writes an immediate answer
// into `out` and returns its length, 0 (no answer at all) or kDeferred.
class QueryHandler {
 public:
  virtual std::size_t handle(std::span<const uint8_t> query, const Origin& o, uint8_t* out,
                             std::size_t cap) noexcept = 0;

 protected:
  ~QueryHandler() = default;
};

}  // namespace hedge::net
