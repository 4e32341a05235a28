// net/tcp_listener: DNS over TCP (RFC 7766, RFC 1035 4.2.2). Length-prefixed
// frames, pipelined queries answered in any order, a cap on queries in
// flight per connection (reading pauses at the cap) and on queries per
// connection (then the connection is closed once its answers are written).
//
// One host must not be able to deny TCP to everyone else (slowloris):
//  - a client outside allow_clients is closed at accept, before it counts
//    against any cap;
//  - connections are capped per client address as well as in all;
//  - each message must arrive whole within read_timeout_ms of its first
//    byte (bytes do not extend it), and a connection with no new message
//    for idle_timeout_ms is closed.
#pragma once

#include <uv.h>

#include <array>
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
  uint32_t read_timeout_ms = 2000;  // one message, first byte to last
  uint32_t max_per_client = 16;     // connections from one address
  bool check_allow = false;         // the server sets it: `allow` checked at accept
  std::vector<util::Cidr> allow;    // server.allow_clients (empty: nobody, as for UDP)
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
  // The 17-byte key of an address (family + 16 address bytes) for per-client counts.
  using ClientKey = std::array<uint8_t, 17>;
  static ClientKey client_key(const sockaddr* sa) noexcept;

 private:
  friend class TcpConn;
  TcpListener(QueryHandler& h, util::Metrics& m) : m_handler(h), m_metrics(m) {}
  ~TcpListener() override = default;
  static void on_connection(uv_stream_t* server, int status) noexcept;
  bool admit(const util::SockAddr& peer) noexcept;
  bool reclaim_one(const ClientKey& k) noexcept;
  void release(const ClientKey& k) noexcept;
  struct KeyHash {
    std::size_t operator()(const ClientKey& k) const noexcept;
  };

  uv_tcp_t m_tcp{};
  QueryHandler& m_handler;
  util::Metrics& m_metrics;
  util::SockAddr m_local;
  uint32_t m_index = 0;
  TcpLimits m_limits;
  uint64_t m_next_id = 1;
  std::unordered_map<uint64_t, TcpConn*> m_conns;
  std::unordered_map<ClientKey, uint32_t, KeyHash> m_per_client;
  int64_t m_last_warn_ms = -1000000;
  bool m_closing = false;
};

}  // namespace hedge::net
