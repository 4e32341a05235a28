// net/http_listener: accepting, framing (http-parser), in-order replies,
// limits and timeouts for HTTP/1.1 clients.
#include "net/http_listener.hpp"

#include <http_parser.h>

#include <algorithm>
#include <climits>
#include <deque>
#include <memory>

#include "util/log.hpp"

namespace hedge::net {

namespace {
constexpr std::size_t kMaxUnreadOutput = std::size_t{256} * 1024;  // then stop reading requests
constexpr std::size_t kMaxHeaders = 100;

struct WriteReq {
  uv_write_t req{};
  std::string data;
  HttpConn* conn = nullptr;
};
}  // namespace

class HttpConn final : public CloseGroup, public http::ReplySink {
 public:
  HttpConn(HttpListener& l, uint64_t id) : m_listener(l), m_id(id) {}
  bool init(uv_loop_t* loop) noexcept;
  void start(const util::SockAddr& peer, std::string client_key) noexcept;
  void begin_close() noexcept;
  void reply_ready() noexcept override;
  uint64_t id() const noexcept { return m_id; }
  const std::string& client_key() const noexcept { return m_client_key; }

  uv_tcp_t m_tcp{};

 private:
  friend class HttpListener;  // the request budget parks and resumes connections
  struct Pending {
    std::shared_ptr<http::ReplySlot> slot;
    bool head = false, keep_alive = true;
  };
  ~HttpConn() override = default;
  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_timer(uv_timer_t* t) noexcept;
  static void on_written(uv_write_t* req, int status) noexcept;
  // http-parser callbacks (data points at the connection).
  static int cb_message_begin(http_parser* p) noexcept;
  static int cb_url(http_parser* p, const char* at, size_t len) noexcept;
  static int cb_header_field(http_parser* p, const char* at, size_t len) noexcept;
  static int cb_header_value(http_parser* p, const char* at, size_t len) noexcept;
  static int cb_headers_complete(http_parser* p) noexcept;
  static int cb_body(http_parser* p, const char* at, size_t len) noexcept;
  static int cb_message_complete(http_parser* p) noexcept;
  static const http_parser_settings& settings() noexcept;

  void process() noexcept;
  void flush() noexcept;
  void fail(int status) noexcept;  // answers an error after the queued replies, then closes
  void enqueue(http::Response&& r, bool head, bool keep_alive) noexcept;
  void write_plain(const std::string& s) noexcept;
  void write_wire(std::string&& s) noexcept;
  void update_reading() noexcept;
  void maybe_finish() noexcept;
  void arm_timer() noexcept;
  bool add_header_bytes(std::size_t n) noexcept;
  void commit_header();
  int64_t now() const noexcept { return now_ms(m_tcp.loop); }

  HttpListener& m_listener;
  uint64_t m_id;
  uv_timer_t m_timer{};
  http_parser m_parser{};
  std::unique_ptr<StreamFilter> m_filter;
  util::SockAddr m_peer, m_sockname;  // the client, and our address it connected to
  std::string m_client_key;
  std::string m_in;  // application bytes received, not parsed yet (from m_in_off)
  std::size_t m_in_off = 0;
  http::Request m_req;  // the request being parsed
  std::string m_field, m_value;
  bool m_in_value = false;
  std::size_t m_header_bytes = 0;
  int m_fail = 0;  // status to answer when the parser stops on our error
  std::deque<Pending> m_queue;
  uint32_t m_requests = 0, m_writes = 0;
  std::size_t m_out_bytes = 0;
  int64_t m_req_started = 0, m_last_activity = 0;
  bool m_reading = false, m_closing = false, m_eof = false, m_parsing = false;
  bool m_no_more = false;   // no further requests are read (Connection: close, error, limit)
  bool m_budgeted = false;  // the request being parsed has its share of the listener's budget
  bool m_parked = false;    // waiting in the listener's queue for budget; not reading
  bool m_filter_closed = false;
  char m_chunk[16384];
};

const http_parser_settings& HttpConn::settings() noexcept {
  static const http_parser_settings s = [] {
    http_parser_settings x{};
    http_parser_settings_init(&x);
    x.on_message_begin = &HttpConn::cb_message_begin;
    x.on_url = &HttpConn::cb_url;
    x.on_header_field = &HttpConn::cb_header_field;
    x.on_header_value = &HttpConn::cb_header_value;
    x.on_headers_complete = &HttpConn::cb_headers_complete;
    x.on_body = &HttpConn::cb_body;
    x.on_message_complete = &HttpConn::cb_message_complete;
    return x;
  }();
  return s;
}

HttpListener* HttpListener::start(uv_loop_t* loop, const util::SockAddr& addr, std::string name,
                                  http::Handler& handler, const HttpLimits& limits, std::string& err,
                                  StreamFilterFactory filter) {
  auto* l = new HttpListener(handler);
  l->m_loop = loop;
  l->m_local = addr;
  l->m_name = std::move(name);
  l->m_limits = limits;
  l->m_filter = std::move(filter);
  l->m_limiter.configure(limits.rate_limit_per_client, limits.rate_limit_burst);
  int rc = uv_tcp_init(loop, &l->m_tcp);
  if (rc != 0) {
    err = "http " + addr.str() + ": " + uv_strerror(rc);
    delete l;
    return nullptr;
  }
  l->own(reinterpret_cast<uv_handle_t*>(&l->m_tcp));
  rc = uv_timer_init(loop, &l->m_budget_timer);
  if (rc != 0) {
    err = "http " + addr.str() + ": " + uv_strerror(rc);
    l->close();
    return nullptr;
  }
  l->own(reinterpret_cast<uv_handle_t*>(&l->m_budget_timer));
  rc = uv_tcp_bind(&l->m_tcp, addr.sa(), addr.family() == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l->m_tcp), 511, &HttpListener::on_connection);
  if (rc != 0) {
    err = "http listener " + l->m_name + " on " + addr.str() + ": cannot listen: " + uv_strerror(rc);
    l->close();
    return nullptr;
  }
  if (addr.port() == 0) {
    int len = sizeof(sockaddr_storage);
    uv_tcp_getsockname(&l->m_tcp, l->m_local.sa(), &len);
  }
  return l;
}

void HttpListener::close() noexcept {
  if (m_closing) return;
  m_closing = true;
  while (!m_conns.empty()) m_conns.begin()->second->begin_close();
  m_parked.clear();
  close_handle(reinterpret_cast<uv_handle_t*>(&m_tcp));
  if (m_budget_timer.data) close_handle(reinterpret_cast<uv_handle_t*>(&m_budget_timer));
}

// A token bucket holding a tenth of a second's requests: a burst of a few
// pages is served at once, a flood at the configured rate.
bool HttpListener::take_budget() noexcept {
  const uint32_t rate = m_limits.max_requests_per_second;
  if (rate == 0) return true;
  const double cap = std::max(1.0, rate / 10.0);
  const int64_t t = now_ms(m_loop);
  if (m_budget < 0)
    m_budget = cap;
  else
    m_budget = std::min(cap, m_budget + static_cast<double>(t - m_budget_at) * rate / 1000.0);
  m_budget_at = t;
  if (m_budget < 1) return false;
  m_budget -= 1;
  return true;
}

void HttpListener::park(HttpConn* c) noexcept {
  if (!c->m_parked) {
    c->m_parked = true;
    m_parked.push_back(c->id());
    ++m_stats.held_back;
  }
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&m_budget_timer)) && !m_closing) arm_budget_timer();
}

// Wake no more than 100 times a second: each wake lets about rate/100 requests start.
void HttpListener::arm_budget_timer() noexcept {
  const uint32_t rate = std::max<uint32_t>(1, m_limits.max_requests_per_second);
  uv_timer_start(&m_budget_timer, &HttpListener::on_budget, std::max<uint64_t>(10, 1000 / rate), 0);
}

void HttpListener::on_budget(uv_timer_t* t) noexcept {
  auto* self = static_cast<HttpListener*>(owner(reinterpret_cast<uv_handle_t*>(t)));
  if (self->m_closing) return;
  // Oldest first; a connection that runs out of budget again goes to the back.
  std::size_t n = self->m_parked.size();
  while (n-- > 0 && !self->m_parked.empty()) {
    const uint64_t id = self->m_parked.front();
    self->m_parked.pop_front();
    const auto it = self->m_conns.find(id);
    if (it == self->m_conns.end()) continue;  // closed while it waited
    HttpConn* c = it->second;
    c->m_parked = false;
    c->process();  // takes budget for its next request, or parks again
    if (c->m_parked && self->m_budget < 1) break;
  }
  if (!self->m_parked.empty() && !self->m_closing) self->arm_budget_timer();
}

void HttpListener::forget(HttpConn* c, const std::string& client) noexcept {
  m_conns.erase(c->id());
  if (client.empty()) return;
  auto it = m_per_client.find(client);
  if (it != m_per_client.end() && --it->second == 0) m_per_client.erase(it);
}

void HttpListener::on_connection(uv_stream_t* server, int status) noexcept {
  auto* self = static_cast<HttpListener*>(owner(reinterpret_cast<uv_handle_t*>(server)));
  if (status < 0 || self->m_closing) return;
  auto* c = new HttpConn(*self, self->m_next_id++);
  if (!c->init(server->loop)) return;  // init failure deletes c
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->m_tcp)) != 0) {
    c->begin_close();
    return;
  }
  util::SockAddr peer;
  int alen = sizeof(sockaddr_storage);
  uv_tcp_getpeername(&c->m_tcp, peer.sa(), &alen);
  std::string key = peer.ip_str();
  const auto& lim = self->m_limits;
  uint32_t& per = self->m_per_client[key];
  if (self->m_conns.size() >= lim.max_connections || per >= lim.max_connections_per_client) {
    if (per == 0) self->m_per_client.erase(key);
    ++self->m_stats.rejected;
    LOG_WARN("http %s: connection limit reached (%u per listener, %u per client), refusing %s",
             self->m_local.str().c_str(), lim.max_connections, lim.max_connections_per_client, key.c_str());
    c->begin_close();
    return;
  }
  ++per;
  ++self->m_stats.connections;
  self->m_conns.emplace(c->id(), c);
  uv_tcp_nodelay(&c->m_tcp, 1);
  c->start(peer, std::move(key));
}

bool HttpConn::init(uv_loop_t* loop) noexcept {
  if (uv_tcp_init(loop, &m_tcp) != 0) {
    release_if_done();
    return false;
  }
  own(reinterpret_cast<uv_handle_t*>(&m_tcp));
  if (uv_timer_init(loop, &m_timer) != 0) {
    begin_close();
    return false;
  }
  own(reinterpret_cast<uv_handle_t*>(&m_timer));
  return true;
}

void HttpConn::start(const util::SockAddr& peer, std::string client_key) noexcept {
  m_peer = peer;
  m_client_key = std::move(client_key);
  int slen = sizeof(sockaddr_storage);
  if (uv_tcp_getsockname(&m_tcp, m_sockname.sa(), &slen) != 0) m_sockname = m_listener.m_local;
  http_parser_init(&m_parser, HTTP_REQUEST);
  m_parser.data = this;
  if (m_listener.m_filter) {
    try {
      m_filter = m_listener.m_filter();
    } catch (...) {
      begin_close();
      return;
    }
  }
  m_last_activity = now();
  arm_timer();
  update_reading();
}

void HttpConn::begin_close() noexcept {
  if (m_closing) return;
  m_closing = true;
  m_listener.forget(this, m_client_key);
  for (auto& p : m_queue) p.slot->sink = nullptr;
  m_queue.clear();
  close_handle(reinterpret_cast<uv_handle_t*>(&m_tcp));
  if (m_timer.data) close_handle(reinterpret_cast<uv_handle_t*>(&m_timer));
}

void HttpConn::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  auto* self = static_cast<HttpConn*>(owner(h));
  *buf = uv_buf_init(self->m_chunk, sizeof self->m_chunk);
}

void HttpConn::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<HttpConn*>(owner(reinterpret_cast<uv_handle_t*>(s)));
  if (nread == 0 || self->m_closing) return;
  if (nread < 0) {
    // EOF or reset: answer what was asked, then close.
    self->m_eof = true;
    self->m_reading = false;
    uv_read_stop(s);
    if (nread != UV_EOF) {
      self->begin_close();
      return;
    }
    self->maybe_finish();
    return;
  }
  self->m_last_activity = self->now();
  const auto n = static_cast<std::size_t>(nread);
  if (self->m_filter) {
    std::string wire_out;
    bool ok = false;
    try {
      ok = self->m_filter->on_wire_in({reinterpret_cast<const uint8_t*>(buf->base), n}, self->m_in, wire_out);
    } catch (...) {
      ok = false;
    }
    if (!wire_out.empty()) self->write_wire(std::move(wire_out));
    if (!ok) {
      self->m_no_more = true;
      self->m_filter_closed = true;  // no close_notify after a fatal filter error
      self->m_in.clear();
      self->m_in_off = 0;
      self->update_reading();
      self->maybe_finish();
      return;
    }
  } else {
    self->m_in.append(buf->base, n);
  }
  self->process();
}

void HttpConn::process() noexcept {
  if (m_parsing || m_closing) return;
  m_parsing = true;
  const auto& lim = m_listener.m_limits;
  while (!m_closing && !m_no_more && !m_parked && m_in_off < m_in.size() &&
         m_queue.size() < lim.max_pipelined && m_out_bytes < kMaxUnreadOutput) {
    if (!m_budgeted) {  // the first bytes of a new request: it needs a share of the listener's budget
      if (!m_listener.take_budget()) {
        m_listener.park(this);
        break;
      }
      m_budgeted = true;
    }
    const std::size_t n =
        http_parser_execute(&m_parser, &settings(), m_in.data() + m_in_off, m_in.size() - m_in_off);
    m_in_off += n;
    const auto err = static_cast<http_errno>(m_parser.http_errno);
    if (err == HPE_PAUSED) {
      http_parser_pause(&m_parser, 0);  // paused after each message: limits are checked per request
      continue;
    }
    if (err != HPE_OK) {
      int status = m_fail ? m_fail : 400;
      if (!m_fail && err == HPE_HEADER_OVERFLOW) status = 431;
      ++m_listener.m_stats.bad_requests;
      fail(status);
      break;
    }
    if (m_parser.upgrade) {
      // CONNECT or "Upgrade:": not served here. The request was answered; stop reading.
      m_no_more = true;
      break;
    }
    if (n == 0) break;
  }
  // Keep at most one partial request buffered, compacting what was parsed.
  if (m_in_off > 0 && (m_in_off == m_in.size() || m_in_off > 4096)) {
    m_in.erase(0, m_in_off);
    m_in_off = 0;
  }
  m_parsing = false;
  if (m_closing) return;
  flush();
  if (m_closing) return;
  update_reading();
  arm_timer();
}

void HttpConn::enqueue(http::Response&& r, bool head, bool keep_alive) noexcept {
  auto slot = std::make_shared<http::ReplySlot>();
  slot->sink = this;
  slot->response = std::move(r);
  slot->done = true;
  m_queue.push_back({std::move(slot), head, keep_alive});
}

void HttpConn::fail(int status) noexcept {
  m_no_more = true;
  m_req_started = 0;
  http::Response r(status, "text/plain; charset=utf-8",
                   std::to_string(status) + " " + http::reason_phrase(status) + "\n");
  r.close = true;
  try {
    enqueue(std::move(r), false, false);
  } catch (...) {
    begin_close();
  }
}

void HttpConn::reply_ready() noexcept {
  if (m_closing || m_parsing) return;  // process() flushes after parsing
  flush();
  if (m_closing) return;
  process();  // replies were the bottleneck (pipelining): carry on parsing
  update_reading();
  arm_timer();
}

void HttpConn::flush() noexcept {
  std::string out;
  try {
    while (!m_queue.empty() && m_queue.front().slot->done) {
      Pending p = std::move(m_queue.front());
      m_queue.pop_front();
      p.slot->sink = nullptr;
      const http::Response& r = p.slot->response;
      bool keep = p.keep_alive && !r.close;
      if (!keep) {
        m_no_more = true;
        for (auto& rest : m_queue) rest.slot->sink = nullptr;  // never answered: the connection ends here
        m_queue.clear();
      }
      ++m_listener.m_stats.responses[r.status];
      out += http::serialize(r, p.head, keep);
    }
  } catch (...) {
    begin_close();
    return;
  }
  if (!out.empty()) write_plain(out);
  maybe_finish();
}

void HttpConn::write_plain(const std::string& s) noexcept {
  if (!m_filter) {
    write_wire(std::string(s));
    return;
  }
  std::string wire;
  bool ok = false;
  try {
    ok = m_filter->on_plain_out(s, wire);
  } catch (...) {
    ok = false;
  }
  if (!wire.empty()) write_wire(std::move(wire));
  if (!ok) {
    m_no_more = true;
    m_filter_closed = true;
  }
}

void HttpConn::write_wire(std::string&& s) noexcept {
  if (m_closing || s.empty()) return;
  auto* w = new (std::nothrow) WriteReq;
  if (!w) {
    begin_close();
    return;
  }
  w->data = std::move(s);
  w->conn = this;
  w->req.data = w;
  uv_buf_t b = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  ++m_writes;
  m_out_bytes += w->data.size();
  const int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&m_tcp), &b, 1, &HttpConn::on_written);
  if (rc != 0) {
    --m_writes;
    m_out_bytes -= w->data.size();
    delete w;
    begin_close();
  }
}

void HttpConn::on_written(uv_write_t* req, int status) noexcept {
  auto* w = static_cast<WriteReq*>(req->data);
  HttpConn* c = w->conn;
  --c->m_writes;
  c->m_out_bytes -= w->data.size();
  delete w;
  if (c->m_closing) return;
  if (status < 0) {
    c->begin_close();
    return;
  }
  c->m_last_activity = c->now();
  c->process();  // output drained: parsing may resume
  if (!c->m_closing) c->maybe_finish();
}

void HttpConn::update_reading() noexcept {
  if (m_closing || m_eof) return;
  const auto& lim = m_listener.m_limits;
  const bool want = !m_no_more && !m_parked && m_queue.size() < lim.max_pipelined &&
                    m_out_bytes < kMaxUnreadOutput &&
                    m_in.size() - m_in_off < std::size_t{lim.max_header_bytes} + lim.max_body_bytes + 16384;
  if (want && !m_reading) {
    m_reading =
        uv_read_start(reinterpret_cast<uv_stream_t*>(&m_tcp), &HttpConn::on_alloc, &HttpConn::on_read) == 0;
  } else if (!want && m_reading) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&m_tcp));
    m_reading = false;
  }
}

void HttpConn::maybe_finish() noexcept {
  if (m_closing) return;
  if (!(m_no_more || m_eof) || !m_queue.empty()) return;
  if (m_filter && !m_filter_closed) {
    m_filter_closed = true;
    std::string wire;
    try {
      m_filter->on_close(wire);
    } catch (...) {
      wire.clear();
    }
    if (!wire.empty()) write_wire(std::move(wire));
  }
  if (m_writes == 0) begin_close();
}

void HttpConn::arm_timer() noexcept {
  if (m_closing) return;
  const auto& lim = m_listener.m_limits;
  const int64_t t = now();
  int64_t deadline = m_last_activity + lim.idle_timeout_ms;
  if (m_req_started) deadline = std::min(deadline, m_req_started + int64_t{lim.request_timeout_ms});
  const int64_t wait = std::max<int64_t>(1, deadline - t);
  uv_timer_start(&m_timer, &HttpConn::on_timer, static_cast<uint64_t>(wait), 0);
}

void HttpConn::on_timer(uv_timer_t* t) noexcept {
  auto* self = static_cast<HttpConn*>(owner(reinterpret_cast<uv_handle_t*>(t)));
  if (self->m_closing) return;
  const auto& lim = self->m_listener.m_limits;
  const int64_t now = self->now();
  if (self->m_req_started && now - self->m_req_started >= int64_t{lim.request_timeout_ms}) {
    // Slowloris: the request did not arrive in time. Say so once, then close.
    ++self->m_listener.m_stats.timeouts;
    self->m_req_started = 0;
    if (!self->m_no_more) {
      self->fail(408);
      self->flush();
    }
    if (!self->m_closing) {
      // Whatever happens to that write, the connection ends within one more idle timeout.
      self->m_last_activity = now;
      self->arm_timer();
    }
    return;
  }
  if (!self->m_queue.empty() && !self->m_queue.front().slot->done && self->m_writes == 0) {
    self->m_last_activity = now;  // a handler is still working for this client
    self->arm_timer();
    return;
  }
  if (now - self->m_last_activity >= int64_t{lim.idle_timeout_ms}) {
    if (self->m_writes) ++self->m_listener.m_stats.timeouts;  // output sat unread
    self->begin_close();
    return;
  }
  self->arm_timer();
}

bool HttpConn::add_header_bytes(std::size_t n) noexcept {
  m_header_bytes += n;
  if (m_header_bytes > m_listener.m_limits.max_header_bytes) {
    m_fail = 431;
    return false;
  }
  return true;
}

void HttpConn::commit_header() {
  if (!m_in_value && m_field.empty()) return;
  for (auto& ch : m_field) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
  if (m_req.headers.size() < kMaxHeaders) m_req.headers.push_back({std::move(m_field), std::move(m_value)});
  m_field.clear();
  m_value.clear();
  m_in_value = false;
}

int HttpConn::cb_message_begin(http_parser* p) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  c->m_req = http::Request{};
  c->m_field.clear();
  c->m_value.clear();
  c->m_in_value = false;
  c->m_header_bytes = 0;
  c->m_fail = 0;
  c->m_req_started = c->now();
  return 0;
}

int HttpConn::cb_url(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  if (!c->add_header_bytes(len)) return -1;
  try {
    c->m_req.target.append(at, len);
  } catch (...) {
    return -1;
  }
  return 0;
}

int HttpConn::cb_header_field(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  if (!c->add_header_bytes(len)) return -1;
  try {
    if (c->m_in_value) c->commit_header();
    c->m_field.append(at, len);
  } catch (...) {
    return -1;
  }
  return 0;
}

int HttpConn::cb_header_value(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  if (!c->add_header_bytes(len + 4)) return -1;  // ": " and CRLF count too
  try {
    c->m_value.append(at, len);
    c->m_in_value = true;
  } catch (...) {
    return -1;
  }
  return 0;
}

int HttpConn::cb_headers_complete(http_parser* p) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  const auto& lim = c->m_listener.m_limits;
  if (p->content_length != ULLONG_MAX && p->content_length > lim.max_body_bytes) {
    c->m_fail = 413;
    return -1;
  }
  try {
    c->commit_header();
    http::Request& r = c->m_req;
    r.method = http_method_str(static_cast<http_method>(p->method));
    r.http_major = p->http_major;
    r.http_minor = p->http_minor;
    r.keep_alive = http_should_keep_alive(p) != 0;
    std::string_view t = r.target;
    // absolute-form ("GET http://host/path"): keep the path part.
    if (t.size() > 7 && (t.compare(0, 7, "http://") == 0 || t.compare(0, 8, "https://") == 0)) {
      const std::size_t slash = t.find('/', t.find("//") + 2);
      t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
    }
    const std::size_t q = t.find('?');
    const std::string_view path = t.substr(0, q);
    if (q != std::string_view::npos) r.query = std::string(t.substr(q + 1));
    if (const std::size_t hash = r.query.find('#'); hash != std::string::npos) r.query.resize(hash);
    r.path = http::url_decode(path, false);
    if (r.path.empty() || r.path[0] != '/') r.path = "/" + r.path;
  } catch (...) {
    return -1;
  }
  return 0;
}

int HttpConn::cb_body(http_parser* p, const char* at, size_t len) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  if (c->m_req.body.size() + len > c->m_listener.m_limits.max_body_bytes) {
    c->m_fail = 413;  // chunked bodies have no Content-Length to check up front
    return -1;
  }
  try {
    c->m_req.body.append(at, len);
  } catch (...) {
    return -1;
  }
  return 0;
}

int HttpConn::cb_message_complete(http_parser* p) noexcept {
  auto* c = static_cast<HttpConn*>(p->data);
  HttpListener& l = c->m_listener;
  c->m_req_started = 0;
  c->m_budgeted = false;  // the next request takes its own share
  ++c->m_requests;
  http_parser_pause(p, 1);  // one request per http_parser_execute() call
  try {
    http::Request& r = c->m_req;
    const bool head = r.method == "HEAD";
    bool keep = r.keep_alive && c->m_requests < l.m_limits.max_requests_per_connection;
    if (!keep) c->m_no_more = true;
    if (!l.m_limiter.allow(c->m_peer.sa(), c->now())) {
      ++l.m_stats.ratelimited;
      http::Response resp(429, "text/plain; charset=utf-8", "too many requests, slow down\n");
      resp.set("Retry-After", "1");
      resp.close = true;
      c->enqueue(std::move(resp), head, false);
      c->m_no_more = true;
      return 0;
    }
    if (r.method != "GET" && r.method != "HEAD" && r.method != "POST") {
      http::Response resp(405, "text/plain; charset=utf-8", "method not supported\n");
      resp.set("Allow", "GET, HEAD, POST");
      c->enqueue(std::move(resp), head, keep);
      return 0;
    }
    if (r.http_major != 1) {
      http::Response resp(505, "text/plain; charset=utf-8", "HTTP/1.x only\n");
      resp.close = true;
      c->enqueue(std::move(resp), head, false);
      return 0;
    }
    r.client = c->m_peer;
    r.local = c->m_sockname;
    r.listener = l.m_name;
    auto slot = std::make_shared<http::ReplySlot>();
    slot->sink = c;
    c->m_queue.push_back({slot, head, keep});
    l.m_handler.handle(std::move(r), http::Reply(std::move(slot)));
  } catch (...) {
    c->m_fail = 500;
    return -1;
  }
  return 0;
}

}  // namespace hedge::net
