// net/http_listener: HTTP/1.1 over uv TCP on the loop it is given (the web
// thread's loop for the block page and status; the console's own loop).
// Owns accepting, framing with http-parser, keep-alive, pipelining (answers
// go out in request order even when a handler replies later), and every
// limit a hostile client could abuse: header and body size, connections per
// listener and per client, idle and whole-request timeouts (slowloris),
// requests per connection, request rate per client, responses queued per
// connection and unread output. Bytes pass through an optional
// net::StreamFilter (TLS for the console) between the socket and the parser.
//
// The handler sees only http::Request / http::Response (resolver/http/).
// Only this file calls http_parser_*.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>

#include "http/limits.hpp"
#include "http/message.hpp"
#include "net/stream_filter.hpp"
#include "net/uv_handle.hpp"
#include "util/address.hpp"
#include "util/rate_limiter.hpp"

namespace hedge::net {

using HttpLimits = http::Limits;

// Counters of one listener (read on its loop thread, e.g. for /metrics).
struct HttpStats {
  std::map<int, uint64_t> responses;  // by status code
  uint64_t connections = 0;           // accepted
  uint64_t rejected = 0;              // over a connection cap
  uint64_t ratelimited = 0;           // requests answered 429
  uint64_t timeouts = 0;              // connections cut by a timeout
  uint64_t bad_requests = 0;          // parse errors, too large
  uint64_t held_back = 0;             // times a connection waited for the listener's request budget
};

class HttpConn;

class HttpListener final : public CloseGroup {
 public:
  // Binds and listens on `loop` (which must be the calling thread's loop).
  // `name` is copied into every Request (and used in metrics labels).
  static HttpListener* start(uv_loop_t* loop, const util::SockAddr& addr, std::string name,
                             http::Handler& handler, const HttpLimits& limits, std::string& err,
                             StreamFilterFactory filter = {});
  void close() noexcept;  // stops accepting and closes every connection; frees itself later
  void set_limits(const HttpLimits& l) noexcept { m_limits = l; }
  const util::SockAddr& local() const noexcept { return m_local; }
  const std::string& name() const noexcept { return m_name; }
  std::size_t connections() const noexcept { return m_conns.size(); }
  const HttpStats& stats() const noexcept { return m_stats; }

 private:
  friend class HttpConn;
  HttpListener(http::Handler& h) : m_handler(h), m_limiter(4096) {}
  ~HttpListener() override = default;
  static void on_connection(uv_stream_t* server, int status) noexcept;
  static void on_budget(uv_timer_t* t) noexcept;
  void forget(HttpConn* c, const std::string& client) noexcept;
  // The listener-wide request budget (max_requests_per_second): take one
  // request's worth, or park `c` until the budget has refilled.
  bool take_budget() noexcept;
  void park(HttpConn* c) noexcept;
  void arm_budget_timer() noexcept;

  uv_tcp_t m_tcp{};
  uv_timer_t m_budget_timer{};
  uv_loop_t* m_loop = nullptr;
  http::Handler& m_handler;
  util::SockAddr m_local;
  std::string m_name;
  HttpLimits m_limits;
  StreamFilterFactory m_filter;
  util::RateLimiter m_limiter;
  uint64_t m_next_id = 1;
  std::unordered_map<uint64_t, HttpConn*> m_conns;
  std::unordered_map<std::string, uint32_t> m_per_client;
  HttpStats m_stats;
  double m_budget = -1;  // requests that may start now (-1: not filled yet)
  int64_t m_budget_at = 0;
  std::deque<uint64_t> m_parked;  // connection ids waiting for the budget, oldest first
  bool m_closing = false;
};

}  // namespace hedge::net
