// net/tcp_listener: DNS over TCP (RFC 7766, RFC 1035 4.2.2). Length-prefixed
// frames, pipelined queries answered in any order, an idle timeout, a cap on
// connections, on queries in flight per connection (reading pauses at the
// cap) and on queries per connection (then the connection is closed once
// its answers are written).
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/origin.hpp"
#include "net/uv_handle.hpp"
#include "util/metrics.hpp"

namespace hedge::net {

struct TcpLimits {
  uint32_t idle_timeout_ms = 10000;
  uint32_t max_connections = 256;
  uint32_t max_queries = 1000;
  uint32_t max_inflight = 32;
};

class TcpConn;

class TcpListener final : public CloseGroup {
 public:
  static TcpListener* start(uv_loop_t* loop, const util::SockAddr& addr, uint32_t index,
                            QueryHandler& handler, util::Metrics& metrics, const TcpLimits& limits,
                            std::string& err);
  void close() noexcept;  // stops accepting and closes every connection
  void set_limits(const TcpLimits& l) noexcept { m_limits = l; }
  // A late answer for connection `id` (gone: dropped). Empty = no answer.
  void deliver(uint64_t id, std::span<const uint8_t> answer) noexcept;
  const util::SockAddr& local() const noexcept { return m_local; }
  std::size_t connections() const noexcept { return m_conns.size(); }

 private:
  friend class TcpConn;
  TcpListener(QueryHandler& h, util::Metrics& m) : m_handler(h), m_metrics(m) {}
  ~TcpListener() override = default;
  static void on_connection(uv_stream_t* server, int status) noexcept;

  uv_tcp_t m_tcp{};
  QueryHandler& m_handler;
  util::Metrics& m_metrics;
  util::SockAddr m_local;
  uint32_t m_index = 0;
  TcpLimits m_limits;
  uint64_t m_next_id = 1;
  std::unordered_map<uint64_t, TcpConn*> m_conns;
  bool m_closing = false;
};

}  // namespace hedge::net
