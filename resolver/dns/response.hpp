// dns/response: checks an upstream reply and turns it into what the cache
// stores. The reply must match the id and question we sent; it is then parsed
// by ldns (a second, mature parser: anything it rejects is a failed upstream),
// scrubbed (answer records off the CNAME chain from the question dropped,
// OPT and additional data removed, authority kept only for negative answers)
// and re-encoded, with the offset of every TTL and the chain's names recorded.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace hedge::dns {

enum class ReplyCheck : uint8_t {
  ok,
  mismatch,   // not an answer to our question (wrong id, question or not a reply): ignore it
  malformed,  // a reply to us that cannot be used: treat the upstream as failed
  truncated,  // TC=1: ask again over TCP
};

struct TtlPolicy {
  uint32_t min_ttl = 0;
  uint32_t max_ttl = 86400;
  uint32_t max_negative_ttl = 3600;
};

struct ScrubbedReply {
  std::vector<uint8_t> wire;          // header id 0, no OPT
  std::vector<uint16_t> ttl_offsets;  // every TTL field in wire
  std::vector<std::string> chain;     // CNAME targets in order (normal form), excluding the qname
  uint16_t rcode = 0;
  uint32_t ttl = 0;       // how long it may be cached (0 = do not cache)
  bool negative = false;  // NXDOMAIN or NODATA
};

// `sent` is the whole query we sent (id + question are compared).
ReplyCheck check_reply(std::span<const uint8_t> reply, std::span<const uint8_t> sent) noexcept;

// Call only after check_reply() == ok. Returns false if ldns rejects it.
bool scrub_reply(std::span<const uint8_t> reply, const TtlPolicy& ttl, ScrubbedReply& out);

}  // namespace hedge::dns
