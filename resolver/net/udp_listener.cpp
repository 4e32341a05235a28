// net/udp_listener: batched receive and send on one UDP socket, with the
// destination address of every datagram on wildcard listeners.
#include "net/udp_listener.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/log.hpp"

namespace hedge::net {

namespace {

bool is_wildcard(const util::SockAddr& a) noexcept {
  if (a.family() == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(a.sa())->sin_addr.s_addr == INADDR_ANY;
  if (a.family() == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(a.sa())->sin6_addr);
  return false;
}

std::string sys_err(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

}  // namespace

UdpListener::~UdpListener() {
  if (m_fd >= 0) ::close(m_fd);
}

UdpListener* UdpListener::start(uv_loop_t* loop, const util::SockAddr& addr, uint32_t index,
                                QueryHandler& handler, util::Metrics& metrics, std::string& err) {
  auto* l = new UdpListener(handler, metrics);
  l->m_local = addr;
  l->m_index = index;
  l->m_wildcard = is_wildcard(addr);
  const int fam = addr.family();
  const int on = 1;
  bool ok = true;
  std::string why;
  l->m_fd = ::socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (l->m_fd < 0) {
    ok = false;
    why = sys_err("socket");
  }
  if (ok && fam == AF_INET6 && ::setsockopt(l->m_fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) {
    ok = false;
    why = sys_err("IPV6_V6ONLY");
  }
  if (ok && l->m_wildcard) {
    const int rc = fam == AF_INET ? ::setsockopt(l->m_fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on)
                                  : ::setsockopt(l->m_fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
    if (rc != 0) {
      ok = false;
      why = sys_err("PKTINFO");
    }
  }
  if (ok && ::bind(l->m_fd, addr.sa(), addr.len()) != 0) {
    ok = false;
    why = std::strerror(errno);
  }
  if (ok && addr.port() == 0) {  // tests bind port 0: learn the real one
    socklen_t len = sizeof(sockaddr_storage);
    ::getsockname(l->m_fd, l->m_local.sa(), &len);
  }
  if (ok && uv_poll_init_socket(loop, &l->m_poll, l->m_fd) != 0) {
    ok = false;
    why = "uv_poll_init_socket failed";
  }
  if (!ok) {
    err = "udp " + addr.str() + ": " + why;
    delete l;
    return nullptr;
  }
  l->own(reinterpret_cast<uv_handle_t*>(&l->m_poll));
  if (uv_check_init(loop, &l->m_check) != 0) {
    err = "udp " + addr.str() + ": uv_check_init failed";
    l->close();
    return nullptr;
  }
  l->own(reinterpret_cast<uv_handle_t*>(&l->m_check));
  l->m_recv.reset(new uint8_t[kRecv * kRecvSize]);
  l->m_out.reset(new uint8_t[kBatch * kSlot]);
  l->m_scratch.reset(new uint8_t[kSlot]);
  if (uv_poll_start(&l->m_poll, UV_READABLE, &UdpListener::on_poll) != 0) {
    err = "udp " + addr.str() + ": uv_poll_start failed";
    l->close();
    return nullptr;
  }
  return l;
}

void UdpListener::close() noexcept {
  if (m_closing) return;
  m_closing = true;
  flush();
  close_handle(reinterpret_cast<uv_handle_t*>(&m_poll));
  if (m_check.data) close_handle(reinterpret_cast<uv_handle_t*>(&m_check));
  // The descriptor is closed in the destructor, after the poll handle.
}

void UdpListener::on_poll(uv_poll_t* h, int status, int events) noexcept {
  auto* self = static_cast<UdpListener*>(owner(reinterpret_cast<uv_handle_t*>(h)));
  if (status < 0) {
    LOG_WARN("udp %s: poll error: %s", self->m_local.str().c_str(), uv_strerror(status));
    return;
  }
  if (events & UV_READABLE) self->read_batches();
}

void UdpListener::read_batches() noexcept {
  for (std::size_t round = 0; round < kRoundsPerWake && !m_closing; ++round) {
    for (std::size_t i = 0; i < kRecv; ++i) {
      m_riov[i] = {m_recv.get() + i * kRecvSize, kRecvSize};
      msghdr& h = m_rmsgs[i].msg_hdr;
      h = {};
      h.msg_name = &m_rpeers[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &m_riov[i];
      h.msg_iovlen = 1;
      if (m_wildcard) {
        h.msg_control = m_rctl[i].data();
        h.msg_controllen = kCtl;
      }
    }
    const int n = ::recvmmsg(m_fd, m_rmsgs.data(), kRecv, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        LOG_WARN("udp %s: receive error: %s", m_local.str().c_str(), std::strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (m_rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        ++m_metrics.queries[static_cast<int>(util::Result::dropped)];
        continue;
      }
      on_datagram(static_cast<std::size_t>(i), m_rmsgs[i].msg_len);
    }
    flush();
    if (static_cast<std::size_t>(n) < kRecv) break;  // drained
  }
}

void UdpListener::on_datagram(std::size_t i, std::size_t len) noexcept {
  ++m_metrics.udp_queries;
  Origin o;
  o.transport = Transport::udp;
  o.listener = m_index;
  const msghdr& h = m_rmsgs[i].msg_hdr;
  std::memcpy(&o.peer.ss, &m_rpeers[i], std::min<std::size_t>(h.msg_namelen, sizeof(sockaddr_storage)));
  o.local = m_local;
  if (m_wildcard) {
    // The destination address of this datagram (same port as the listener).
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        std::memcpy(&reinterpret_cast<sockaddr_in*>(o.local.sa())->sin_addr, &pi.ipi_addr, 4);
        o.ifindex = static_cast<uint32_t>(pi.ipi_ifindex);
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof pi);
        std::memcpy(&reinterpret_cast<sockaddr_in6*>(o.local.sa())->sin6_addr, &pi.ipi6_addr, 16);
        o.ifindex = pi.ipi6_ifindex;
      }
    }
  }
  // The handler writes into scratch: a late answer it delivers meanwhile
  // (no upstream left) is queued into the batch itself.
  const std::size_t n = m_handler.handle({m_recv.get() + i * kRecvSize, len}, o, m_scratch.get(), kSlot);
  if (n == 0 || n == kDeferred || n > kSlot) return;
  queue(o.peer, o.local, o.ifindex, {m_scratch.get(), n});
}

void UdpListener::queue(const util::SockAddr& peer, const util::SockAddr& local, uint32_t ifindex,
                        std::span<const uint8_t> data) noexcept {
  if (m_closing || data.empty() || data.size() > kSlot) return;
  if (m_pending == kBatch) flush();
  const std::size_t k = m_pending++;
  uint8_t* slot = m_out.get() + k * kSlot;
  std::memcpy(slot, data.data(), data.size());
  std::memcpy(&m_peers[k], &peer.ss, sizeof(sockaddr_storage));
  m_iov[k] = {slot, data.size()};
  msghdr& h = m_msgs[k].msg_hdr;
  h = {};
  h.msg_name = &m_peers[k];
  h.msg_namelen = peer.len();
  h.msg_iov = &m_iov[k];
  h.msg_iovlen = 1;
  if (m_wildcard && local.family() == m_local.family()) {
    // Send from the address the query was sent to.
    h.msg_control = m_ctl[k].data();
    m_ctl[k].fill(0);
    cmsghdr* c = reinterpret_cast<cmsghdr*>(m_ctl[k].data());
    if (local.family() == AF_INET) {
      h.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
      in_pktinfo pi{};
      pi.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(local.sa())->sin_addr;
      std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    } else {
      h.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
      in6_pktinfo pi{};
      pi.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(local.sa())->sin6_addr;
      pi.ipi6_ifindex = ifindex;  // needed for link-local addresses
      std::memcpy(CMSG_DATA(c), &pi, sizeof pi);
    }
  }
}

void UdpListener::send_later(const Origin& o, std::span<const uint8_t> data) noexcept {
  if (m_closing) return;
  queue(o.peer, o.local, o.ifindex, data);
  if (m_pending && !m_check_on && uv_check_start(&m_check, &UdpListener::on_check) == 0) m_check_on = true;
}

void UdpListener::on_check(uv_check_t* h) noexcept {
  auto* self = static_cast<UdpListener*>(owner(reinterpret_cast<uv_handle_t*>(h)));
  self->flush();
  // Stopped when nothing is queued: an idle loop runs no check callbacks.
  uv_check_stop(h);
  self->m_check_on = false;
}

void UdpListener::flush() noexcept {
  if (m_pending == 0) return;
  std::size_t sent = 0;
  while (sent < m_pending) {
    const int n =
        ::sendmmsg(m_fd, m_msgs.data() + sent, static_cast<unsigned>(m_pending - sent), MSG_DONTWAIT);
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

}  // namespace hedge::net
