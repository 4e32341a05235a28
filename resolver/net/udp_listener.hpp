// net/udp_listener: one UDP socket. Receives in batches (recvmmsg through
// UV_UDP_RECVMMSG), hands each datagram to the QueryHandler, collects the
// immediate answers and sends them in one sendmmsg per batch, so a busy
// listener costs about one syscall per batch instead of two per query.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <array>
#include <memory>
#include <span>

#include "net/origin.hpp"
#include "net/uv_handle.hpp"
#include "util/metrics.hpp"

namespace hedge::net {

class UdpListener final : public CloseGroup {
 public:
  // Binds and starts receiving; returns null with err set on failure.
  static UdpListener* start(uv_loop_t* loop, const util::SockAddr& addr, uint32_t index,
                            QueryHandler& handler, util::Metrics& metrics, std::string& err);
  void close() noexcept;
  // Sends one answer now (late answers, outside a batch).
  void send_now(const util::SockAddr& peer, std::span<const uint8_t> data) noexcept;
  const util::SockAddr& local() const noexcept { return m_local; }
  bool batching() const noexcept;

 private:
  UdpListener(QueryHandler& h, util::Metrics& m) : m_handler(h), m_metrics(m) {}
  ~UdpListener() override = default;
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                      unsigned flags) noexcept;
  void on_datagram(const uint8_t* data, std::size_t len, const sockaddr* addr) noexcept;
  void flush() noexcept;

  static constexpr std::size_t kBatch = 64;
  static constexpr std::size_t kSlot = 4096;       // largest UDP answer we send (max_udp_size <= 4096)
  static constexpr std::size_t kRecvChunks = 16;   // datagrams per recvmmsg
  static constexpr std::size_t kDgramMax = 65536;  // libuv's per-datagram chunk size

  uv_udp_t m_udp{};
  QueryHandler& m_handler;
  util::Metrics& m_metrics;
  util::SockAddr m_local;
  uint32_t m_index = 0;
  std::unique_ptr<uint8_t[]> m_recv;  // kRecvChunks * kDgramMax
  std::unique_ptr<uint8_t[]> m_out;   // kBatch * kSlot
  std::array<mmsghdr, kBatch> m_msgs{};
  std::array<iovec, kBatch> m_iov{};
  std::array<sockaddr_storage, kBatch> m_peers{};
  std::size_t m_pending = 0;
};

}  // namespace hedge::net
