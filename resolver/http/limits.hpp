// http/limits: what one HTTP listener allows a client ([http] keys, docs/configuration.md).
// Plain numbers so the config can hold them without including libuv.
#pragma once

#include <cstdint>

namespace hedge::http {

struct Limits {
  uint32_t max_header_bytes = 8192;             // request line + headers; beyond: 431 and close
  uint32_t max_body_bytes = 16384;              // beyond: 413 and close
  uint32_t max_connections = 2048;              // per listener; beyond: accepted and closed at once
  uint32_t max_connections_per_client = 64;     // per client address
  uint32_t idle_timeout_ms = 15000;             // keep-alive idle, and output left unread
  uint32_t request_timeout_ms = 10000;          // from a request's first byte to its last (slowloris)
  uint32_t max_requests_per_connection = 1000;  // then Connection: close
  uint32_t rate_limit_per_client = 50;          // requests per second per client address (0 = off)
  uint32_t rate_limit_burst = 100;
  uint32_t max_pipelined = 16;  // requests parsed ahead of their responses; then reading pauses
  // Requests per second the whole listener serves, every client together
  // (0 = off). Beyond it no request is refused: connections stop being read
  // until the budget refills, so a flood costs the box (and the DNS loop that
  // shares its cores) this much work and no more. A school's real block-page
  // traffic is a few requests a second.
  uint32_t max_requests_per_second = 1000;
};

}  // namespace hedge::http
