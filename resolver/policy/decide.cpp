// policy/decide: the decision (order documented in decide.hpp). One template
// serves decide() (tracing compiled out) and explain() (records each step), so
// the explanation can never drift from the real decision.
//
// Verdict reasons: "illegal", "exception-deny", "group-deny", "exception-allow",
// "group-allow", "always-allow", "allowlist", "bypass-defence", "safe-search",
// "category", "schedule" (allowed inside a window), "default".
#include "policy/decide.hpp"

#include <algorithm>
#include <limits>

namespace hedge::policy {

const char* to_string(Action a) noexcept {
  switch (a) {
    case Action::allow: return "allow";
    case Action::block: return "block";
    case Action::nxdomain: return "nxdomain";
    case Action::nodata: return "nodata";
    case Action::rewrite: return "rewrite";
  }
  return "allow";
}

namespace {

struct NoTrace {
  static constexpr bool on = false;
};

struct Tracer {
  static constexpr bool on = true;
  std::vector<ExplainStep>* steps;
  void add(std::string rule, std::string detail, bool decided = false) {
    steps->push_back({std::move(rule), std::move(detail), decided});
  }
};

// Label index of the most specific suffix of q listed in `sorted`, or -1.
int find_suffix(const std::vector<std::string>& sorted, const dns::QueryName& q) noexcept {
  if (sorted.empty()) return -1;
  for (std::size_t i = 0; i < q.label_count(); ++i) {
    const std::string_view s = q.suffix(i);
    const auto it =
        std::lower_bound(sorted.begin(), sorted.end(), s,
                         [](const std::string& a, std::string_view b) { return std::string_view(a) < b; });
    if (it != sorted.end() && std::string_view(*it) == s) return static_cast<int>(i);
  }
  return -1;
}

// Most specific active exception of `kind` for the group; nullptr if none.
const PolicySnapshot::CompiledException* find_exception(const PolicySnapshot& snap, const Group& g,
                                                        const dns::QueryName& q, ExceptionKind kind,
                                                        int64_t now, int& label) noexcept {
  const auto& ex = snap.compiled_exceptions();
  if (ex.empty()) return nullptr;
  for (std::size_t i = 0; i < q.label_count(); ++i) {
    const std::string_view s = q.suffix(i);
    auto it = std::lower_bound(ex.begin(), ex.end(), s,
                               [](const PolicySnapshot::CompiledException& a, std::string_view b) {
                                 return std::string_view(a.name) < b;
                               });
    for (; it != ex.end() && std::string_view(it->name) == s; ++it) {
      if (it->kind != kind) continue;
      if (it->group >= 0 && static_cast<std::size_t>(it->group) != g.index) continue;
      if (now < it->starts) continue;
      if (it->expires != 0 && now >= it->expires) continue;  // expired to the second
      label = static_cast<int>(i);
      return &*it;
    }
  }
  return nullptr;
}

uint32_t clamp_ttl(int64_t s) noexcept {
  if (s <= 0) return 1;
  if (s > std::numeric_limits<uint32_t>::max()) return std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(s);
}

Verdict blocked(const Group& g, uint64_t cats, const char* reason, int label) noexcept {
  Verdict v;
  v.action = g.block_mode == BlockMode::nxdomain ? Action::nxdomain : Action::block;
  v.categories = cats;
  v.reason = reason;
  v.matched_label = label;
  return v;
}

template <class Trace>
Verdict run(const dns::QueryName& q, const Group& g, const PolicySnapshot& snap, int64_t now, Trace& tr) {
  const auto& bundle = snap.bundle();
  const lists::Match m = bundle.lookup(q);
  const std::string_view name = q.text();

  // 1. Illegal tier: never overridable, by anything.
  const uint64_t illegal =
      (m.categories & (bundle.illegal_mask() | snap.confidential_mask())) | m.confidential;
  if (illegal) {
    Verdict v = blocked(g, illegal, "illegal", m.confidential ? m.confidential_label : m.public_label);
    v.illegal = true;
    v.confidential = m.confidential != 0 || (m.categories & snap.confidential_mask()) != 0;
    if constexpr (Trace::on)
      tr.add("illegal-tier",
             v.confidential
                 ? "listed on a confidential illegal-content list (not named); blocked for every group"
                 : "listed in illegal tier category " + snap.category_names(illegal) +
                       "; blocked for every group, no exception or setting can change this",
             true);
    if constexpr (Trace::on) {
      int al = -1;
      if (const auto* e = find_exception(snap, g, q, ExceptionKind::allow, now, al))
        tr.add("illegal-tier",
               "allow exception #" + std::to_string(e->id) + " for " + e->name +
                   " is overridden: the illegal tier wins over every exception",
               true);
      if ((al = find_suffix(g.allow, q)) >= 0)
        tr.add("illegal-tier",
               "the group's `allow` entry " + std::string(q.suffix(static_cast<std::size_t>(al))) +
                   " is overridden: the illegal tier wins over `allow`",
               true);
    }
    return v;
  }
  if constexpr (Trace::on) tr.add("illegal-tier", "not listed in the illegal tier");

  // 2. Deny: exceptions first, then the group's own `deny` names.
  int label = -1;
  if (const auto* e = find_exception(snap, g, q, ExceptionKind::deny, now, label)) {
    if constexpr (Trace::on)
      tr.add("exception-deny", "deny exception #" + std::to_string(e->id) + " for " + e->name, true);
    return blocked(g, 0, "exception-deny", label);
  }
  if ((label = find_suffix(g.deny, q)) >= 0) {
    if constexpr (Trace::on)
      tr.add("group-deny", "group `deny` lists " + std::string(q.suffix(static_cast<std::size_t>(label))),
             true);
    return blocked(g, 0, "group-deny", label);
  }
  if constexpr (Trace::on) tr.add("deny", "no active deny exception or group `deny` name");

  // 3. Allow: unexpired allow exceptions; the answer's TTL ends with the exception.
  if (const auto* e = find_exception(snap, g, q, ExceptionKind::allow, now, label)) {
    Verdict v;
    v.reason = "exception-allow";
    v.matched_label = label;
    if (e->expires != 0) v.ttl_cap = clamp_ttl(e->expires - now);
    if constexpr (Trace::on)
      tr.add("exception-allow",
             "allow exception #" + std::to_string(e->id) + " for " + e->name + " (" +
                 (e->expires ? std::to_string(e->expires - now) + " s left" : std::string("no expiry")) + ")",
             true);
    return v;
  }
  if (g.mode == GroupMode::categories && (label = find_suffix(g.allow, q)) >= 0) {
    if constexpr (Trace::on)
      tr.add("group-allow", "group `allow` lists " + std::string(q.suffix(static_cast<std::size_t>(label))),
             true);
    Verdict v;
    v.reason = "group-allow";
    v.matched_label = label;
    return v;
  }
  if ((label = find_suffix(snap.always_allow(), q)) >= 0) {
    if constexpr (Trace::on) tr.add("always-allow", "the block page's own name resolves for everyone", true);
    Verdict v;
    v.reason = "always-allow";
    v.matched_label = label;
    return v;
  }
  if constexpr (Trace::on)
    tr.add("allow", "no active allow exception" +
                        std::string(g.mode == GroupMode::categories ? " or group `allow` name" : ""));

  // 4. Allowlist mode: only the group's `allow` names resolve.
  if (g.mode == GroupMode::allowlist) {
    label = find_suffix(g.allow, q);
    if (label < 0) {
      if constexpr (Trace::on)
        tr.add("allowlist", "group is in allowlist mode and the name is not in its `allow`", true);
      return blocked(g, 0, "allowlist", -1);
    }
    if constexpr (Trace::on)
      tr.add("allowlist",
             "in the group's `allow` as " + std::string(q.suffix(static_cast<std::size_t>(label))));
  }

  // 5. Bypass defences.
  if (g.bypass_defence) {
    if (dns::is_subdomain_of(name, "use-application-dns.net") || name == "mask.icloud.com" ||
        name == "mask-h2.icloud.com") {
      Verdict v;
      v.action = Action::nxdomain;
      v.reason = "bypass-defence";
      v.matched_label = 0;
      if constexpr (Trace::on)
        tr.add("bypass-defence", "canary name: NXDOMAIN turns off browser DoH / iCloud Private Relay", true);
      return v;
    }
    if (name == "_dns.resolver.arpa") {
      Verdict v;
      v.action = Action::nodata;
      v.reason = "bypass-defence";
      v.matched_label = 0;
      if constexpr (Trace::on)
        tr.add("bypass-defence", "DDR discovery name: NODATA so clients keep plain DNS", true);
      return v;
    }
    // The `bypass` category (DoH servers, VPNs, proxies) is a category like
    // any other: blocked by rule 7 for groups that block it.
    if constexpr (Trace::on) tr.add("bypass-defence", "on; not a canary or DDR name");
  } else if constexpr (Trace::on) {
    tr.add("bypass-defence",
           "OFF for this group (bypass_defence = false): canary and DDR names are answered");
  }

  // 6. Safe search.
  if (g.safe_search != SafeSearch::off) {
    const auto& ss = snap.safe_search_names();
    const auto it = std::lower_bound(ss.begin(), ss.end(), name,
                                     [](const PolicySnapshot::SafeSearchEntry& a, std::string_view b) {
                                       return std::string_view(a.name) < b;
                                     });
    if (it != ss.end() && std::string_view(it->name) == name) {
      Verdict v;
      v.action = Action::rewrite;
      v.reason = "safe-search";
      v.matched_label = 0;
      v.rewrite_to = snap.safe_search_target(it->service, g.safe_search);
      if constexpr (Trace::on)
        tr.add("safe-search",
               std::string(to_string(g.safe_search)) + ": CNAME to " + std::string(v.rewrite_to), true);
      return v;
    }
    if constexpr (Trace::on)
      tr.add("safe-search", std::string(to_string(g.safe_search)) + ": not a search or video host");
  } else if constexpr (Trace::on) {
    tr.add("safe-search", "off for this group");
  }

  // 7. Categories, with schedule windows.
  const uint64_t hit = m.categories & g.block_mask;
  if constexpr (Trace::on) {
    if (m.categories)
      tr.add("lists", "listed in " + snap.category_names(m.categories) + " (most specific entry: " +
                          std::string(q.suffix(static_cast<std::size_t>(m.public_label))) + ")");
    else
      tr.add("lists", "not in any list of bundle version " + std::to_string(bundle.version()));
  }
  if (hit) {
    uint64_t still = hit;
    if (!g.allow_during.empty()) {
      const LocalTime lt = snap.timezone().local(now);
      uint32_t cap = std::numeric_limits<uint32_t>::max();
      for (unsigned b = 0; b < 64; ++b) {
        if (!((hit >> b) & 1)) continue;
        int64_t best = 0;
        for (const auto& w : g.allow_during) {
          if (!((w.mask >> b) & 1)) continue;
          const int64_t left = w.schedule->seconds_left(snap.timezone(), lt);
          if constexpr (Trace::on) {
            const auto* c = bundle.category_by_bit(b);
            tr.add("schedule",
                   "'" + w.schedule->name + "' allows " + (c ? c->id : std::string("?")) + ": " +
                       (left > 0 ? "active, " + std::to_string(left) + " s left" : "not active now"));
          }
          best = std::max(best, left);
        }
        if (best > 0) {
          still &= ~(uint64_t{1} << b);
          cap = std::min(cap, clamp_ttl(best));
        }
      }
      if (!still) {
        Verdict v;
        v.reason = "schedule";
        v.matched_label = m.public_label;
        v.ttl_cap = cap;
        if constexpr (Trace::on)
          tr.add("category",
                 "blocked categories " + snap.category_names(hit) +
                     " are allowed inside an active schedule window; TTL capped at " + std::to_string(cap) +
                     " s",
                 true);
        return v;
      }
    }
    Verdict v = blocked(g, still, "category", m.public_label);
    // If every blocking category opens in a window later, a cached block must
    // not outlive the window's start either.
    if (!g.allow_during.empty()) {
      const LocalTime lt = snap.timezone().local(now);
      int64_t cap = 0;
      for (unsigned b = 0; b < 64 && cap >= 0; ++b) {
        if (!((still >> b) & 1)) continue;
        int64_t soonest = 0;
        for (const auto& w : g.allow_during) {
          if (!((w.mask >> b) & 1)) continue;
          const int64_t s = w.schedule->seconds_until_start(snap.timezone(), lt);
          if (s > 0 && (soonest == 0 || s < soonest)) soonest = s;
        }
        if (soonest == 0)
          cap = -1;  // this category never opens: no cap
        else if (cap == 0 || soonest < cap)
          cap = soonest;
      }
      if (cap > 0) v.ttl_cap = clamp_ttl(cap);
    }
    if constexpr (Trace::on)
      tr.add("category",
             "group blocks " + snap.category_names(still) +
                 (v.ttl_cap ? "; a window opens in " + std::to_string(v.ttl_cap) + " s, TTL capped"
                            : std::string()),
             true);
    return v;
  }
  if constexpr (Trace::on) tr.add("category", "no category this group blocks");

  // 8. Allow.
  Verdict v;
  v.reason = "default";
  if constexpr (Trace::on) tr.add("default", "allowed", true);
  return v;
}

}  // namespace

Verdict decide(const dns::QueryName& qname, uint16_t qtype, const Group& group, const PolicySnapshot& snap,
               int64_t now_unix) noexcept {
  (void)qtype;  // every rule applies to every type; the pipeline shapes the answer by type
  NoTrace tr;
  return run(qname, group, snap, now_unix, tr);
}

Verdict explain(const dns::QueryName& qname, uint16_t qtype, const Group& group, const PolicySnapshot& snap,
                int64_t now_unix, std::vector<ExplainStep>& steps) {
  (void)qtype;
  Tracer tr{&steps};
  return run(qname, group, snap, now_unix, tr);
}

namespace {
bool blocks(Action a) noexcept {
  return a == Action::block || a == Action::nxdomain || a == Action::nodata;
}

template <typename Trace>
bool run_chain(std::span<const std::string> chain, uint16_t qtype, const Group& group,
               const PolicySnapshot& snap, int64_t now, Verdict& out, Trace& tr) {
  for (const auto& target : chain) {
    dns::QueryName tn;
    if (!tn.assign_text(target)) {
      if constexpr (Trace::on) tr.add("cname-cloaking", "target '" + target + "' is not a name: skipped");
      continue;
    }
    Verdict v = decide(tn, qtype, group, snap, now);
    if (blocks(v.action)) {
      v.action = Action::block;  // answer for the question, not the target
      out = v;
      if constexpr (Trace::on)
        tr.add("cname-cloaking",
               "CNAME target " + target + " is blocked (" + v.reason + "): the answer is blocked", true);
      return true;
    }
    if constexpr (Trace::on) tr.add("cname-cloaking", "CNAME target " + target + " is allowed");
  }
  return false;
}
}  // namespace

bool decide_chain(std::span<const std::string> chain, uint16_t qtype, const Group& group,
                  const PolicySnapshot& snap, int64_t now_unix, Verdict& out) noexcept {
  NoTrace tr;
  return run_chain(chain, qtype, group, snap, now_unix, out, tr);
}

bool explain_chain(std::span<const std::string> chain, uint16_t qtype, const Group& group,
                   const PolicySnapshot& snap, int64_t now_unix, Verdict& out,
                   std::vector<ExplainStep>& steps) {
  Tracer tr{&steps};
  return run_chain(chain, qtype, group, snap, now_unix, out, tr);
}

}  // namespace hedge::policy
