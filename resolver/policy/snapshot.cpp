// policy/snapshot: compiles PolicyConfig + bundle + exceptions into the
// immutable form decide() reads (see snapshot.hpp).
#include "policy/snapshot.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "blocklists/taxonomy.hpp"
#include "dns/name.hpp"

namespace hedge::policy {

const std::vector<std::string_view>& google_search_tlds() {
  // Google's published list of search domains (www.google.com/supported_domains).
  static const std::vector<std::string_view> tlds = {
      "com",    "ad",     "ae",     "com.af", "com.ag", "al",     "am",     "co.ao",  "com.ar", "as",
      "at",     "com.au", "az",     "ba",     "com.bd", "be",     "bf",     "bg",     "com.bh", "bi",
      "bj",     "com.bn", "com.bo", "com.br", "bs",     "bt",     "co.bw",  "by",     "com.bz", "ca",
      "cd",     "cf",     "cg",     "ch",     "ci",     "co.ck",  "cl",     "cm",     "cn",     "com.co",
      "co.cr",  "com.cu", "cv",     "com.cy", "cz",     "de",     "dj",     "dk",     "dm",     "com.do",
      "dz",     "com.ec", "ee",     "com.eg", "es",     "com.et", "fi",     "com.fj", "fm",     "fr",
      "ga",     "ge",     "gg",     "com.gh", "com.gi", "gl",     "gm",     "gr",     "com.gt", "gy",
      "com.hk", "hn",     "hr",     "ht",     "hu",     "co.id",  "ie",     "co.il",  "im",     "co.in",
      "iq",     "is",     "it",     "je",     "com.jm", "jo",     "co.jp",  "co.ke",  "com.kh", "ki",
      "kg",     "co.kr",  "com.kw", "kz",     "la",     "com.lb", "li",     "lk",     "co.ls",  "lt",
      "lu",     "lv",     "com.ly", "co.ma",  "md",     "me",     "mg",     "mk",     "ml",     "com.mm",
      "mn",     "com.mt", "mu",     "mv",     "mw",     "com.mx", "com.my", "co.mz",  "com.na", "com.ng",
      "com.ni", "ne",     "nl",     "no",     "com.np", "nr",     "nu",     "co.nz",  "com.om", "com.pa",
      "com.pe", "com.pg", "com.ph", "com.pk", "pl",     "pn",     "com.pr", "ps",     "pt",     "com.py",
      "com.qa", "ro",     "ru",     "rw",     "com.sa", "com.sb", "sc",     "se",     "com.sg", "sh",
      "si",     "sk",     "com.sl", "sn",     "so",     "sm",     "sr",     "st",     "com.sv", "td",
      "tg",     "co.th",  "com.tj", "tl",     "tm",     "tn",     "to",     "com.tr", "tt",     "com.tw",
      "co.tz",  "com.ua", "co.ug",  "co.uk",  "com.uy", "co.uz",  "com.vc", "co.ve",  "co.vi",  "com.vn",
      "vu",     "ws",     "rs",     "co.za",  "co.zm",  "co.zw",  "cat",
  };
  return tlds;
}

const Group* PolicySnapshot::find_group(std::string_view name) const noexcept {
  for (const auto& g : m_groups)
    if (g.name == name) return &g;
  return nullptr;
}

std::string PolicySnapshot::category_names(uint64_t mask, bool include_confidential) const {
  std::string out;
  for (unsigned b = 0; b < 64; ++b) {
    if (!((mask >> b) & 1)) continue;
    const auto* c = m_bundle->category_by_bit(b);
    if (c && c->confidential && !include_confidential) continue;
    if (!out.empty()) out += ",";
    out += c ? c->id : "bit" + std::to_string(b);
  }
  return out;
}

std::string_view PolicySnapshot::safe_search_target(uint8_t service, SafeSearch level) const noexcept {
  switch (service) {
    case 0: return "forcesafesearch.google.com";
    case 1: return level == SafeSearch::strict ? "restrict.youtube.com" : "restrictmoderate.youtube.com";
    case 2: return "strict.bing.com";
    case 3: return "safe.duckduckgo.com";
    default: return {};
  }
}

namespace {

uint64_t mask_of(const lists::Bundle& b, const std::vector<std::string>& ids) {
  uint64_t m = 0;
  for (const auto& id : ids)
    if (const auto* c = b.category_by_id(id)) m |= uint64_t{1} << c->bit;
  return m;
}

void sort_unique(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

namespace {
// Whether the bundle puts `name` itself in the illegal tier (for warnings).
bool in_illegal_tier(const lists::Bundle& b, uint64_t confidential_mask, const std::string& name) {
  dns::QueryName q;
  if (!q.assign_text(name)) return false;
  const lists::Match m = b.lookup(q);
  return ((m.categories & (b.illegal_mask() | confidential_mask)) | m.confidential) != 0;
}
}  // namespace

std::shared_ptr<const PolicySnapshot> build_policy_snapshot(const PolicyConfig& cfg,
                                                            std::shared_ptr<const lists::Bundle> bundle,
                                                            std::vector<Exception> active_exceptions,
                                                            util::ConfigErrors& errs) {
  auto s = std::shared_ptr<PolicySnapshot>(new PolicySnapshot());
  s->m_bundle = bundle ? std::move(bundle) : lists::Bundle::empty();
  const auto& b = *s->m_bundle;
  {
    std::string err;
    auto tz = TimeZone::load(cfg.timezone, err);
    if (tz)
      s->m_tz = std::move(*tz);
    else
      errs.add(0, "policy.timezone", "'" + cfg.timezone + "': " + err);
  }
  s->m_require_approval = cfg.require_approval;
  for (const auto& c : b.categories()) {
    s->m_all_mask |= uint64_t{1} << c.bit;
    if (c.confidential) s->m_confidential_mask |= uint64_t{1} << c.bit;
    if (c.id == "bypass") s->m_bypass_mask |= uint64_t{1} << c.bit;
  }
  s->m_schedules = cfg.schedules;

  // Groups: configured ones, then the implicit default if nothing names one.
  s->m_groups.reserve(cfg.groups.size() + 1);
  for (const auto& gc : cfg.groups) {
    Group g;
    g.name = gc.name;
    g.index = s->m_groups.size();
    g.mode = gc.mode;
    g.block_mode = gc.block_mode;
    g.safe_search = gc.safe_search;
    g.block_ids = gc.block;
    g.block_mask = (gc.mode == GroupMode::allowlist && !gc.block_set) ? s->m_all_mask : mask_of(b, gc.block);
    if (gc.mode == GroupMode::allowlist && !gc.block_set) g.block_ids = {"(every category)"};
    // The canary, iCloud Private Relay and DDR defences are on for every
    // group: without them a browser switches to DNS-over-HTTPS and skips every
    // list, the illegal tier included. Only an explicit `false` turns them off.
    g.bypass_defence = gc.bypass_defence.value_or(true);
    if (!g.bypass_defence)
      errs.warn(
          gc.bypass_defence_line, "group[" + std::to_string(g.index) + "].bypass_defence",
          "bypass defences are off for group '" + gc.name +
              "': its browsers may switch to DNS-over-HTTPS or iCloud Private Relay and skip every list, "
              "including the illegal tier");
    for (const auto& during : gc.allow_during) {
      // Not a structured binding: clang 14 cannot capture those in a lambda.
      const auto& sched = during.first;
      const auto& ids = during.second;
      const auto it = std::find_if(s->m_schedules.begin(), s->m_schedules.end(),
                                   [&](const Schedule& x) { return x.name == sched; });
      if (it == s->m_schedules.end()) continue;  // reported by the parser
      const uint64_t m = mask_of(b, ids) & ~b.illegal_mask() & ~s->m_confidential_mask;
      g.allow_during.push_back({&*it, m});
    }
    g.allow = gc.allow;
    g.deny = gc.deny;
    for (const auto& name : gc.allow) {
      if (in_illegal_tier(b, s->m_confidential_mask, name))
        errs.warn(gc.line, "group[" + std::to_string(g.index) + "].allow",
                  "'" + name +
                      "' is in the illegal tier of the loaded bundle: it stays blocked "
                      "(the illegal tier overrides `allow`)");
    }
    sort_unique(g.allow);
    sort_unique(g.deny);
    for (const auto& c : gc.clients) {
      g.clients.push_back(c.text);
      PolicySnapshot::Net n;
      n.v6 = c.v6;
      n.prefix = c.prefix;
      n.addr = c.addr;
      n.group = g.index;
      (c.listen ? s->m_listens : s->m_nets).push_back(n);
    }
    s->m_groups.push_back(std::move(g));
  }
  const Group* def = cfg.default_group.empty() ? nullptr : s->find_group(cfg.default_group);
  if (def) {
    s->m_default = def->index;
  } else {
    // No [policy] default_group (or no groups at all): the strictest group.
    Group g;
    g.name = "default";
    g.index = s->m_groups.size();
    g.implicit = true;
    g.block_mask = s->m_all_mask;
    g.block_ids = {"(every category)"};
    g.bypass_defence = true;
    s->m_default = g.index;
    s->m_groups.push_back(std::move(g));
  }
  std::stable_sort(
      s->m_nets.begin(), s->m_nets.end(),
      [](const PolicySnapshot::Net& a, const PolicySnapshot::Net& c) { return a.prefix > c.prefix; });

  // Exceptions: keep every record for explain; compile the ones that can
  // apply now or later (expiry and start are checked per query, to the second).
  for (const auto& e : active_exceptions) {
    if (e.revoked != 0) continue;
    if (cfg.require_approval && e.approved == 0) continue;
    PolicySnapshot::CompiledException c;
    c.name = e.name;
    c.kind = e.kind;
    c.starts = e.starts;
    c.expires = e.expires;
    c.id = e.id;
    if (e.group == "*") {
      c.group = -1;
    } else if (const Group* g = s->find_group(e.group)) {
      c.group = static_cast<int>(g->index);
    } else {
      continue;  // its group was removed from the config: it applies to nobody
    }
    if (c.kind == ExceptionKind::allow && in_illegal_tier(b, s->m_confidential_mask, c.name))
      errs.warn(0, "exception #" + std::to_string(c.id),
                "allow exception for '" + c.name +
                    "' is in the illegal tier of the loaded bundle: it stays "
                    "blocked (the illegal tier overrides exceptions)");
    s->m_compiled.push_back(std::move(c));
  }
  std::sort(s->m_compiled.begin(), s->m_compiled.end(),
            [](const auto& a, const auto& c) { return a.name < c.name; });
  s->m_exceptions = std::move(active_exceptions);

  // Safe search: exact names per service.
  for (const auto tld : google_search_tlds()) {
    s->m_safe_search.push_back({"google." + std::string(tld), 0});
    s->m_safe_search.push_back({"www.google." + std::string(tld), 0});
  }
  for (const char* n : {"www.youtube.com", "m.youtube.com", "youtubei.googleapis.com",
                        "youtube.googleapis.com", "www.youtube-nocookie.com"})
    s->m_safe_search.push_back({n, 1});
  for (const char* n : {"bing.com", "www.bing.com"}) s->m_safe_search.push_back({n, 2});
  for (const char* n : {"duckduckgo.com", "www.duckduckgo.com", "start.duckduckgo.com"})
    s->m_safe_search.push_back({n, 3});
  std::sort(s->m_safe_search.begin(), s->m_safe_search.end(),
            [](const auto& a, const auto& c) { return a.name < c.name; });
  s->m_always_allow = cfg.always_allow;
  sort_unique(s->m_always_allow);
  return s;
}

namespace {

bool net_contains(const PolicySnapshot::Net& n, const uint8_t* addr, bool v6) noexcept {
  if (n.v6 != v6) return false;
  const int full = n.prefix / 8, rest = n.prefix % 8;
  if (std::memcmp(n.addr.data(), addr, static_cast<std::size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  const auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (n.addr[static_cast<std::size_t>(full)] & mask) == (addr[full] & mask);
}

// Extracts the address bytes; IPv4-mapped IPv6 becomes IPv4.
bool address_of(const sockaddr* sa, const uint8_t*& addr, bool& v6) noexcept {
  if (!sa) return false;
  if (sa->sa_family == AF_INET) {
    addr = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
    v6 = false;
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr);
    static constexpr uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, mapped, 12) == 0) {
      addr = a + 12;
      v6 = false;
    } else {
      addr = a;
      v6 = true;
    }
    return true;
  }
  return false;
}

}  // namespace

const Group& classify(const PolicySnapshot& snap, const sockaddr* peer, const sockaddr* local) noexcept {
  const uint8_t* addr = nullptr;
  bool v6 = false;
  if (!snap.listens().empty() && address_of(local, addr, v6)) {
    for (const auto& n : snap.listens())
      if (net_contains(n, addr, v6)) return snap.groups()[n.group];
  }
  if (address_of(peer, addr, v6)) {
    for (const auto& n : snap.nets())  // most specific first
      if (net_contains(n, addr, v6)) return snap.groups()[n.group];
  }
  return snap.default_group();
}

}  // namespace hedge::policy
