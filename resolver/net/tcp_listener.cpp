// net/tcp_listener: accepting, framing, pipelining and closing TCP clients.
#include "net/tcp_listener.hpp"

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

  uv_tcp_t m_tcp{};

 private:
  ~TcpConn() override = default;
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_idle(uv_timer_t* t) noexcept;
  void consume() noexcept;
  void maybe_finish() noexcept;
  void update_reading() noexcept;

  TcpListener& m_listener;
  uint64_t m_id;
  uv_timer_t m_idle{};
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

void TcpListener::on_connection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<TcpListener*>(owner(reinterpret_cast<uv_handle_t*>(server)));
  if (status < 0 || self->m_closing) return;
  auto* c = new TcpConn(*self, self->m_next_id++);
  if (!c->init(server->loop)) return;  // init failure deletes c
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->m_tcp)) != 0) {
    c->begin_close();
    return;
  }
  if (self->m_conns.size() >= self->m_limits.max_connections) {
    ++self->m_metrics.tcp_rejected;
    LOG_WARN("tcp %s: connection limit (%u) reached, refusing a client", self->m_local.str().c_str(),
             self->m_limits.max_connections);
    c->begin_close();
    return;
  }
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
  return true;
}

void TcpConn::start() noexcept {
  uv_timer_start(&m_idle, &TcpConn::on_idle, m_listener.m_limits.idle_timeout_ms,
                 m_listener.m_limits.idle_timeout_ms);
  update_reading();
}

void TcpConn::begin_close() noexcept {
  if (m_closing) return;
  m_closing = true;
  m_listener.m_conns.erase(m_id);
  close_handle(reinterpret_cast<uv_handle_t*>(&m_tcp));
  if (m_idle.data) close_handle(reinterpret_cast<uv_handle_t*>(&m_idle));
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
  self->m_in.insert(self->m_in.end(), reinterpret_cast<const uint8_t*>(buf->base),
                    reinterpret_cast<const uint8_t*>(buf->base) + nread);
  uv_timer_again(&self->m_idle);
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
    o.local = &m_listener.m_local;
    int alen = sizeof(sockaddr_storage);
    uv_tcp_getpeername(&m_tcp, o.peer.sa(), &alen);
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
  if (pos) m_in.erase(m_in.begin(), m_in.begin() + static_cast<std::ptrdiff_t>(pos));
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
