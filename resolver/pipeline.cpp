// pipeline: the stage order of every query, written once.
//
//   parse     strict; bad packets are answered FORMERR/NOTIMP or dropped and never go further
//   acl       clients outside allow_clients get REFUSED before any work is done for them
//   ratelimit one device cannot starve the rest (token bucket per address)
//   classify  the client's group (CIDR, or the address it asked on)
//   decide    pure verdict (policy/decide.hpp: illegal tier, exceptions, allowlist,
//             bypass defences, safe search, categories with schedules): runs BEFORE the
//             cache, so one group's verdict never leaks to another through a shared answer
//   block     synthesized answer (block page / NODATA / NXDOMAIN) with an Extended DNS Error
//   rewrite   safe search: CNAME to the enforced host, its records fetched like any name
//   cache     upstream answers only; its CNAME chain is re-checked on every hit (cloaking)
//   upstream  one resolution per distinct question; waiters are answered together
//   check     an answer whose CNAME chain reaches a blocked name is blocked too
//   respond   the client's id, letter case and EDNS size; TC=1 when it does not fit
#include "pipeline.hpp"

#include <cstdio>
#include <cstring>

#include "dns/parse.hpp"
#include "dns/synthesize.hpp"
#include "dns/wire.hpp"
#include "net/uv_handle.hpp"
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

// Writes the answer for a blocking verdict.
std::size_t answer_block(const dns::ParsedQuery& q, const policy::Verdict& v, int owner_label,
                         const Snapshot& s, uint8_t* out, std::size_t cap) noexcept {
  char text[200];
  const uint32_t ttl = v.ttl_cap && v.ttl_cap < s.block.ttl ? v.ttl_cap : 0;
  return dns::write_block(q, kind_of(v.action), s.block, owner_label, ttl,
                          ede_for(v, *s.bundle, text, sizeof text), out, cap);
}

// CNAME cloaking: the first name on an answer's chain the group may not reach.
bool chain_blocked(const std::vector<std::string>& chain, uint16_t qtype, const policy::Group& g,
                   const Snapshot& s, int64_t now, policy::Verdict& out) noexcept {
  for (const auto& target : chain) {
    dns::QueryName tn;
    if (!tn.assign_text(target)) continue;
    policy::Verdict v = policy::decide(tn, qtype, g, *s.policy, now);
    if (blocks(v.action)) {
      if (v.action != policy::Action::block)
        v.action = policy::Action::block;  // answer for the question, not the target
      out = v;
      return true;
    }
  }
  return false;
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

std::size_t Pipeline::handle(std::span<const uint8_t> pkt, const net::Origin& o, uint8_t* out,
                             std::size_t cap) noexcept {
  const Snapshot& snap = *m_snap;
  util::Metrics& mx = m_d.metrics;
  dns::ParsedQuery q;  // QueryName inside: a few hundred bytes of stack, no heap

  // parse
  const dns::ParseStatus st = dns::parse_query(pkt, q);
  if (st == dns::ParseStatus::drop) {
    mx.count(Result::dropped);
    return 0;
  }
  // acl
  if (!client_allowed(snap.config.server, o.peer.sa())) {
    mx.count(Result::refused);
    return dns::write_error(q, dns::rcode::REFUSED, {dns::ede::PROHIBITED, "client not allowed"}, out, cap);
  }
  // ratelimit
  if (!m_d.limiter.allow(o.peer.sa(), net::now_ms(m_d.loop))) {
    mx.count(Result::ratelimited);
    LOG_WARN("client %s is over its rate limit: dropping queries", o.peer.ip_str().c_str());
    return 0;
  }
  switch (st) {
    case dns::ParseStatus::ok: break;
    case dns::ParseStatus::notimp:
      mx.count(Result::notimp);
      return dns::write_error(q, dns::rcode::NOTIMP, {}, out, cap);
    case dns::ParseStatus::badvers:
      mx.count(Result::formerr);
      return dns::write_error(q, dns::rcode::BADVERS, {}, out, cap);
    case dns::ParseStatus::refused:
      mx.count(Result::refused);
      return dns::write_error(q, dns::rcode::REFUSED,
                              {dns::ede::PROHIBITED, "query type or class not served"}, out, cap);
    case dns::ParseStatus::formerr:
    case dns::ParseStatus::drop:
      mx.count(Result::formerr);
      return dns::write_error(q, dns::rcode::FORMERR, {}, out, cap);
  }

  // decide + block
  const int64_t now_s = m_d.policy_now();
  const policy::Group& group = policy::classify(*snap.policy, o.peer.sa(), o.local.family() ? o.local.sa() : nullptr);
  const policy::Verdict v = policy::decide(q.name, q.qtype, group, *snap.policy, now_s);
  if (blocks(v.action)) {
    count_block(mx, v);
    // The SOA of a NODATA block is owned by the list entry, except for the
    // illegal tier: its entries are secret, so the question owns it.
    const int owner = v.illegal || v.confidential ? 0 : v.matched_label;
    const std::size_t n = answer_block(q, v, owner, snap, out, cap);
    return n > limit_for(o, q) ? dns::write_truncated(q, dns::rcode::NOERROR, out, cap) : n;
  }

  // safe search: the question is answered with a CNAME to the target, whose
  // records come through the same cache and upstream path as any name.
  uint8_t target_q[300];
  dns::ParsedQuery tq;
  const dns::ParsedQuery* fq = &q;  // the question we look up and forward
  if (v.action == policy::Action::rewrite) {
    dns::Writer w(target_q, sizeof target_q);
    w.text_name(v.rewrite_to);
    const std::size_t name_len = w.size();
    w.u16(q.qtype);
    w.u16(dns::CLASS_IN);
    if (!w.ok() || !tq.name.assign_wire({target_q, name_len})) {
      mx.count(Result::servfail);
      return dns::write_error(q, dns::rcode::SERVFAIL, {}, out, cap);
    }
    tq.id = q.id;
    tq.flags = q.flags;
    tq.edns = q.edns;
    tq.qwire = {target_q, w.size()};
    tq.qname_len = name_len;
    tq.qtype = q.qtype;
    tq.qclass = dns::CLASS_IN;
    tq.question_ok = true;
    fq = &tq;
  }

  // cache
  uint8_t keybuf[cache::kKeyMax];
  const std::string_view key =
      cache::make_key(fq->qwire, fq->qname_len, q.edns.do_bit, (q.flags & dns::Flags::CD) != 0, keybuf);
  const int64_t now = net::now_ms(m_d.loop);
  if (const cache::Hit hit = m_d.cache.lookup(key, now, false); hit.entry) {
    // check: a cached CNAME chain may reach a name this group may not see.
    if (policy::Verdict cv; chain_blocked(hit.entry->chain, q.qtype, group, snap, now_s, cv)) {
      count_block(mx, cv);
      const std::size_t n = answer_block(q, cv, -1, snap, out, cap);
      return n > limit_for(o, q) ? dns::write_truncated(q, dns::rcode::NOERROR, out, cap) : n;
    }
    ++mx.cache_hits;
    const dns::StoredAnswer sa{hit.entry->wire, hit.entry->ttl_offsets};
    if (fq != &q) {
      mx.count(Result::rewritten);
      const std::size_t n =
          dns::write_rewrite(q, v.rewrite_to, sa, hit.age, v.ttl_cap, limit_for(o, q), out, cap);
      // Too big to build here (the UDP slot): TC=1 sends the client to TCP.
      return n ? n : dns::write_truncated(q, dns::rcode::NOERROR, out, cap);
    }
    mx.count(Result::allowed_cache);
    return dns::write_from_stored(q, sa, hit.age, v.ttl_cap, 0, {}, limit_for(o, q), out, cap);
  }
  ++mx.cache_misses;

  // upstream (shared by identical questions)
  Waiter w;
  w.origin = o;
  w.capture(q);
  w.snap = m_snap;
  w.group = &group;
  w.ttl_cap = v.ttl_cap;
  if (fq != &q) w.rewrite_to = v.rewrite_to;
  if (auto it = m_pending.find(key); it != m_pending.end()) {
    if (it->second->waiters.size() >= kMaxWaiters) {
      // One slow name must not collect unbounded waiters (or reflect a
      // spoofed flood later): beyond the cap, fail fast.
      mx.count(Result::servfail);
      return dns::write_error(q, dns::rcode::SERVFAIL,
                              {dns::ede::NO_REACHABLE_AUTHORITY, "too many waiting clients"}, out, cap);
    }
    ++mx.upstream_shared;
    it->second->waiters.push_back(std::move(w));
    return net::kDeferred;
  }
  if (m_pending.size() >= snap.config.upstream.max_inflight) {
    mx.count(Result::servfail);
    LOG_WARN("%zu questions already waiting for upstream: answering SERVFAIL", m_pending.size());
    return dns::write_error(q, dns::rcode::SERVFAIL,
                            {dns::ede::NO_REACHABLE_AUTHORITY, "too many queries in flight"}, out, cap);
  }
  auto p = std::make_unique<Pending>(*this, key);
  p->waiters.push_back(std::move(w));
  uint8_t query[600];
  const std::size_t qlen = dns::write_upstream_query(*fq, 0, query, sizeof query);
  Pending* raw = p.get();
  m_pending.emplace(std::string_view(raw->key), std::move(p));
  m_d.forwarder.start(*raw, {query, qlen});  // may complete synchronously (no server left)
  return net::kDeferred;
}

void Pipeline::on_upstream_done(Pending& p, upstream::Result&& r) noexcept {
  // Take ownership out of the table first: nothing below may find it again.
  auto it = m_pending.find(std::string_view(p.key));
  if (it == m_pending.end()) return;
  std::unique_ptr<Pending> owned = std::move(it->second);
  m_pending.erase(it);

  util::Metrics& mx = m_d.metrics;
  static uint8_t out[65536];
  const int64_t now = net::now_ms(m_d.loop);
  dns::ParsedQuery q;
  const int64_t now_s = m_d.policy_now();
  policy::Verdict stale_verdict;
  for (const Waiter& w : owned->waiters) {
    if (!w.rebuild(q)) continue;
    const Snapshot& snap = *w.snap;
    const std::size_t limit = w.origin.transport == net::Transport::tcp
                                  ? 65535
                                  : dns::reply_limit(q, snap.config.server.max_udp_size);
    std::size_t n = 0;
    if (r.outcome == upstream::Outcome::answer) {
      policy::Verdict cv;
      const dns::StoredAnswer sa{r.reply.wire, r.reply.ttl_offsets};
      if (chain_blocked(r.reply.chain, q.qtype, *w.group, snap, now_s, cv)) {
        count_block(mx, cv);
        n = answer_block(q, cv, -1, snap, out, sizeof out);
      } else if (!w.rewrite_to.empty()) {
        mx.count(Result::rewritten);
        n = dns::write_rewrite(q, w.rewrite_to, sa, 0, w.ttl_cap, limit, out, sizeof out);
        if (n == 0) n = dns::write_truncated(q, dns::rcode::NOERROR, out, sizeof out);
      } else {
        mx.count(Result::allowed_upstream);
        n = dns::write_from_stored(q, sa, 0, w.ttl_cap, 0, {}, limit, out, sizeof out);
      }
    } else if (const cache::Hit hit = m_d.cache.lookup(owned->key, now, true);
               hit.entry && chain_blocked(hit.entry->chain, q.qtype, *w.group, snap, now_s, stale_verdict)) {
      // A stale answer is checked like a fresh one (its chain may reach a blocked name).
      count_block(mx, stale_verdict);
      n = answer_block(q, stale_verdict, -1, snap, out, sizeof out);
    } else if (hit.entry) {
      // RFC 8767: every upstream failed; an expired answer is better than none.
      mx.count(Result::stale);
      const dns::StoredAnswer sa{hit.entry->wire, hit.entry->ttl_offsets};
      n = w.rewrite_to.empty() ? dns::write_from_stored(q, sa, hit.age, 30, hit.stale ? 30 : 0,
                                                        {dns::ede::STALE_ANSWER, "upstream unreachable"},
                                                        limit, out, sizeof out)
                               : dns::write_rewrite(q, w.rewrite_to, sa, hit.age, 30, limit, out, sizeof out);
    } else {
      mx.count(Result::servfail);
      n = dns::write_error(
          q, dns::rcode::SERVFAIL,
          {dns::ede::NO_REACHABLE_AUTHORITY,
           r.any_reply ? "upstream servers answered with an error" : "no upstream server answered"},
          out, sizeof out);
    }
    if (n > limit) n = dns::write_truncated(q, dns::Flags::rcode(dns::load16(out + 2)), out, sizeof out);
    m_d.responder.deliver(w.origin, {out, n});
  }
  if (r.outcome == upstream::Outcome::answer) {
    ++mx.cache_inserts;
    m_d.cache.insert(owned->key, std::move(r.reply), now);
  } else {
    LOG_DEBUG("every upstream failed for a question (%zu clients waiting)", owned->waiters.size());
  }
}

}  // namespace hedge
