// pipeline: the stage order of every query, written once.
//
//   parse     strict; bad packets are answered FORMERR/NOTIMP or dropped and never go further
//   acl       clients outside allow_clients get REFUSED before any work is done for them
//   ratelimit one device cannot starve the rest (token bucket per address)
//   decide    pure verdict from the snapshot (lists, later policy): runs BEFORE the cache,
//             so one group's verdict never leaks to another through a shared answer
//   block     synthesized answer (block page / NODATA / NXDOMAIN) with an Extended DNS Error
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
#include "util/log.hpp"

namespace hedge {

using util::Result;

namespace {

// The verdict for one name. Lists only for now: every category in the bundle
// blocks; the illegal tier (confidential entries, illegal-tier categories)
// answers EDE 16 and never names its category.
struct Decision {
  bool block = false;
  bool illegal = false;
  uint64_t categories = 0;
  int label = -1;
};

Decision decide_lists(const dns::QueryName& name, const Snapshot& s) noexcept {
  Decision d;
  const lists::Match m = s.bundle->lookup(name);
  if (!m) return d;
  d.block = true;
  d.categories = m.categories | m.confidential;
  d.illegal = m.confidential != 0 || (m.categories & s.bundle->illegal_mask()) != 0;
  if (d.illegal) {
    d.label = m.confidential_label >= 0 ? m.confidential_label : m.public_label;
  } else {
    d.label = m.public_label;
  }
  return d;
}

// EXTRA-TEXT of the EDE: the categories for school categories; nothing that
// names an illegal-tier list (it must never be readable from the network).
dns::EdeInfo ede_for(const Decision& d, const lists::Bundle& b, char* buf, std::size_t cap) noexcept {
  if (d.illegal) return {dns::ede::CENSORED, "illegal content (blocked by law)"};
  std::size_t n = 0;
  auto put = [&](std::string_view s) {
    const std::size_t k = std::min(s.size(), cap - n);
    std::memcpy(buf + n, s.data(), k);
    n += k;
  };
  put("blocked: ");
  bool first = true;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (!(d.categories & (uint64_t{1} << bit))) continue;
    const lists::Category* c = b.category_by_bit(bit);
    if (!c || c->confidential) continue;
    if (!first) put(", ");
    put(c->id);
    first = false;
  }
  return {dns::ede::BLOCKED, {buf, n}};
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
  std::shared_ptr<const Snapshot> snap;

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
  const Decision d = decide_lists(q.name, snap);
  if (d.block) {
    char text[200];
    mx.count(d.illegal ? Result::blocked_illegal : Result::blocked);
    const std::size_t n = dns::write_block(q, dns::BlockKind::block_page, snap.block, d.label, 0,
                                           ede_for(d, *snap.bundle, text, sizeof text), out, cap);
    return n > limit_for(o, q) ? dns::write_truncated(q, dns::rcode::NOERROR, out, cap) : n;
  }

  // cache
  uint8_t keybuf[cache::kKeyMax];
  const std::string_view key = cache::make_key(q.qwire, q.qname_len, q.edns.do_bit, keybuf);
  const int64_t now = net::now_ms(m_d.loop);
  if (const cache::Hit hit = m_d.cache.lookup(key, now, false); hit.entry) {
    // check: a cached CNAME chain may reach a name blocked since it was stored.
    for (const auto& target : hit.entry->chain) {
      dns::QueryName tn;
      if (!tn.assign_text(target)) continue;
      const Decision cd = decide_lists(tn, snap);
      if (cd.block) {
        char text[200];
        mx.count(cd.illegal ? Result::blocked_illegal : Result::blocked);
        return dns::write_block(q, dns::BlockKind::block_page, snap.block, -1, 0,
                                ede_for(cd, *snap.bundle, text, sizeof text), out, cap);
      }
    }
    ++mx.cache_hits;
    mx.count(Result::allowed_cache);
    const dns::StoredAnswer sa{hit.entry->wire, hit.entry->ttl_offsets};
    return dns::write_from_stored(q, sa, hit.age, 0, 0, {}, limit_for(o, q), out, cap);
  }
  ++mx.cache_misses;

  // upstream (shared by identical questions)
  Waiter w;
  w.origin = o;
  w.capture(q);
  w.snap = m_snap;
  if (auto it = m_pending.find(key); it != m_pending.end()) {
    ++mx.upstream_shared;
    it->second->waiters.push_back(std::move(w));
    return 0;
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
  const std::size_t qlen = dns::write_upstream_query(q, 0, query, sizeof query);
  Pending* raw = p.get();
  m_pending.emplace(std::string_view(raw->key), std::move(p));
  m_d.forwarder.start(*raw, {query, qlen});  // may complete synchronously (no server left)
  return 0;
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
  for (const Waiter& w : owned->waiters) {
    if (!w.rebuild(q)) continue;
    const Snapshot& snap = *w.snap;
    const std::size_t limit = w.origin.transport == net::Transport::tcp
                                  ? 65535
                                  : dns::reply_limit(q, snap.config.server.max_udp_size);
    std::size_t n = 0;
    if (r.outcome == upstream::Outcome::answer) {
      Decision cd;
      for (const auto& target : r.reply.chain) {
        dns::QueryName tn;
        if (tn.assign_text(target) && (cd = decide_lists(tn, snap)).block) break;
      }
      if (cd.block) {
        char text[200];
        mx.count(cd.illegal ? Result::blocked_illegal : Result::blocked);
        n = dns::write_block(q, dns::BlockKind::block_page, snap.block, -1, 0,
                             ede_for(cd, *snap.bundle, text, sizeof text), out, sizeof out);
      } else {
        mx.count(Result::allowed_upstream);
        n = dns::write_from_stored(q, {r.reply.wire, r.reply.ttl_offsets}, 0, 0, 0, {}, limit, out,
                                   sizeof out);
      }
    } else if (const cache::Hit hit = m_d.cache.lookup(owned->key, now, true); hit.entry) {
      // RFC 8767: every upstream failed; an expired answer is better than none.
      mx.count(Result::stale);
      n = dns::write_from_stored(q, {hit.entry->wire, hit.entry->ttl_offsets}, hit.age, 30,
                                 hit.stale ? 30 : 0, {dns::ede::STALE_ANSWER, "upstream unreachable"}, limit,
                                 out, sizeof out);
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
