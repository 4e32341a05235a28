// net/udp_listener: one UDP socket, read and written with our own
// recvmmsg/sendmmsg on a uv_poll'd descriptor (libuv's uv_udp neither
// reports the address a datagram was sent to nor lets us choose the source
// address of a reply). Each readable event reads batches of datagrams, hands
// each to the QueryHandler, collects the immediate answers and sends them in
// one sendmmsg per batch; answers that come later (after an upstream round
// trip) are queued too and sent together at the end of that loop iteration
// (a uv_check handle, started only while something is queued). A busy
// listener costs about one syscall per batch instead of two per query.
//
// On a wildcard address (0.0.0.0, ::) every datagram's destination address
// and interface come from IP_PKTINFO / IPV6_PKTINFO and the reply is sent
// from that same address: a client that asked 192.0.2.53 must not get its
// answer from 192.0.2.54 (it would drop it). The address is also the query's
// Origin::local (groups by listen address, block.ipv4/ipv6 = "self").
#pragma once

#include <netinet/in.h>
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
  // Queues one late answer to o.peer, from o.local; sent at the end of this
  // loop iteration with the others (or at once when the batch is full).
  void send_later(const Origin& o, std::span<const uint8_t> data) noexcept;
  const util::SockAddr& local() const noexcept { return m_local; }
  bool batching() const noexcept { return true; }
  bool wildcard() const noexcept { return m_wildcard; }

 private:
  UdpListener(QueryHandler& h, util::Metrics& m) : m_handler(h), m_metrics(m) {}
  ~UdpListener() override;
  static void on_poll(uv_poll_t* h, int status, int events) noexcept;
  static void on_check(uv_check_t* h) noexcept;
  void read_batches() noexcept;
  void on_datagram(std::size_t i, std::size_t len) noexcept;
  void queue(const util::SockAddr& peer, const util::SockAddr& local, uint32_t ifindex,
             std::span<const uint8_t> data) noexcept;
  void flush() noexcept;

  static constexpr std::size_t kBatch = 64;         // answers per sendmmsg
  static constexpr std::size_t kSlot = 4096;        // largest UDP answer we send (max_udp_size <= 4096)
  static constexpr std::size_t kRecv = 32;          // datagrams per recvmmsg
  static constexpr std::size_t kRecvSize = 4096;    // a bigger query is counted and dropped (MSG_TRUNC)
  static constexpr std::size_t kRoundsPerWake = 8;  // then let timers and other sockets run
  static constexpr std::size_t kCtl = CMSG_SPACE(sizeof(in6_pktinfo));

  int m_fd = -1;
  uv_poll_t m_poll{};
  uv_check_t m_check{};
  bool m_check_on = false, m_closing = false, m_wildcard = false;
  QueryHandler& m_handler;
  util::Metrics& m_metrics;
  util::SockAddr m_local;
  uint32_t m_index = 0;
  // receive side
  std::unique_ptr<uint8_t[]> m_recv;  // kRecv * kRecvSize
  std::array<mmsghdr, kRecv> m_rmsgs{};
  std::array<iovec, kRecv> m_riov{};
  std::array<sockaddr_storage, kRecv> m_rpeers{};
  std::array<std::array<uint8_t, kCtl>, kRecv> m_rctl{};
  // send side
  std::unique_ptr<uint8_t[]> m_out;      // kBatch * kSlot
  std::unique_ptr<uint8_t[]> m_scratch;  // one answer being built by the handler
  std::array<mmsghdr, kBatch> m_msgs{};
  std::array<iovec, kBatch> m_iov{};
  std::array<sockaddr_storage, kBatch> m_peers{};
  std::array<std::array<uint8_t, kCtl>, kBatch> m_ctl{};
  std::size_t m_pending = 0;
};

}  // namespace hedge::net
