// upstream/forwarder: UDP and TCP tries, matching, retry and health.
#include "upstream/forwarder.hpp"

#include <algorithm>
#include <cstring>

#include "dns/wire.hpp"
#include "net/uv_handle.hpp"
#include "util/crypto.hpp"
#include "util/log.hpp"

namespace hedge::upstream {

// One try against one server, over UDP or TCP. Owns its socket and timer.
class Attempt final : public net::CloseGroup {
 public:
  // The server's address is copied: a reload may replace the server list
  // while this try is in flight (health bookkeeping is bounds-checked).
  Attempt(Forwarder& f, Resolution& r, std::size_t server, const util::SockAddr& addr, bool tcp)
      : m_f(f), m_r(&r), m_server(server), m_addr(addr), m_tcp(tcp) {}
  bool begin(uv_loop_t* loop, uint32_t timeout_ms) noexcept;
  // Stops the try; the Resolution is not told (it has been or will be).
  void abandon() noexcept {
    m_r = nullptr;
    if (m_timer.data) uv_timer_stop(&m_timer);
    if (m_sock_open)
      close_handle(m_tcp ? reinterpret_cast<uv_handle_t*>(&m_tcp_h) : reinterpret_cast<uv_handle_t*>(&m_udp));
    if (m_timer.data) close_handle(reinterpret_cast<uv_handle_t*>(&m_timer));
    release_if_done();
  }
  const util::SockAddr& addr() const noexcept { return m_addr; }

 private:
  ~Attempt() override = default;
  static void on_timeout(uv_timer_t* t) noexcept;
  static void on_udp_alloc(uv_handle_t* h, size_t, uv_buf_t* b) noexcept;
  static void on_udp_recv(uv_udp_t* h, ssize_t n, const uv_buf_t* b, const sockaddr* addr, unsigned) noexcept;
  static void on_connect(uv_connect_t* req, int status) noexcept;
  static void on_tcp_alloc(uv_handle_t* h, size_t, uv_buf_t* b) noexcept;
  static void on_tcp_read(uv_stream_t* s, ssize_t n, const uv_buf_t* b) noexcept;
  void handle_reply(std::span<const uint8_t> reply) noexcept;

  Forwarder& m_f;
  Resolution* m_r;
  std::size_t m_server;
  util::SockAddr m_addr;
  bool m_tcp;
  bool m_sock_open = false;
  uv_timer_t m_timer{};
  uv_udp_t m_udp{};
  uv_tcp_t m_tcp_h{};
  uv_connect_t m_connect{};
  uv_write_t m_write{};
  int64_t m_sent_ms = 0;
  std::vector<uint8_t> m_buf;  // TCP: the frame being read
  std::size_t m_used = 0;      // TCP: bytes of m_buf filled
  std::vector<uint8_t> m_frame_out;
};

Forwarder::Forwarder(uv_loop_t* loop, util::Metrics& metrics) : m_loop(loop), m_metrics(metrics) {}

Forwarder::~Forwarder() {
  close();
}

void Forwarder::configure(const Settings& s) {
  std::vector<ServerState> next;
  for (const auto& addr : s.servers) {
    ServerState st;
    st.addr = addr;
    for (const auto& old : m_servers)
      if (old.addr.same(addr.sa())) st = old;
    next.push_back(st);
  }
  // Tries in flight refer to servers by index: abandon none, but indexes of a
  // changed list only matter for health bookkeeping, which is bounds-checked.
  m_servers = std::move(next);
  m_settings = s;
}

void Forwarder::close() noexcept {
  auto attempts = std::move(m_attempts);
  m_attempts.clear();
  for (Attempt* a : attempts) a->abandon();
}

uint16_t Forwarder::random_id() noexcept {
  if (m_random_pos + 2 > sizeof m_random) {
    if (!util::random_bytes(m_random)) {
      // getrandom cannot fail on Linux >= 3.17 once seeded; never fall back to a guessable id silently.
      LOG_ERROR("getrandom failed: query ids are not random");
    }
    m_random_pos = 0;
  }
  const uint16_t v = static_cast<uint16_t>((m_random[m_random_pos] << 8) | m_random[m_random_pos + 1]);
  m_random_pos += 2;
  return v;
}

std::size_t Forwarder::pick_server(const Resolution& r) const noexcept {
  const int64_t now = net::now_ms(m_loop);
  std::size_t best = SIZE_MAX;
  // Prefer servers this resolution has not tried, healthy ones first, then by smoothed RTT.
  auto better = [&](std::size_t a, std::size_t b) {
    if (b == SIZE_MAX) return true;
    const bool ta = r.m_tried_mask & (1ull << (a % 64)), tb = r.m_tried_mask & (1ull << (b % 64));
    if (ta != tb) return !ta;
    const bool ha = m_servers[a].backoff_until_ms <= now, hb = m_servers[b].backoff_until_ms <= now;
    if (ha != hb) return ha;
    if (!ha) return m_servers[a].backoff_until_ms < m_servers[b].backoff_until_ms;
    return m_servers[a].srtt_ms < m_servers[b].srtt_ms;
  };
  for (std::size_t i = 0; i < m_servers.size(); ++i)
    if (better(i, best)) best = i;
  return best;
}

void Forwarder::start(Resolution& r, std::span<const uint8_t> query) noexcept {
  r.m_query.assign(query.begin(), query.end());
  r.m_tries = 0;
  r.m_tried_mask = 0;
  r.m_result = Result{};
  r.m_started_ms = net::now_ms(m_loop);
  next_try(r);
}

void Forwarder::next_try(Resolution& r) noexcept {
  while (r.m_tries < m_settings.attempts && !m_servers.empty()) {
    const std::size_t s = pick_server(r);
    ++r.m_tries;
    r.m_tried_mask |= 1ull << (s % 64);
    dns::store16(r.m_query.data(), random_id());
    auto* a = new Attempt(*this, r, s, m_servers[s].addr, false);
    if (a->begin(m_loop, m_settings.timeout_ms)) {
      m_attempts.insert(a);
      ++m_metrics.upstream_queries;
      return;
    }
    mark_failure(m_servers[s].addr);
  }
  r.m_result.outcome = Outcome::failed;
  r.on_done(std::move(r.m_result));
}

std::size_t Forwarder::index_of(const util::SockAddr& a) const noexcept {
  for (std::size_t i = 0; i < m_servers.size(); ++i)
    if (m_servers[i].addr.same(a.sa())) return i;
  return SIZE_MAX;
}

void Forwarder::mark_failure(const util::SockAddr& a) noexcept {
  const std::size_t s = index_of(a);
  if (s == SIZE_MAX) return;  // removed by a reload meanwhile
  auto& st = m_servers[s];
  ++st.failures;
  ++st.consecutive_failures;
  if (st.consecutive_failures >= 3) {
    // Exponential backoff, 1 s doubling up to 60 s; a backed-off server is
    // still tried when nothing better is left, so recovery is noticed.
    const uint32_t shift = std::min<uint32_t>(st.consecutive_failures - 3, 6);
    const int64_t delay = std::min<int64_t>(60000, int64_t{1000} << shift);
    if (st.backoff_until_ms <= net::now_ms(m_loop)) {
      LOG_WARN("upstream %s: %u failures in a row, backing off for %lld ms", st.addr.str().c_str(),
               st.consecutive_failures, static_cast<long long>(delay));
    }
    st.backoff_until_ms = net::now_ms(m_loop) + delay;
  }
}

void Forwarder::mark_success(const util::SockAddr& a, uint32_t rtt_ms) noexcept {
  const std::size_t s = index_of(a);
  if (s == SIZE_MAX) return;
  auto& st = m_servers[s];
  if (st.backoff_until_ms) LOG_INFO("upstream %s: answering again", st.addr.str().c_str());
  ++st.answers;
  st.consecutive_failures = 0;
  st.backoff_until_ms = 0;
  st.srtt_ms = (st.srtt_ms * 7 + rtt_ms) / 8;
}

void Forwarder::attempt_failed(Resolution& r, Attempt* a, std::size_t) noexcept {
  m_attempts.erase(a);
  const util::SockAddr addr = a->addr();
  a->abandon();
  mark_failure(addr);
  next_try(r);
}

void Forwarder::finish(Resolution& r, Attempt* a, uint32_t rtt_ms) noexcept {
  m_attempts.erase(a);
  const util::SockAddr addr = a->addr();
  a->abandon();
  mark_success(addr, rtt_ms);
  m_metrics.observe_latency_us(static_cast<uint64_t>(net::now_ms(m_loop) - r.m_started_ms) * 1000);
  r.m_result.outcome = Outcome::answer;
  r.on_done(std::move(r.m_result));
}

bool Attempt::begin(uv_loop_t* loop, uint32_t timeout_ms) noexcept {
  const auto& addr = m_addr;  // copied at construction
  if (uv_timer_init(loop, &m_timer) != 0) {
    release_if_done();
    return false;
  }
  own(reinterpret_cast<uv_handle_t*>(&m_timer));
  m_sent_ms = net::now_ms(loop);
  if (!m_tcp) {
    if (uv_udp_init(loop, &m_udp) != 0) goto fail;
    own(reinterpret_cast<uv_handle_t*>(&m_udp));
    m_sock_open = true;
    // Connected UDP: the kernel delivers only datagrams from the server's
    // address and port; the port we send from is a fresh random one.
    if (uv_udp_connect(&m_udp, addr.sa()) != 0) goto fail;
    uv_buf_t b =
        uv_buf_init(reinterpret_cast<char*>(m_r->m_query.data()), static_cast<unsigned>(m_r->m_query.size()));
    if (uv_udp_try_send(&m_udp, &b, 1, nullptr) < 0) goto fail;
    if (uv_udp_recv_start(&m_udp, &Attempt::on_udp_alloc, &Attempt::on_udp_recv) != 0) goto fail;
  } else {
    if (uv_tcp_init(loop, &m_tcp_h) != 0) goto fail;
    own(reinterpret_cast<uv_handle_t*>(&m_tcp_h));
    m_sock_open = true;
    m_connect.data = this;
    if (uv_tcp_connect(&m_connect, &m_tcp_h, addr.sa(), &Attempt::on_connect) != 0) goto fail;
    timeout_ms *= 2;  // connect + write + read
  }
  uv_timer_start(&m_timer, &Attempt::on_timeout, timeout_ms, 0);
  return true;
fail:
  m_r = nullptr;
  if (m_sock_open)
    close_handle(m_tcp ? reinterpret_cast<uv_handle_t*>(&m_tcp_h) : reinterpret_cast<uv_handle_t*>(&m_udp));
  close_handle(reinterpret_cast<uv_handle_t*>(&m_timer));
  return false;
}

void Attempt::on_timeout(uv_timer_t* t) noexcept {
  auto* self = static_cast<Attempt*>(owner(reinterpret_cast<uv_handle_t*>(t)));
  if (!self->m_r) return;
  ++self->m_f.m_metrics.upstream_timeouts;
  LOG_DEBUG("upstream %s: timeout", self->m_addr.str().c_str());
  self->m_f.attempt_failed(*self->m_r, self, self->m_server);
}

void Attempt::on_udp_alloc(uv_handle_t*, size_t, uv_buf_t* b) noexcept {
  // One receive buffer for every UDP try: a reply is handled completely in
  // on_udp_recv before the loop can read the next one (one thread, one loop).
  static uint8_t shared[65536];
  *b = uv_buf_init(reinterpret_cast<char*>(shared), sizeof shared);
}

void Attempt::on_udp_recv(uv_udp_t* h, ssize_t n, const uv_buf_t* b, const sockaddr* addr,
                          unsigned flags) noexcept {
  auto* self = static_cast<Attempt*>(owner(reinterpret_cast<uv_handle_t*>(h)));
  if (!self->m_r || n == 0 || !addr) return;
  if (n < 0) {
    // ICMP port unreachable on a connected socket: the server is not there.
    ++self->m_f.m_metrics.upstream_errors;
    self->m_f.attempt_failed(*self->m_r, self, self->m_server);
    return;
  }
  if ((flags & UV_UDP_PARTIAL) || !self->m_addr.same(addr)) {
    ++self->m_f.m_metrics.upstream_mismatched;
    return;
  }
  self->handle_reply({reinterpret_cast<const uint8_t*>(b->base), static_cast<std::size_t>(n)});
}

void Attempt::handle_reply(std::span<const uint8_t> reply) noexcept {
  Resolution& r = *m_r;
  switch (dns::check_reply(reply, r.m_query)) {
    case dns::ReplyCheck::mismatch:
      // Not ours (spoofed or stale): keep waiting for the real one (UDP);
      // over TCP the stream is out of step, so that server failed.
      ++m_f.m_metrics.upstream_mismatched;
      if (m_tcp) {
        m_f.attempt_failed(r, this, m_server);
        return;
      }
      LOG_DEBUG("upstream %s: ignored a reply that does not match our id/question", m_addr.str().c_str());
      return;
    case dns::ReplyCheck::truncated: {
      if (m_tcp) {
        // TC over TCP: the server could not send it all; this try failed.
        m_f.attempt_failed(r, this, m_server);
        return;
      }
      ++m_f.m_metrics.upstream_tcp_retries;
      Forwarder& f = m_f;
      const std::size_t server = m_server;
      f.m_attempts.erase(this);
      abandon();
      auto* a = new Attempt(f, r, server, m_addr, true);
      if (a->begin(f.m_loop, f.m_settings.timeout_ms)) {
        f.m_attempts.insert(a);
      } else {
        f.mark_failure(m_addr);
        f.next_try(r);
      }
      return;
    }
    case dns::ReplyCheck::malformed:
    case dns::ReplyCheck::ok: break;
  }
  r.m_result.any_reply = true;
  const uint32_t rtt = static_cast<uint32_t>(net::now_ms(m_f.m_loop) - m_sent_ms);
  if (!dns::scrub_reply(reply, m_f.m_settings.ttl, r.m_result.reply)) {
    ++m_f.m_metrics.upstream_errors;
    LOG_WARN("upstream %s: malformed reply", m_addr.str().c_str());
    m_f.attempt_failed(r, this, m_server);
    return;
  }
  const uint16_t rc = r.m_result.reply.rcode;
  r.m_result.last_rcode = rc;
  if (rc != dns::rcode::NOERROR && rc != dns::rcode::NXDOMAIN) {
    ++m_f.m_metrics.upstream_errors;
    LOG_DEBUG("upstream %s: rcode %u", m_addr.str().c_str(), rc);
    m_f.attempt_failed(r, this, m_server);
    return;
  }
  m_f.finish(r, this, rtt);
}

void Attempt::on_connect(uv_connect_t* req, int status) noexcept {
  auto* self = static_cast<Attempt*>(req->data);
  if (!self->m_r) return;
  if (status < 0) {
    ++self->m_f.m_metrics.upstream_errors;
    self->m_f.attempt_failed(*self->m_r, self, self->m_server);
    return;
  }
  const auto& q = self->m_r->m_query;
  self->m_frame_out.resize(q.size() + 2);
  dns::store16(self->m_frame_out.data(), static_cast<uint16_t>(q.size()));
  std::memcpy(self->m_frame_out.data() + 2, q.data(), q.size());
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(self->m_frame_out.data()),
                           static_cast<unsigned>(self->m_frame_out.size()));
  auto* stream = reinterpret_cast<uv_stream_t*>(&self->m_tcp_h);
  if (uv_write(&self->m_write, stream, &b, 1, [](uv_write_t*, int) {}) != 0 ||
      uv_read_start(stream, &Attempt::on_tcp_alloc, &Attempt::on_tcp_read) != 0) {
    self->m_f.attempt_failed(*self->m_r, self, self->m_server);
  }
}

void Attempt::on_tcp_alloc(uv_handle_t* h, size_t, uv_buf_t* b) noexcept {
  auto* self = static_cast<Attempt*>(owner(h));
  // One frame at most: 2 length bytes + 65535.
  if (self->m_buf.size() != 65537) self->m_buf.resize(65537);
  *b = uv_buf_init(reinterpret_cast<char*>(self->m_buf.data() + self->m_used),
                   static_cast<unsigned>(self->m_buf.size() - self->m_used));
}

void Attempt::on_tcp_read(uv_stream_t* s, ssize_t n, const uv_buf_t*) noexcept {
  auto* self = static_cast<Attempt*>(owner(reinterpret_cast<uv_handle_t*>(s)));
  if (!self->m_r || n == 0) return;
  if (n < 0) {
    ++self->m_f.m_metrics.upstream_errors;
    self->m_f.attempt_failed(*self->m_r, self, self->m_server);
    return;
  }
  self->m_used += static_cast<std::size_t>(n);
  if (self->m_used < 2) return;
  const std::size_t len = dns::load16(self->m_buf.data());
  if (self->m_used - 2 < len) {
    if (self->m_used == self->m_buf.size()) self->m_f.attempt_failed(*self->m_r, self, self->m_server);
    return;
  }
  self->handle_reply({self->m_buf.data() + 2, len});
}

}  // namespace hedge::upstream
