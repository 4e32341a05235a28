// net/udp_listener: batched receive and send on one UDP socket.
#include "net/udp_listener.hpp"

#include <cerrno>
#include <cstring>

#include "util/log.hpp"

namespace hedge::net {

UdpListener* UdpListener::start(uv_loop_t* loop, const util::SockAddr& addr, uint32_t index,
                                QueryHandler& handler, util::Metrics& metrics, std::string& err) {
  auto* l = new UdpListener(handler, metrics);
  l->m_local = addr;
  l->m_index = index;
  int rc = uv_udp_init_ex(loop, &l->m_udp, static_cast<unsigned>(addr.family()) | UV_UDP_RECVMMSG);
  if (rc != 0) {
    err = std::string("udp init: ") + uv_strerror(rc);
    delete l;
    return nullptr;
  }
  l->own(reinterpret_cast<uv_handle_t*>(&l->m_udp));
  const unsigned flags = addr.family() == AF_INET6 ? UV_UDP_IPV6ONLY : 0;
  rc = uv_udp_bind(&l->m_udp, addr.sa(), flags);
  if (rc == 0) rc = uv_udp_recv_start(&l->m_udp, &UdpListener::on_alloc, &UdpListener::on_recv);
  if (rc != 0) {
    err = "udp " + addr.str() + ": " + uv_strerror(rc);
    l->close();
    return nullptr;
  }
  if (addr.port() == 0) {  // tests bind port 0: learn the real one
    int len = sizeof(sockaddr_storage);
    uv_udp_getsockname(&l->m_udp, l->m_local.sa(), &len);
  }
  l->m_recv.reset(new uint8_t[kRecvChunks * kDgramMax]);
  l->m_out.reset(new uint8_t[kBatch * kSlot]);
  return l;
}

bool UdpListener::batching() const noexcept {
  return uv_udp_using_recvmmsg(&m_udp) == 1;
}

void UdpListener::close() noexcept {
  flush();
  close_handle(reinterpret_cast<uv_handle_t*>(&m_udp));
}

void UdpListener::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  // One buffer serves every batch: each datagram is handled (and copied if it
  // must wait for upstream) before the next recvmmsg reuses it.
  auto* self = static_cast<UdpListener*>(owner(h));
  *buf = uv_buf_init(reinterpret_cast<char*>(self->m_recv.get()), kRecvChunks * kDgramMax);
}

void UdpListener::on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                          unsigned flags) noexcept {
  auto* self = static_cast<UdpListener*>(owner(reinterpret_cast<uv_handle_t*>(h)));
  if (nread < 0) {
    LOG_WARN("udp %s: receive error: %s", self->m_local.str().c_str(), uv_strerror(static_cast<int>(nread)));
  } else if (addr) {
    if (flags & UV_UDP_PARTIAL) {
      ++self->m_metrics.queries[static_cast<int>(util::Result::dropped)];
    } else {
      self->on_datagram(reinterpret_cast<const uint8_t*>(buf->base), static_cast<std::size_t>(nread), addr);
    }
  }
  // End of a recvmmsg batch (MMSG_FREE) or a single recvmsg (no CHUNK flag): send what we have.
  if ((flags & UV_UDP_MMSG_FREE) || !(flags & UV_UDP_MMSG_CHUNK)) self->flush();
}

void UdpListener::on_datagram(const uint8_t* data, std::size_t len, const sockaddr* addr) noexcept {
  ++m_metrics.udp_queries;
  Origin o;
  o.transport = Transport::udp;
  o.listener = m_index;
  o.local = &m_local;
  std::memcpy(&o.peer.ss, addr, addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
  uint8_t* slot = m_out.get() + m_pending * kSlot;
  const std::size_t n = m_handler.handle({data, len}, o, slot, kSlot);
  if (n == 0 || n == kDeferred) return;
  std::memcpy(&m_peers[m_pending], &o.peer.ss, sizeof(sockaddr_storage));
  m_iov[m_pending] = {slot, n};
  auto& hdr = m_msgs[m_pending].msg_hdr;
  hdr = {};
  hdr.msg_name = &m_peers[m_pending];
  hdr.msg_namelen = o.peer.len();
  hdr.msg_iov = &m_iov[m_pending];
  hdr.msg_iovlen = 1;
  if (++m_pending == kBatch) flush();
}

void UdpListener::flush() noexcept {
  if (m_pending == 0) return;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&m_udp), &fd) != 0) {
    m_pending = 0;
    return;
  }
  std::size_t sent = 0;
  while (sent < m_pending) {
    const int n = ::sendmmsg(fd, m_msgs.data() + sent, static_cast<unsigned>(m_pending - sent), MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      // A single bad destination (e.g. a spoofed unreachable address) must
      // not cost the rest of the batch: skip it.
      LOG_DEBUG("udp %s: sendmmsg: %s", m_local.str().c_str(), std::strerror(errno));
      ++sent;
      continue;
    }
    // Socket buffer full: drop the rest (UDP clients retry), counted.
    m_metrics.queries[static_cast<int>(util::Result::dropped)] += m_pending - sent;
    LOG_WARN("udp %s: send buffer full, %zu answers dropped", m_local.str().c_str(), m_pending - sent);
    break;
  }
  m_pending = 0;
}

namespace {
struct SendReq {
  uv_udp_send_t req;
  std::unique_ptr<uint8_t[]> data;
};
}  // namespace

void UdpListener::send_now(const util::SockAddr& peer, std::span<const uint8_t> data) noexcept {
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&m_udp))) return;
  uv_buf_t b = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data.data())),
                           static_cast<unsigned>(data.size()));
  const int rc = uv_udp_try_send(&m_udp, &b, 1, peer.sa());
  if (rc >= 0) return;
  if (rc != UV_EAGAIN) {
    LOG_DEBUG("udp %s: send to %s: %s", m_local.str().c_str(), peer.str().c_str(), uv_strerror(rc));
    return;
  }
  // Queue a copy: libuv needs the bytes until the send callback.
  auto* r = new SendReq;
  r->data.reset(new uint8_t[data.size()]);
  std::memcpy(r->data.get(), data.data(), data.size());
  b = uv_buf_init(reinterpret_cast<char*>(r->data.get()), static_cast<unsigned>(data.size()));
  r->req.data = r;
  if (uv_udp_send(&r->req, &m_udp, &b, 1, peer.sa(),
                  [](uv_udp_send_t* req, int) { delete static_cast<SendReq*>(req->data); }) != 0) {
    delete r;
  }
}

}  // namespace hedge::net
