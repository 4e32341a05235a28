// upstream/forwarder: UDP and TCP tries, matching, retransmission within a
// budget, late replies, and health.
#include "upstream/forwarder.hpp"

#include <algorithm>
#include <cstring>

#include "dns/wire.hpp"
#include "net/uv_handle.hpp"
#include "util/crypto.hpp"
#include "util/log.hpp"

namespace hedge::upstream {

namespace {

// A header-only (or question-echoing) FORMERR with our id: some servers that
// do not know EDNS answer like this (RFC 6891 6.2.2), and check_reply()
// cannot match a reply without the question. On a connected socket with a
// fresh port the id is enough; a forged one only costs a retry without EDNS.
bool is_formerr_for(std::span<const uint8_t> reply, std::span<const uint8_t> sent) noexcept {
  if (reply.size() < dns::HEADER_SIZE || sent.size() < dns::HEADER_SIZE) return false;
  if (dns::load16(reply.data()) != dns::load16(sent.data())) return false;
  const uint16_t flags = dns::load16(reply.data() + 2);
  return (flags & dns::Flags::QR) && dns::Flags::opcode(flags) == 0 &&
         dns::Flags::rcode(flags) == dns::rcode::FORMERR;
}

}  // namespace

// One try against one server, over UDP or TCP. Owns its socket, its timer and
// its copy of the query (its own id: a late reply is matched to its own try).
class Attempt final : public net::CloseGroup {
 public:
  // The server's address is copied: a reload may replace the server list
  // while this try is in flight (health bookkeeping looks it up by address).
  Attempt(Forwarder& f, Resolution& r, const util::SockAddr& addr, bool tcp)
      : m_f(f), m_r(&r), m_addr(addr), m_tcp(tcp) {}
  bool begin(uv_loop_t* loop, std::span<const uint8_t> query, uint16_t id, uint32_t timeout_ms) noexcept;
  // Stops the try; the Resolution is not told (it has been or will be).
  void abandon() noexcept {
    m_r = nullptr;
    if (m_timer.data) uv_timer_stop(&m_timer);
    if (m_sock_open)
      close_handle(m_tcp ? reinterpret_cast<uv_handle_t*>(&m_tcp_h) : reinterpret_cast<uv_handle_t*>(&m_udp));
    if (m_timer.data) close_handle(reinterpret_cast<uv_handle_t*>(&m_timer));
    release_if_done();
  }
  // The last wait of a question: listen for a late reply until `ms` passes.
  void rearm(uint32_t ms) noexcept {
    m_active = true;
    uv_timer_start(&m_timer, &Attempt::on_timeout, ms, 0);
  }
  const util::SockAddr& addr() const noexcept { return m_addr; }
  bool active() const noexcept { return m_active; }
  void deactivate() noexcept { m_active = false; }
  bool tcp() const noexcept { return m_tcp; }
  bool lost = false;    // its timeout passed once (counted against the server once)
  int64_t sent_ms = 0;  // when it went out (a failure of a try older than the last answer is stale)

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
  util::SockAddr m_addr;
  bool m_tcp;
  bool m_sock_open = false;
  bool m_active = true;  // its timer decides when the next try goes out
  uv_timer_t m_timer{};
  uv_udp_t m_udp{};
  uv_tcp_t m_tcp_h{};
  uv_connect_t m_connect{};
  uv_write_t m_write{};
  int64_t m_sent_ms = 0;
  std::vector<uint8_t> m_query;  // as sent (TCP: with the 2-byte length in front)
  std::vector<uint8_t> m_buf;    // TCP: the frame being read
  std::size_t m_used = 0;        // TCP: bytes of m_buf filled

  std::span<const uint8_t> query() const noexcept {
    return m_tcp ? std::span<const uint8_t>(m_query).subspan(2) : std::span<const uint8_t>(m_query);
  }
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
    st.rtt.reset(s.timeout_ms);
    for (const auto& old : m_servers)
      if (old.addr.same(addr.sa())) st = old;
    st.rtt.set_initial(s.timeout_ms);
    next.push_back(st);
  }
  // Tries in flight keep their own copy of the address; health bookkeeping
  // finds the server by address, so a changed list is safe.
  m_servers = std::move(next);
  m_settings = s;
}

void Forwarder::close() noexcept {
  auto attempts = std::move(m_attempts);
  m_attempts.clear();
  for (Attempt* a : attempts) a->abandon();
}

bool Forwarder::strip_edns(std::vector<uint8_t>& q) noexcept {
  // Our queries (dns::write_upstream_query) end with a bare OPT record:
  // root name, TYPE 41, CLASS, TTL, RDLENGTH 0 = 11 bytes, ARCOUNT 1.
  constexpr std::size_t kOpt = 11;
  if (q.size() < dns::HEADER_SIZE + kOpt || dns::load16(q.data() + 10) != 1) return false;
  const uint8_t* opt = q.data() + q.size() - kOpt;
  if (opt[0] != 0 || dns::load16(opt + 1) != dns::type::OPT || dns::load16(opt + 9) != 0) return false;
  q.resize(q.size() - kOpt);
  dns::store16(q.data() + 10, 0);
  return true;
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
  // Prefer servers this resolution has not tried, healthy ones first, then
  // the one expected to answer soonest (smallest retransmit timeout).
  auto better = [&](std::size_t a, std::size_t b) {
    if (b == SIZE_MAX) return true;
    const bool ta = r.m_tried_mask & (1ull << (a % 64)), tb = r.m_tried_mask & (1ull << (b % 64));
    if (ta != tb) return !ta;
    const auto &ha = m_servers[a].health, &hb = m_servers[b].health;
    const bool oka = !ha.backed_off(now), okb = !hb.backed_off(now);
    if (oka != okb) return oka;
    if (!oka) return ha.backoff_until() < hb.backoff_until();
    return m_servers[a].rtt.rto() < m_servers[b].rtt.rto();
  };
  // A server that refused this question (REFUSED, NOTIMP) is not asked it
  // again (RFC 1034 5.3.3: a server error deletes the server from the
  // list): the same answer would come back, and an upstream that rate-limits
  // its error replies (nsd's RRL) starts dropping them. SIZE_MAX: none left.
  for (std::size_t i = 0; i < m_servers.size(); ++i)
    if (!(r.m_refused_mask & (1ull << (i % 64))) && better(i, best)) best = i;
  return best;
}

int64_t Forwarder::remaining(const Resolution& r) const noexcept {
  return r.m_deadline_ms - net::now_ms(m_loop);
}

void Forwarder::start(Resolution& r, std::span<const uint8_t> query) noexcept {
  r.m_query.assign(query.begin(), query.end());
  r.m_open.clear();
  r.m_tries = 0;
  r.m_tried_mask = 0;
  r.m_refused_mask = 0;
  r.m_no_edns = false;
  r.m_result = Result{};
  r.m_started_ms = net::now_ms(m_loop);
  r.m_deadline_ms = r.m_started_ms + std::max<uint32_t>(m_settings.budget_ms, 1);
  next_try(r);
}

bool Forwarder::launch(Resolution& r, std::size_t server, bool tcp, uint32_t timeout_ms) noexcept {
  auto* a = new Attempt(*this, r, m_servers[server].addr, tcp);
  if (!a->begin(m_loop, r.m_query, random_id(), std::max<uint32_t>(timeout_ms, 1))) return false;
  m_attempts.insert(a);
  r.m_open.push_back(a);
  ++m_metrics.upstream_queries;
  return true;
}

void Forwarder::next_try(Resolution& r) noexcept {
  while (!m_servers.empty() && r.m_tries < m_settings.attempts) {
    const int64_t left = remaining(r);
    if (left <= 0) break;
    const std::size_t s = pick_server(r);
    if (s == SIZE_MAX) break;  // every server refused this question
    ++r.m_tries;
    r.m_tried_mask |= 1ull << (s % 64);
    // The last try allowed waits for whatever is left of the budget.
    const bool last = r.m_tries >= m_settings.attempts;
    // Try k of this question waits 2^(k-1) RTOs (RFC 6298 5.5, per question):
    // a reply lost for this question does not make every other question wait.
    const int64_t rto = int64_t{m_servers[s].rtt.rto()} << std::min<uint32_t>(r.m_tries - 1, 4);
    const auto wait = static_cast<uint32_t>(last ? left : std::min(rto, left));
    if (launch(r, s, false, wait)) return;
    mark_failure(m_servers[s].addr, false);
  }
  // No new try: an earlier one may still answer late, within the budget.
  const int64_t left = remaining(r);
  if (left > 0 && !r.m_open.empty()) {
    r.m_open.back()->rearm(static_cast<uint32_t>(left));
    return;
  }
  complete(r);
}

std::size_t Forwarder::index_of(const util::SockAddr& a) const noexcept {
  for (std::size_t i = 0; i < m_servers.size(); ++i)
    if (m_servers[i].addr.same(a.sa())) return i;
  return SIZE_MAX;
}

uint32_t Forwarder::rto_of(const util::SockAddr& a) const noexcept {
  const std::size_t s = index_of(a);
  return s == SIZE_MAX ? m_settings.timeout_ms : m_servers[s].rtt.rto();
}

void Forwarder::mark_failure(const util::SockAddr& a, bool timed_out, int64_t sent_ms) noexcept {
  const std::size_t s = index_of(a);
  if (s == SIZE_MAX) return;  // removed by a reload meanwhile
  auto& st = m_servers[s];
  if (timed_out) st.rtt.lost();
  const int64_t now = net::now_ms(m_loop);
  if (st.health.failed(now, sent_ms)) {  // INT64_MAX (no try): always news
    LOG_WARN("upstream %s: %u failures in a row, backing off for %lld ms", st.addr.str().c_str(),
             st.health.consecutive_failures(), static_cast<long long>(st.health.backoff_until() - now));
  }
}

void Forwarder::mark_success(const util::SockAddr& a, uint32_t rtt_ms) noexcept {
  const std::size_t s = index_of(a);
  if (s == SIZE_MAX) return;
  auto& st = m_servers[s];
  if (st.health.answered(net::now_ms(m_loop)))
    LOG_INFO("upstream %s: answering again", st.addr.str().c_str());
  st.rtt.observe(rtt_ms);
}

void Forwarder::drop(Resolution& r, Attempt* a) noexcept {
  r.m_open.erase(std::remove(r.m_open.begin(), r.m_open.end(), a), r.m_open.end());
  m_attempts.erase(a);
  a->abandon();
}

void Forwarder::complete(Resolution& r) noexcept {
  for (Attempt* a : r.m_open) {
    m_attempts.erase(a);
    a->abandon();
  }
  r.m_open.clear();
  r.m_result.outcome = Outcome::failed;
  r.on_done(std::move(r.m_result));
}

void Forwarder::attempt_failed(Resolution& r, Attempt* a, Fail why) noexcept {
  const bool was_active = a->active();
  if (why == Fail::timeout) {
    a->deactivate();
    if (!a->lost) {
      a->lost = true;
      ++m_metrics.upstream_timeouts;
      mark_failure(a->addr(), true, a->sent_ms);
    }
    // A UDP try keeps listening: its reply may only be late. (A TCP try is
    // a connection held open; it is closed.)
    if (a->tcp()) drop(r, a);
  } else {
    if (!a->lost) mark_failure(a->addr(), false, a->sent_ms);
    drop(r, a);
  }
  // Only the try whose timer was running decides what happens next; a late
  // try failing changes nothing.
  if (was_active) next_try(r);
}

void Forwarder::restart_on(Resolution& r, Attempt* a, bool tcp) noexcept {
  const util::SockAddr addr = a->addr();
  const bool lost = a->lost;
  // Every other try of this question would say the same (TC, or FORMERR).
  for (Attempt* o : r.m_open) {
    m_attempts.erase(o);
    o->abandon();
  }
  r.m_open.clear();
  const int64_t left = remaining(r);
  const std::size_t s = index_of(addr);
  if (left > 0 && s != SIZE_MAX) {
    const uint32_t rto = m_servers[s].rtt.rto();
    // TCP: a connection, then the question (2 round trips at least).
    const int64_t want = tcp ? std::max<int64_t>(int64_t{2} * rto, 1000) : rto;
    if (launch(r, s, tcp, static_cast<uint32_t>(std::min(left, want)))) return;
  }
  if (!lost) mark_failure(addr, false);
  next_try(r);
}

void Forwarder::finish(Resolution& r, Attempt* a, uint32_t rtt_ms) noexcept {
  mark_success(a->addr(), rtt_ms);
  for (Attempt* o : r.m_open) {
    m_attempts.erase(o);
    o->abandon();
  }
  r.m_open.clear();
  m_metrics.observe_latency_us(static_cast<uint64_t>(net::now_ms(m_loop) - r.m_started_ms) * 1000);
  r.m_result.outcome = Outcome::answer;
  r.on_done(std::move(r.m_result));
}

bool Attempt::begin(uv_loop_t* loop, std::span<const uint8_t> query, uint16_t id,
                    uint32_t timeout_ms) noexcept {
  const auto& addr = m_addr;  // copied at construction
  sent_ms = net::now_ms(loop);
  if (uv_timer_init(loop, &m_timer) != 0) {
    release_if_done();
    return false;
  }
  own(reinterpret_cast<uv_handle_t*>(&m_timer));
  m_sent_ms = net::now_ms(loop);
  const std::size_t off = m_tcp ? 2 : 0;
  m_query.resize(query.size() + off);
  if (m_tcp) dns::store16(m_query.data(), static_cast<uint16_t>(query.size()));
  std::memcpy(m_query.data() + off, query.data(), query.size());
  dns::store16(m_query.data() + off, id);
  if (!m_tcp) {
    if (uv_udp_init(loop, &m_udp) != 0) goto fail;
    own(reinterpret_cast<uv_handle_t*>(&m_udp));
    m_sock_open = true;
    // Connected UDP: the kernel delivers only datagrams from the server's
    // address and port (and reports ICMP errors); the port we send from is a
    // fresh random one.
    if (uv_udp_connect(&m_udp, addr.sa()) != 0) goto fail;
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(m_query.data()), static_cast<unsigned>(m_query.size()));
    if (uv_udp_try_send(&m_udp, &b, 1, nullptr) < 0) goto fail;
    if (uv_udp_recv_start(&m_udp, &Attempt::on_udp_alloc, &Attempt::on_udp_recv) != 0) goto fail;
  } else {
    if (uv_tcp_init(loop, &m_tcp_h) != 0) goto fail;
    own(reinterpret_cast<uv_handle_t*>(&m_tcp_h));
    m_sock_open = true;
    m_connect.data = this;
    if (uv_tcp_connect(&m_connect, &m_tcp_h, addr.sa(), &Attempt::on_connect) != 0) goto fail;
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
  LOG_DEBUG("upstream %s: no reply yet (try %u)", self->m_addr.str().c_str(), self->m_r->m_tries);
  self->m_f.attempt_failed(*self->m_r, self, Forwarder::Fail::timeout);
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
  if (!self->m_r || n == 0) return;
  if (n < 0) {
    // An error comes without an address. On a connected socket it is the
    // server's ICMP answer (port or host unreachable): it is not there, so
    // move on now instead of waiting out the timeout.
    ++self->m_f.m_metrics.upstream_errors;
    LOG_DEBUG("upstream %s: %s", self->m_addr.str().c_str(), uv_strerror(static_cast<int>(n)));
    self->m_f.attempt_failed(*self->m_r, self, Forwarder::Fail::error);
    return;
  }
  if (!addr) return;
  if ((flags & UV_UDP_PARTIAL) || !self->m_addr.same(addr)) {
    ++self->m_f.m_metrics.upstream_mismatched;
    return;
  }
  self->handle_reply({reinterpret_cast<const uint8_t*>(b->base), static_cast<std::size_t>(n)});
}

void Attempt::handle_reply(std::span<const uint8_t> reply) noexcept {
  Resolution& r = *m_r;
  Forwarder& f = m_f;
  const std::span<const uint8_t> sent = query();
  if (!r.m_no_edns && is_formerr_for(reply, sent) && dns::load16(sent.data() + 10) > 0) {
    // RFC 6891 6.2.2: a server that does not know EDNS answers FORMERR; ask
    // it once more without the OPT record.
    r.m_result.any_reply = true;
    if (Forwarder::strip_edns(r.m_query)) {
      r.m_no_edns = true;
      ++f.m_metrics.upstream_noedns_retries;
      LOG_DEBUG("upstream %s: FORMERR to EDNS, retrying without EDNS", m_addr.str().c_str());
      f.restart_on(r, this, m_tcp);
      return;
    }
  }
  switch (dns::check_reply(reply, sent)) {
    case dns::ReplyCheck::mismatch:
      // Not ours (spoofed or stale): keep waiting for the real one (UDP);
      // over TCP the stream is out of step, so that server failed.
      ++f.m_metrics.upstream_mismatched;
      if (m_tcp) {
        f.attempt_failed(r, this, Forwarder::Fail::error);
        return;
      }
      LOG_DEBUG("upstream %s: ignored a reply that does not match our id/question", m_addr.str().c_str());
      return;
    case dns::ReplyCheck::truncated:
      if (m_tcp) {
        // TC over TCP: the server could not send it all; this try failed.
        f.attempt_failed(r, this, Forwarder::Fail::error);
        return;
      }
      ++f.m_metrics.upstream_tcp_retries;
      f.restart_on(r, this, true);
      return;
    case dns::ReplyCheck::malformed:
    case dns::ReplyCheck::ok: break;
  }
  r.m_result.any_reply = true;
  const uint32_t rtt = static_cast<uint32_t>(net::now_ms(f.m_loop) - m_sent_ms);
  if (!dns::scrub_reply(reply, f.m_settings.ttl, r.m_result.reply)) {
    ++f.m_metrics.upstream_errors;
    LOG_WARN("upstream %s: malformed reply", m_addr.str().c_str());
    f.attempt_failed(r, this, Forwarder::Fail::error);
    return;
  }
  const uint16_t rc = r.m_result.reply.rcode;
  r.m_result.last_rcode = rc;
  if (rc != dns::rcode::NOERROR && rc != dns::rcode::NXDOMAIN) {
    ++f.m_metrics.upstream_errors;
    LOG_DEBUG("upstream %s: rcode %u", m_addr.str().c_str(), rc);
    if (rc == dns::rcode::REFUSED || rc == dns::rcode::NOTIMP)
      if (const std::size_t s = f.index_of(m_addr); s != SIZE_MAX) r.m_refused_mask |= 1ull << (s % 64);
    f.attempt_failed(r, this, Forwarder::Fail::error);
    return;
  }
  f.finish(r, this, rtt);
}

void Attempt::on_connect(uv_connect_t* req, int status) noexcept {
  auto* self = static_cast<Attempt*>(req->data);
  if (!self->m_r) return;
  if (status < 0) {
    ++self->m_f.m_metrics.upstream_errors;
    self->m_f.attempt_failed(*self->m_r, self, Forwarder::Fail::error);
    return;
  }
  uv_buf_t b =
      uv_buf_init(reinterpret_cast<char*>(self->m_query.data()), static_cast<unsigned>(self->m_query.size()));
  auto* stream = reinterpret_cast<uv_stream_t*>(&self->m_tcp_h);
  if (uv_write(&self->m_write, stream, &b, 1, [](uv_write_t*, int) {}) != 0 ||
      uv_read_start(stream, &Attempt::on_tcp_alloc, &Attempt::on_tcp_read) != 0) {
    self->m_f.attempt_failed(*self->m_r, self, Forwarder::Fail::error);
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
    self->m_f.attempt_failed(*self->m_r, self, Forwarder::Fail::error);
    return;
  }
  self->m_used += static_cast<std::size_t>(n);
  if (self->m_used < 2) return;
  const std::size_t len = dns::load16(self->m_buf.data());
  if (self->m_used - 2 < len) {
    if (self->m_used == self->m_buf.size())
      self->m_f.attempt_failed(*self->m_r, self, Forwarder::Fail::error);
    return;
  }
  self->handle_reply({self->m_buf.data() + 2, len});
}

}  // namespace hedge::upstream
