// pipeline: the stage order of every query, written once. Each row is one
// function below (Pipeline::stage_*), called in this order by handle():
//
//   parse     strict; packets too broken to answer are dropped here and never go further
//   acl       clients outside allow_clients get REFUSED before any work is done for them
//   ratelimit one device cannot starve the rest (token bucket per address)
//   reject    questions we do not serve: FORMERR / NOTIMP / BADVERS / REFUSED
//   classify  the client's group (CIDR, or the address it asked on)
//   decide    pure verdict (policy/decide.hpp: illegal tier, exceptions, allowlist,
//             bypass defences, safe search, categories with schedules): runs BEFORE the
//             cache, so one group's verdict never leaks to another through a shared answer
//   lists     a bundle damaged under us (truncated/overwritten file, SIGBUS caught) ->
//             SERVFAIL + EDE 14, never an unfiltered answer (also after every chain check)
//   block     synthesized answer (block page / NODATA / NXDOMAIN) with an Extended DNS Error
//   rewrite   safe search: CNAME to the enforced host, its records fetched like any name
//   cache     upstream answers only; its CNAME chain is re-checked on every hit (cloaking)
//   upstream  one resolution per distinct question (UpstreamPort); waiters are answered together
//   check     an answer whose CNAME chain reaches a blocked name is blocked too
//             (policy::decide_chain, on cache hits, fresh and stale answers)
//   respond   the client's id, letter case and EDNS size; TC=1 when it does not fit
//
// The clocks come from Deps::clock (read once per query), so the whole
// pipeline runs in tests with a fake clock and a fake upstream.
#include "pipeline.hpp"

#include <cstdio>
#include <cstring>

#include "dns/parse.hpp"
#include "dns/synthesize.hpp"
#include "dns/wire.hpp"
#include "policy/decide.hpp"
#include "util/log.hpp"

namespace hedge {

using util::Result;

namespace {

// EXTRA-TEXT of the EDE: the categories (or the rule) for school policy;
// nothing that names an illegal-tier list (never readable from the network).
dns::EdeInfo ede_for(const policy::Verdict& v, const lists::Bundle& b, char* buf, std::size_t cap) noexcept {
  if (v.illegal || v.confidential) return {dns::ede::CENSORED, "illegal content (blocked by law)"};
  std::size_t n = 0;
  auto put = [&](std::string_view s) {
    const std::size_t k = std::min(s.size(), cap - n);
    std::memcpy(buf + n, s.data(), k);
    n += k;
  };
  put("blocked: ");
  bool first = true;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!(v.categories & (uint64_t{1} << bit))) continue;
    const lists::Category* c = b.category_by_bit(bit);
    if (!c || c->confidential) continue;
    if (!first) put(", ");
    put(c->id);
    first = false;
  }
  if (first) put(v.reason);  // no category: allowlist mode, a deny exception, ...
  return {v.action == policy::Action::block ? dns::ede::BLOCKED : dns::ede::FILTERED, {buf, n}};
}

bool blocks(policy::Action a) noexcept {
  return a == policy::Action::block || a == policy::Action::nxdomain || a == policy::Action::nodata;
}

dns::BlockKind kind_of(policy::Action a) noexcept {
  switch (a) {
    case policy::Action::nxdomain: return dns::BlockKind::nxdomain;
    case policy::Action::nodata: return dns::BlockKind::nodata;
    default: return dns::BlockKind::block_page;
  }
}

void count_block(util::Metrics& mx, const policy::Verdict& v) noexcept {
  mx.count(v.illegal || v.confidential ? Result::blocked_illegal : Result::blocked);
}

// Writes the answer for a blocking verdict. `local` is the address the query
// arrived on (block.ipv4/ipv6 = "self" answer with it).
std::size_t answer_block(const dns::ParsedQuery& q, const policy::Verdict& v, int owner_label,
                         const Snapshot& s, const net::Origin& o, uint8_t* out, std::size_t cap) noexcept {
  char text[200];
  const uint32_t ttl = v.ttl_cap && v.ttl_cap < s.block.ttl ? v.ttl_cap : 0;
  const dns::BlockSettings b = dns::resolve_self(s.block, o.local.family() ? o.local.sa() : nullptr);
  return dns::write_block(q, kind_of(v.action), b, owner_label, ttl, ede_for(v, *s.bundle, text, sizeof text),
                          out, cap);
}

bool client_allowed(const config::ServerConfig& s, const sockaddr* peer) noexcept {
  for (const auto& c : s.allow_clients)
    if (c.contains(peer)) return true;
  return false;
}

}  // namespace

// A client waiting for an upstream answer: enough to rebuild its question.
struct Waiter {
  net::Origin origin;
  uint16_t id = 0, flags = 0;
  dns::Edns edns;
  uint16_t qwire_len = 0, qname_len = 0;
  std::array<uint8_t, 260> qwire{};
  std::shared_ptr<const Snapshot> snap;  // keeps `group` and `rewrite_to` alive
  const policy::Group* group = nullptr;
  uint32_t ttl_cap = 0;
  std::string_view rewrite_to;  // safe search: answer CNAME -> rewrite_to + its records

  void capture(const dns::ParsedQuery& q) noexcept {
    id = q.id;
    flags = q.flags;
    edns = q.edns;
    qwire_len = static_cast<uint16_t>(q.qwire.size());
    qname_len = static_cast<uint16_t>(q.qname_len);
    std::memcpy(qwire.data(), q.qwire.data(), q.qwire.size());
  }
  bool rebuild(dns::ParsedQuery& q) const noexcept {
    q.id = id;
    q.flags = flags;
    q.edns = edns;
    q.qwire = {qwire.data(), qwire_len};
    q.qname_len = qname_len;
    q.qtype = dns::load16(qwire.data() + qname_len);
    q.qclass = dns::load16(qwire.data() + qname_len + 2);
    q.question_ok = true;
    return q.name.assign_wire({qwire.data(), qname_len});
  }
};

class Pending final : public upstream::Resolution {
 public:
  Pending(Pipeline& p, std::string_view k) : m_pipeline(p), key(k) {}
  void on_done(upstream::Result&& r) noexcept override { m_pipeline.on_upstream_done(*this, std::move(r)); }
  Pipeline& m_pipeline;
  std::string key;
  std::vector<Waiter> waiters;
};

Pipeline::Pipeline(Deps d) : m_d(std::move(d)) {}
Pipeline::~Pipeline() = default;

void Pipeline::abandon_pending() noexcept {
  m_pending.clear();
}

std::size_t Pipeline::limit_for(const net::Origin& o, const dns::ParsedQuery& q) const noexcept {
  if (o.transport == net::Transport::tcp) return 65535;
  return dns::reply_limit(q, m_snap->config.server.max_udp_size);
}

// One query on its way through the stages.
struct Pipeline::Query {
  // The buffers are written before they are read; not zeroing them saves ~600 bytes of stores per query.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init,hicpp-member-init)
  Query(const Snapshot& s, const net::Origin& origin, std::span<const uint8_t> p, uint8_t* o_buf,
        std::size_t o_cap, Clock c) noexcept
      : snap(s), o(origin), pkt(p), out(o_buf), cap(o_cap), clock(c) {}
  const Snapshot& snap;
  const net::Origin& o;
  std::span<const uint8_t> pkt;
  uint8_t* out;
  std::size_t cap;
  Clock clock;
  dns::ParsedQuery q;  // QueryName inside: a few hundred bytes of stack, no heap
  dns::ParseStatus status = dns::ParseStatus::ok;
  const policy::Group* group = nullptr;
  policy::Verdict v;
  // Safe search: the question we look up and forward (the target's), else &q.
  const dns::ParsedQuery* fq = nullptr;
  dns::ParsedQuery tq;
  uint8_t target_q[300];
  uint8_t keybuf[cache::kKeyMax];
  std::string_view key;
};

std::size_t Pipeline::handle(std::span<const uint8_t> pkt, const net::Origin& o, uint8_t* out,
                             std::size_t cap) noexcept {
  Query x(*m_snap, o, pkt, out, cap, m_d.clock());
  if (auto n = stage_parse(x)) return *n;
  if (auto n = stage_acl(x)) return *n;
  if (auto n = stage_ratelimit(x)) return *n;
  if (auto n = stage_reject(x)) return *n;
  stage_classify(x);
  if (auto n = stage_decide_block(x)) return *n;
  if (auto n = stage_rewrite(x)) return *n;
  if (auto n = stage_cache(x)) return *n;
  return stage_upstream(x);
}

std::optional<std::size_t> Pipeline::stage_parse(Query& x) noexcept {
  x.status = dns::parse_query(x.pkt, x.q);
  if (x.status != dns::ParseStatus::drop) return std::nullopt;
  m_d.metrics.count(Result::dropped);
  return 0;
}

std::optional<std::size_t> Pipeline::stage_acl(Query& x) noexcept {
  if (client_allowed(x.snap.config.server, x.o.peer.sa())) return std::nullopt;
  m_d.metrics.count(Result::refused);
  return dns::write_error(x.q, dns::rcode::REFUSED, {dns::ede::PROHIBITED, "client not allowed"}, x.out,
                          x.cap);
}

std::optional<std::size_t> Pipeline::stage_ratelimit(Query& x) noexcept {
  if (m_d.limiter.allow(x.o.peer.sa(), x.clock.mono_ms)) return std::nullopt;
  m_d.metrics.count(Result::ratelimited);
  LOG_WARN("client %s is over its rate limit: dropping queries", x.o.peer.ip_str().c_str());
  return 0;
}

std::optional<std::size_t> Pipeline::stage_reject(Query& x) noexcept {
  util::Metrics& mx = m_d.metrics;
  switch (x.status) {
    case dns::ParseStatus::ok: return std::nullopt;
    case dns::ParseStatus::notimp:
      mx.count(Result::notimp);
      return dns::write_error(x.q, dns::rcode::NOTIMP, {}, x.out, x.cap);
    case dns::ParseStatus::badvers:
      mx.count(Result::formerr);
      return dns::write_error(x.q, dns::rcode::BADVERS, {}, x.out, x.cap);
    case dns::ParseStatus::refused:
      mx.count(Result::refused);
      return dns::write_error(x.q, dns::rcode::REFUSED,
                              {dns::ede::PROHIBITED, "query type or class not served"}, x.out, x.cap);
    case dns::ParseStatus::formerr:
    case dns::ParseStatus::drop: break;
  }
  mx.count(Result::formerr);
  return dns::write_error(x.q, dns::rcode::FORMERR, {}, x.out, x.cap);
}

void Pipeline::stage_classify(Query& x) noexcept {
  x.group = &policy::classify(*x.snap.policy, x.o.peer.sa(), x.o.local.family() ? x.o.local.sa() : nullptr);
}

std::optional<std::size_t> Pipeline::stage_decide_block(Query& x) noexcept {
  x.v = policy::decide(x.q.name, x.q.qtype, *x.group, *x.snap.policy, x.clock.wall_s);
  if (x.snap.bundle->broken()) return lists_broken(x.snap, x.q, x.out, x.cap);
  if (!blocks(x.v.action)) return std::nullopt;
  count_block(m_d.metrics, x.v);
  if (m_d.monitor)
    m_d.monitor->blocked(x.o.peer, x.q.name, x.q.qtype, *x.group, x.v, monitor::rule_of(x.v), x.clock.wall_s,
                         x.snap.policy);
  // The SOA of a NODATA block is owned by the list entry, except for the
  // illegal tier: its entries are secret, so the question owns it.
  const int owner = x.v.illegal || x.v.confidential ? 0 : x.v.matched_label;
  const std::size_t n = answer_block(x.q, x.v, owner, x.snap, x.o, x.out, x.cap);
  return n > limit_for(x.o, x.q) ? dns::write_truncated(x.q, dns::rcode::NOERROR, x.out, x.cap) : n;
}

// safe search: the question is answered with a CNAME to the target, whose
// records come through the same cache and upstream path as any name.
std::optional<std::size_t> Pipeline::stage_rewrite(Query& x) noexcept {
  x.fq = &x.q;
  if (x.v.action != policy::Action::rewrite) return std::nullopt;
  dns::Writer w(x.target_q, sizeof x.target_q);
  w.text_name(x.v.rewrite_to);
  const std::size_t name_len = w.size();
  w.u16(x.q.qtype);
  w.u16(dns::CLASS_IN);
  dns::ParsedQuery& tq = x.tq;
  if (!w.ok() || !tq.name.assign_wire({x.target_q, name_len})) {
    m_d.metrics.count(Result::servfail);
    return dns::write_error(x.q, dns::rcode::SERVFAIL, {}, x.out, x.cap);
  }
  tq.id = x.q.id;
  tq.flags = x.q.flags;
  tq.edns = x.q.edns;
  tq.qwire = {x.target_q, w.size()};
  tq.qname_len = name_len;
  tq.qtype = x.q.qtype;
  tq.qclass = dns::CLASS_IN;
  tq.question_ok = true;
  x.fq = &tq;
  return std::nullopt;
}

std::optional<std::size_t> Pipeline::stage_cache(Query& x) noexcept {
  util::Metrics& mx = m_d.metrics;
  const dns::ParsedQuery& q = x.q;
  x.key =
      cache::make_key(x.fq->qwire, x.fq->qname_len, q.edns.do_bit, (q.flags & dns::Flags::CD) != 0, x.keybuf);
  const cache::Hit hit = m_d.cache.lookup(x.key, x.clock.mono_ms, false);
  if (!hit.entry) {
    ++mx.cache_misses;
    return std::nullopt;
  }
  // check: a cached CNAME chain may reach a name this group may not see.
  policy::Verdict cv;
  const bool chain_hit =
      policy::decide_chain(hit.entry->chain, q.qtype, *x.group, *x.snap.policy, x.clock.wall_s, cv);
  if (x.snap.bundle->broken()) return lists_broken(x.snap, q, x.out, x.cap);
  if (chain_hit) {
    count_block(mx, cv);
    if (m_d.monitor)
      m_d.monitor->blocked(x.o.peer, q.name, q.qtype, *x.group, cv, "cname", x.clock.wall_s, x.snap.policy);
    const std::size_t n = answer_block(q, cv, -1, x.snap, x.o, x.out, x.cap);
    return n > limit_for(x.o, q) ? dns::write_truncated(q, dns::rcode::NOERROR, x.out, x.cap) : n;
  }
  ++mx.cache_hits;
  if (m_d.monitor) m_d.monitor->allowed(x.o.peer, q.name, q.qtype, *x.group, x.clock.wall_s, x.snap.policy);
  const dns::StoredAnswer sa{hit.entry->wire, hit.entry->ttl_offsets};
  if (x.fq != &q) {
    mx.count(Result::rewritten);
    const std::size_t n =
        dns::write_rewrite(q, x.v.rewrite_to, sa, hit.age, x.v.ttl_cap, limit_for(x.o, q), x.out, x.cap);
    // Too big to build here (the UDP slot): TC=1 sends the client to TCP.
    return n ? n : dns::write_truncated(q, dns::rcode::NOERROR, x.out, x.cap);
  }
  mx.count(Result::allowed_cache);
  return dns::write_from_stored(q, sa, hit.age, x.v.ttl_cap, 0, {}, limit_for(x.o, q), x.out, x.cap);
}

// upstream (shared by identical questions)
std::size_t Pipeline::stage_upstream(Query& x) noexcept {
  util::Metrics& mx = m_d.metrics;
  const dns::ParsedQuery& q = x.q;
  Waiter w;
  w.origin = x.o;
  w.capture(q);
  w.snap = m_snap;
  w.group = x.group;
  w.ttl_cap = x.v.ttl_cap;
  if (x.fq != &q) w.rewrite_to = x.v.rewrite_to;
  if (auto it = m_pending.find(x.key); it != m_pending.end()) {
    if (it->second->waiters.size() >= kMaxWaiters) {
      // One slow name must not collect unbounded waiters (or reflect a
      // spoofed flood later): beyond the cap, fail fast.
      mx.count(Result::servfail);
      return dns::write_error(q, dns::rcode::SERVFAIL,
                              {dns::ede::NO_REACHABLE_AUTHORITY, "too many waiting clients"}, x.out, x.cap);
    }
    ++mx.upstream_shared;
    it->second->waiters.push_back(std::move(w));
    return net::kDeferred;
  }
  if (m_pending.size() >= x.snap.config.upstream.max_inflight) {
    mx.count(Result::servfail);
    LOG_WARN("%zu questions already waiting for upstream: answering SERVFAIL", m_pending.size());
    return dns::write_error(q, dns::rcode::SERVFAIL,
                            {dns::ede::NO_REACHABLE_AUTHORITY, "too many queries in flight"}, x.out, x.cap);
  }
  auto p = std::make_unique<Pending>(*this, x.key);
  p->waiters.push_back(std::move(w));
  uint8_t query[600];
  const std::size_t qlen = dns::write_upstream_query(*x.fq, 0, query, sizeof query);
  Pending* raw = p.get();
  m_pending.emplace(std::string_view(raw->key), std::move(p));
  m_d.upstream.start(*raw, {query, qlen});  // may complete synchronously (no server left)
  return net::kDeferred;
}

void Pipeline::on_upstream_done(Pending& p, upstream::Result&& r) noexcept {
  // Take ownership out of the table first: nothing below may find it again.
  auto it = m_pending.find(std::string_view(p.key));
  if (it == m_pending.end()) return;
  std::unique_ptr<Pending> owned = std::move(it->second);
  m_pending.erase(it);

  static uint8_t out[65536];
  const Clock clock = m_d.clock();
  for (const Waiter& w : owned->waiters) {
    if (const auto n = answer_waiter(*owned, w, r, clock, out, sizeof out))
      m_d.responder.deliver(w.origin, {out, *n});
  }
  if (r.outcome == upstream::Outcome::answer) {
    ++m_d.metrics.cache_inserts;
    m_d.cache.insert(owned->key, std::move(r.reply), clock.mono_ms);
  } else {
    LOG_DEBUG("every upstream failed for a question (%zu clients waiting)", owned->waiters.size());
  }
}

// check + respond for one waiting client: the upstream's answer (its chain
// checked), a stale answer when every upstream failed, or SERVFAIL.
std::optional<std::size_t> Pipeline::answer_waiter(const Pending& p, const Waiter& w,
                                                   const upstream::Result& r, const Clock& clock,
                                                   uint8_t* out, std::size_t cap) noexcept {
  util::Metrics& mx = m_d.metrics;
  dns::ParsedQuery q;
  if (!w.rebuild(q)) return std::nullopt;  // nothing to answer with (never happens for a captured question)
  const Snapshot& snap = *w.snap;
  const policy::PolicySnapshot& pol = *snap.policy;
  const std::size_t limit = w.origin.transport == net::Transport::tcp
                                ? 65535
                                : dns::reply_limit(q, snap.config.server.max_udp_size);
  std::size_t n = 0;
  policy::Verdict cv;
  if (r.outcome == upstream::Outcome::answer) {
    const dns::StoredAnswer sa{r.reply.wire, r.reply.ttl_offsets};
    const bool chain_hit = policy::decide_chain(r.reply.chain, q.qtype, *w.group, pol, clock.wall_s, cv);
    if (snap.bundle->broken()) {
      n = lists_broken(snap, q, out, cap);
    } else if (chain_hit) {
      count_block(mx, cv);
      if (m_d.monitor)
        m_d.monitor->blocked(w.origin.peer, q.name, q.qtype, *w.group, cv, "cname", clock.wall_s,
                             snap.policy);
      n = answer_block(q, cv, -1, snap, w.origin, out, cap);
    } else if (!w.rewrite_to.empty()) {
      mx.count(Result::rewritten);
      n = dns::write_rewrite(q, w.rewrite_to, sa, 0, w.ttl_cap, limit, out, cap);
      if (n == 0) n = dns::write_truncated(q, dns::rcode::NOERROR, out, cap);
    } else {
      mx.count(Result::allowed_upstream);
      if (m_d.monitor)
        m_d.monitor->allowed(w.origin.peer, q.name, q.qtype, *w.group, clock.wall_s, snap.policy);
      n = dns::write_from_stored(q, sa, 0, w.ttl_cap, 0, {}, limit, out, cap);
    }
  } else if (snap.bundle->broken()) {
    n = lists_broken(snap, q, out, cap);
  } else if (const cache::Hit hit = m_d.cache.lookup(p.key, clock.mono_ms, true);
             hit.entry && policy::decide_chain(hit.entry->chain, q.qtype, *w.group, pol, clock.wall_s, cv)) {
    // A stale answer is checked like a fresh one (its chain may reach a blocked name).
    count_block(mx, cv);
    n = answer_block(q, cv, -1, snap, w.origin, out, cap);
  } else if (hit.entry) {
    // RFC 8767: every upstream failed; an expired answer is better than none.
    mx.count(Result::stale);
    const dns::StoredAnswer sa{hit.entry->wire, hit.entry->ttl_offsets};
    n = w.rewrite_to.empty()
            ? dns::write_from_stored(q, sa, hit.age, 30, hit.stale ? 30 : 0,
                                     {dns::ede::STALE_ANSWER, "upstream unreachable"}, limit, out, cap)
            : dns::write_rewrite(q, w.rewrite_to, sa, hit.age, 30, limit, out, cap);
  } else {
    mx.count(Result::servfail);
    n = dns::write_error(
        q, dns::rcode::SERVFAIL,
        {dns::ede::NO_REACHABLE_AUTHORITY,
         r.any_reply ? "upstream servers answered with an error" : "no upstream server answered"},
        out, cap);
  }
  if (n > limit) n = dns::write_truncated(q, dns::Flags::rcode(dns::load16(out + 2)), out, cap);
  return n;
}

std::size_t Pipeline::lists_broken(const Snapshot& s, const dns::ParsedQuery& q, uint8_t* out,
                                   std::size_t cap) noexcept {
  if (m_broken_seen != s.bundle.get()) {
    m_broken_seen = s.bundle.get();
    if (m_d.on_lists_broken) m_d.on_lists_broken(*s.bundle);
  }
  m_d.metrics.count(Result::servfail);
  return dns::write_error(
      q, dns::rcode::SERVFAIL,
      {dns::ede::NOT_READY, "blocklists damaged: filtering unavailable until a good bundle loads"}, out, cap);
}

}  // namespace hedge
