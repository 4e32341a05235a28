// net/tcp_listener: accepting, framing, pipelining and closing TCP clients.
#include "net/tcp_listener.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "util/log.hpp"

namespace hedge::net {

class TcpConn final : public CloseGroup {
 public:
  static constexpr std::size_t kMaxQueuedBytes = std::size_t{256} * 1024;
  TcpConn(TcpListener& l, uint64_t id) : m_listener(l), m_id(id) {}
  bool init(uv_loop_t* loop) noexcept;
  void start() noexcept;
  void begin_close() noexcept;
  void answer(std::span<const uint8_t> data) noexcept;  // write one framed answer
  void query_done() noexcept;                           // one in-flight query finished
  uint64_t id() const noexcept { return m_id; }
  // Nothing would be lost by closing it now: no query in flight or being
  // written, and either it is idle (no byte held, here or in the kernel) or
  // the peer has closed its side without a whole message left to answer.
  bool reclaimable() const noexcept;

  uv_tcp_t m_tcp{};
  util::SockAddr m_peer, m_local;  // read once at accept
  TcpListener::ClientKey m_key{};  // counted in m_listener.m_per_client
  bool m_counted = false;

 private:
  ~TcpConn() override = default;
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_idle(uv_timer_t* t) noexcept;
  static void on_deadline(uv_timer_t* t) noexcept;
  bool head_complete() const noexcept;
  void consume() noexcept;
  void maybe_finish() noexcept;
  void update_reading() noexcept;

  TcpListener& m_listener;
  uint64_t m_id;
  uv_timer_t m_idle{};        // no new message for idle_timeout_ms
  uv_timer_t m_deadline{};    // the message being read started read_timeout_ms ago
  std::vector<uint8_t> m_in;  // bytes received, not yet a whole frame
  uint32_t m_inflight = 0, m_queries = 0, m_writes = 0;
  bool m_reading = false, m_closing = false, m_eof = false, m_consuming = false;
  uint8_t m_chunk[16384];
  uint8_t m_out[65535 + 2];
};

TcpListener* TcpListener::start(uv_loop_t* loop, const util::SockAddr& addr, uint32_t index,
                                QueryHandler& handler, util::Metrics& metrics, const TcpLimits& limits,
                                std::string& err) {
  auto* l = new TcpListener(handler, metrics);
  l->m_local = addr;
  l->m_index = index;
  l->m_limits = limits;
  int rc = uv_tcp_init(loop, &l->m_tcp);
  if (rc != 0) {
    err = std::string("tcp init: ") + uv_strerror(rc);
    delete l;
    return nullptr;
  }
  l->own(reinterpret_cast<uv_handle_t*>(&l->m_tcp));
  rc = uv_tcp_bind(&l->m_tcp, addr.sa(), addr.family() == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l->m_tcp), 128, &TcpListener::on_connection);
  if (rc != 0) {
    err = "tcp " + addr.str() + ": " + uv_strerror(rc);
    l->close();
    return nullptr;
  }
  if (addr.port() == 0) {
    int len = sizeof(sockaddr_storage);
    uv_tcp_getsockname(&l->m_tcp, l->m_local.sa(), &len);
  }
  return l;
}

void TcpListener::close() noexcept {
  m_closing = true;
  // begin_close() removes the connection from the map.
  while (!m_conns.empty()) m_conns.begin()->second->begin_close();
  close_handle(reinterpret_cast<uv_handle_t*>(&m_tcp));
}

void TcpListener::deliver(uint64_t id, std::span<const uint8_t> answer) noexcept {
  auto it = m_conns.find(id);
  if (it == m_conns.end()) return;  // the client went away meanwhile
  TcpConn* c = it->second;
  if (!answer.empty()) c->answer(answer);
  c->query_done();
}

TcpListener::ClientKey TcpListener::client_key(const sockaddr* sa) noexcept {
  ClientKey k{};
  k[0] = static_cast<uint8_t>(sa->sa_family);
  if (sa->sa_family == AF_INET6) {
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::memcpy(k.data() + 1, &a6->sin6_addr, 16);
    // An IPv4 client on a dual-stack socket is the same client as over IPv4.
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(k.data() + 1, kMapped, 12) == 0) {
      k = {};
      k[0] = AF_INET;
      std::memcpy(k.data() + 1, &a6->sin6_addr.s6_addr[12], 4);
    }
  } else if (sa->sa_family == AF_INET) {
    std::memcpy(k.data() + 1, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  }
  return k;
}

std::size_t TcpListener::KeyHash::operator()(const ClientKey& k) const noexcept {
  uint64_t h = 1469598103934665603ull;  // FNV-1a: not keyed, but the table is bounded by the caps
  for (uint8_t b : k) h = (h ^ b) * 1099511628211ull;
  return static_cast<std::size_t>(h);
}

bool TcpListener::admit(const util::SockAddr& peer) noexcept {
  const char* why = nullptr;
  if (m_limits.check_allow) {
    bool ok = false;
    for (const auto& c : m_limits.allow) ok = ok || c.contains(peer.sa());
    if (!ok) why = "not in allow_clients";
  }
  if (!why && m_conns.size() >= m_limits.max_connections) why = "the connection limit is reached";
  if (!why) {
    const ClientKey k = client_key(peer.sa());
    auto it = m_per_client.find(k);
    if (it != m_per_client.end() && it->second >= m_limits.max_per_client && !reclaim_one(k))
      why = "it has tcp_max_connections_per_client open";
  }
  if (!why) return true;
  ++m_metrics.tcp_rejected;
  // One line a second at most: a flood of connections must not flood the log.
  const int64_t now = now_ms(m_tcp.loop);
  if (now - m_last_warn_ms >= 1000) {
    m_last_warn_ms = now;
    LOG_WARN("tcp %s: refusing a connection from %s: %s", m_local.str().c_str(), peer.ip_str().c_str(), why);
  }
  return false;
}

// A client at its cap opens another connection: often the older ones are
// already closed by the peer but their EOF is not read yet (connections
// opened and closed in a burst), or they sit idle. Close the oldest of its
// connections that holds nothing (see TcpConn::reclaimable) to make room; a
// slowloris connection (partial message) or one with queries is never taken.
// Only on this over-cap path, so the scan costs nothing in normal running.
bool TcpListener::reclaim_one(const ClientKey& k) noexcept {
  TcpConn* oldest = nullptr;
  for (const auto& [id, c] : m_conns)
    if (c->m_key == k && (!oldest || id < oldest->id()) && c->reclaimable()) oldest = c;
  if (!oldest) return false;
  oldest->begin_close();
  return true;
}

void TcpListener::release(const ClientKey& k) noexcept {
  auto it = m_per_client.find(k);
  if (it == m_per_client.end()) return;
  if (--it->second == 0) m_per_client.erase(it);
}

void TcpListener::on_connection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<TcpListener*>(owner(reinterpret_cast<uv_handle_t*>(server)));
  if (status < 0 || self->m_closing) return;
  auto* c = new TcpConn(*self, self->m_next_id++);
  if (!c->init(server->loop)) return;  // init failure deletes c
  int len = sizeof(sockaddr_storage);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->m_tcp)) != 0 ||
      uv_tcp_getpeername(&c->m_tcp, c->m_peer.sa(), &len) != 0) {
    c->begin_close();
    return;
  }
  // Checked before the connection counts against anything: a refused client
  // never holds a slot, not even for the idle timeout.
  if (!self->admit(c->m_peer)) {
    c->begin_close();
    return;
  }
  len = sizeof(sockaddr_storage);
  if (uv_tcp_getsockname(&c->m_tcp, c->m_local.sa(), &len) != 0) c->m_local = self->m_local;
  c->m_key = client_key(c->m_peer.sa());
  ++self->m_per_client[c->m_key];
  c->m_counted = true;
  ++self->m_metrics.tcp_connections;
  self->m_conns.emplace(c->id(), c);
  uv_tcp_nodelay(&c->m_tcp, 1);
  c->start();
}

bool TcpConn::init(uv_loop_t* loop) noexcept {
  if (uv_tcp_init(loop, &m_tcp) != 0) {
    release_if_done();
    return false;
  }
  own(reinterpret_cast<uv_handle_t*>(&m_tcp));
  if (uv_timer_init(loop, &m_idle) != 0) {
    begin_close();
    return false;
  }
  own(reinterpret_cast<uv_handle_t*>(&m_idle));
  if (uv_timer_init(loop, &m_deadline) != 0) {
    begin_close();
    return false;
  }
  own(reinterpret_cast<uv_handle_t*>(&m_deadline));
  return true;
}

void TcpConn::start() noexcept {
  uv_timer_start(&m_idle, &TcpConn::on_idle, m_listener.m_limits.idle_timeout_ms,
                 m_listener.m_limits.idle_timeout_ms);
  update_reading();
}

bool TcpConn::reclaimable() const noexcept {
  if (m_closing || m_inflight != 0 || m_writes != 0) return false;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<const uv_handle_t*>(&m_tcp), &fd) != 0) return false;
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) < 0) return false;
  const bool peer_done = (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  int avail = 0;
  if (::ioctl(fd, FIONREAD, &avail) != 0) avail = 0;
  if (!peer_done) return m_in.empty() && avail == 0;  // idle; half a message may still be coming
  // The client has closed its side: no byte will follow what is here, so
  // unless what is here holds a whole message (which will be answered), the
  // connection can never carry a query again. Such connections pile up
  // unread when a burst of them is accepted in one loop turn. Only the length
  // prefix is needed: from m_in, the rest peeked from the kernel.
  const std::size_t held = m_in.size() + static_cast<std::size_t>(std::max(avail, 0));
  if (held < 2) return true;
  uint8_t prefix[2] = {};
  const std::size_t have = std::min<std::size_t>(m_in.size(), 2);
  if (have) std::memcpy(prefix, m_in.data(), have);
  if (have < 2 &&
      ::recv(fd, prefix + have, 2 - have, MSG_PEEK | MSG_DONTWAIT) != static_cast<ssize_t>(2 - have))
    return false;  // cannot tell: keep it
  const std::size_t len = (std::size_t{prefix[0]} << 8) | prefix[1];
  return held - 2 < len;
}

void TcpConn::begin_close() noexcept {
  if (m_closing) return;
  m_closing = true;
  m_listener.m_conns.erase(m_id);
  if (m_counted) m_listener.release(m_key);
  m_counted = false;
  close_handle(reinterpret_cast<uv_handle_t*>(&m_tcp));
  if (m_idle.data) close_handle(reinterpret_cast<uv_handle_t*>(&m_idle));
  if (m_deadline.data) close_handle(reinterpret_cast<uv_handle_t*>(&m_deadline));
}

void TcpConn::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  auto* self = static_cast<TcpConn*>(owner(h));
  *buf = uv_buf_init(reinterpret_cast<char*>(self->m_chunk), sizeof self->m_chunk);
}

void TcpConn::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<TcpConn*>(owner(reinterpret_cast<uv_handle_t*>(s)));
  if (nread == 0) return;
  if (nread < 0) {
    // EOF: the client sent all its queries; answer those in flight, then close.
    self->m_eof = true;
    self->m_reading = false;
    uv_read_stop(s);
    self->maybe_finish();
    return;
  }
  const bool started = self->m_in.empty();  // the first byte of a message
  self->m_in.insert(self->m_in.end(), reinterpret_cast<const uint8_t*>(buf->base),
                    reinterpret_cast<const uint8_t*>(buf->base) + nread);
  // The deadline runs from a message's first byte; later bytes do not move
  // it (1 byte a second must not hold a connection for ever).
  if (started)
    uv_timer_start(&self->m_deadline, &TcpConn::on_deadline, self->m_listener.m_limits.read_timeout_ms, 0);
  self->consume();
}

void TcpConn::consume() noexcept {
  if (m_consuming) return;  // a late answer arriving inside handle() must not re-enter
  m_consuming = true;
  std::size_t pos = 0;
  const auto& lim = m_listener.m_limits;
  while (!m_closing && m_in.size() - pos >= 2 && m_inflight < lim.max_inflight &&
         m_queries < lim.max_queries) {
    const std::size_t len = (std::size_t{m_in[pos]} << 8) | m_in[pos + 1];
    if (m_in.size() - pos - 2 < len) break;
    ++m_queries;
    ++m_inflight;
    ++m_listener.m_metrics.tcp_queries;
    Origin o;
    o.transport = Transport::tcp;
    o.listener = m_listener.m_index;
    o.conn = m_id;
    o.peer = m_peer;
    o.local = m_local;
    const std::size_t n = m_listener.m_handler.handle({m_in.data() + pos + 2, len}, o, m_out + 2, 65535);
    pos += 2 + len;
    if (n != kDeferred) {
      // Answered now, or never (dropped): either way nothing more will come.
      // Not query_done(), which would re-enter this loop.
      if (n > 0) answer({m_out + 2, n});
      --m_inflight;
    }
    // else: answered later through TcpListener::deliver (which calls query_done),
    // possibly before handle() returned (no upstream left to try).
  }
  if (pos) {
    m_in.erase(m_in.begin(), m_in.begin() + static_cast<std::ptrdiff_t>(pos));
    // A whole message arrived: the idle time counts from here, and what is
    // left (if anything) is the start of the next message.
    if (!m_closing) {
      uv_timer_again(&m_idle);
      if (m_in.empty())
        uv_timer_stop(&m_deadline);
      else
        uv_timer_start(&m_deadline, &TcpConn::on_deadline, lim.read_timeout_ms, 0);
    }
  }
  m_consuming = false;
  update_reading();
  maybe_finish();
}

namespace {
struct WriteReq {
  uv_write_t req;
  std::unique_ptr<uint8_t[]> data;
  TcpConn* conn;
};
}  // namespace

void TcpConn::answer(std::span<const uint8_t> data) noexcept {
  if (m_closing || data.size() > 65535) return;
  auto* w = new WriteReq;
  w->data.reset(new uint8_t[data.size() + 2]);
  w->data[0] = static_cast<uint8_t>(data.size() >> 8);
  w->data[1] = static_cast<uint8_t>(data.size());
  std::memcpy(w->data.get() + 2, data.data(), data.size());
  w->conn = this;
  w->req.data = w;
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->data.get()), static_cast<unsigned>(data.size() + 2));
  ++m_writes;
  const int rc =
      uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&m_tcp), &b, 1, [](uv_write_t* req, int status) {
        auto* wr = static_cast<WriteReq*>(req->data);
        TcpConn* c = wr->conn;
        delete wr;
        --c->m_writes;
        if (status < 0) {
          c->begin_close();
          return;
        }
        c->update_reading();
        c->maybe_finish();
      });
  if (rc != 0) {
    --m_writes;
    delete w;
    begin_close();
  }
}

void TcpConn::query_done() noexcept {
  if (m_inflight) --m_inflight;
  if (m_consuming) return;  // consume() is on the stack and will carry on
  if (!m_closing && !m_in.empty()) {
    consume();  // frames waiting for an in-flight slot
    return;
  }
  update_reading();
  maybe_finish();
}

void TcpConn::update_reading() noexcept {
  if (m_closing || m_eof) return;
  const auto& lim = m_listener.m_limits;
  // Also stop reading while answers pile up unread: a client that never
  // reads must not make us queue unbounded memory.
  const bool want =
      m_inflight < lim.max_inflight && m_queries < lim.max_queries &&
      uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&m_tcp)) < kMaxQueuedBytes;
  if (want && !m_reading) {
    m_reading =
        uv_read_start(reinterpret_cast<uv_stream_t*>(&m_tcp), &TcpConn::on_alloc, &TcpConn::on_read) == 0;
  } else if (!want && m_reading) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&m_tcp));
    m_reading = false;
  }
}

void TcpConn::maybe_finish() noexcept {
  if (m_closing) return;
  const bool no_more = m_eof || m_queries >= m_listener.m_limits.max_queries;
  if (no_more && m_inflight == 0 && m_writes == 0) begin_close();
}

bool TcpConn::head_complete() const noexcept {
  if (m_in.size() < 2) return false;
  return m_in.size() - 2 >= ((std::size_t{m_in[0]} << 8) | m_in[1]);
}

void TcpConn::on_deadline(uv_timer_t* t) noexcept {
  auto* self = static_cast<TcpConn*>(owner(reinterpret_cast<uv_handle_t*>(t)));
  if (self->m_closing) return;
  if (self->head_complete()) {
    // Whole messages waiting for an in-flight slot: our delay, not the client's.
    uv_timer_start(t, &TcpConn::on_deadline, self->m_listener.m_limits.read_timeout_ms, 0);
    return;
  }
  LOG_DEBUG("tcp %s: closing %s: a message took over %u ms to arrive", self->m_listener.m_local.str().c_str(),
            self->m_peer.ip_str().c_str(), self->m_listener.m_limits.read_timeout_ms);
  ++self->m_listener.m_metrics.tcp_rejected;
  self->begin_close();
}

void TcpConn::on_idle(uv_timer_t* t) noexcept {
  auto* self = static_cast<TcpConn*>(owner(reinterpret_cast<uv_handle_t*>(t)));
  if (self->m_inflight > 0 && self->m_writes == 0) {
    uv_timer_again(t);  // still waiting for upstream on this client's behalf
    return;
  }
  // Idle, or its answers have sat unread for a whole timeout: close.
  self->begin_close();
}

}  // namespace hedge::net
