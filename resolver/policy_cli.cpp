// policy_cli: `hedge exception`, `hedge audit` and `hedge explain`.
// The config file is read with the server's loader (config::load_config).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blocklists/bundle.hpp"
#include "cli.hpp"
#include "config/config.hpp"
#include "dns/name.hpp"
#include "policy/decide.hpp"
#include "policy/filtering_check.hpp"
#include "policy/policy_config.hpp"
#include "policy/snapshot.hpp"
#include "store/console_store.hpp"
#include "store/exception_store.hpp"

namespace hedge::cli {

namespace {

constexpr const char* kDefaultConfig = "/etc/hedge/hedge.toml";

// --key value / --flag options after the positional arguments.
struct Args {
  std::vector<std::string> pos;
  std::map<std::string, std::string> opt;
  std::string error;
  bool has(const char* k) const { return opt.count(k) != 0; }
  std::string get(const char* k, const std::string& d = {}) const {
    auto it = opt.find(k);
    return it == opt.end() ? d : it->second;
  }
};

Args parse_args(int argc, char** argv, int first, std::initializer_list<std::string_view> flags,
                std::initializer_list<std::string_view> valued) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string_view s = argv[i];
    if (s.starts_with("--")) {
      std::string key(s.substr(2)), val;
      if (const auto eq = key.find('='); eq != std::string::npos) {
        val = key.substr(eq + 1);
        key = key.substr(0, eq);
        a.opt[key] = val;
      } else if (std::find(flags.begin(), flags.end(), key) != flags.end()) {
        a.opt[key] = "1";
        continue;
      } else if (std::find(valued.begin(), valued.end(), key) != valued.end()) {
        if (i + 1 >= argc) {
          a.error = "--" + key + " needs a value";
          return a;
        }
        a.opt[key] = argv[++i];
      } else {
        a.error = "unknown option --" + key;
        return a;
      }
      if (std::find(valued.begin(), valued.end(), key) == valued.end()) {
        a.error = "unknown option --" + key;
        return a;
      }
    } else {
      a.pos.emplace_back(s);
    }
  }
  return a;
}

// The clock, read once per command. HEDGE_FAKE_NOW (unix seconds) is for tests.
int64_t cli_now() {
  if (const char* f = std::getenv("HEDGE_FAKE_NOW"); f && *f) return std::strtoll(f, nullptr, 10);
  return static_cast<int64_t>(std::time(nullptr));
}

struct Loaded {
  policy::PolicyConfig cfg;
  std::string bundle_dir;  // [lists] bundle
  bool ok = false;
};

// The same loader as `hedge serve` (config/config.hpp), so the CLI and the
// server can never disagree about what a file means. The CLI needs no
// upstream, so only a missing resolv.conf nameserver is tolerated here.
Loaded load_config(const std::string& path) {
  Loaded l;
  config::Config cfg;
  util::ConfigErrors errs(path);
  config::load_config(path, cfg, errs);
  bool ok = true;
  for (const auto& e : errs.list()) {
    if (e.key == "upstream.servers" && e.line == 0) continue;
    std::fprintf(stderr, "%s\n", e.str().c_str());
    ok = false;
  }
  l.cfg = std::move(cfg.policy);
  l.bundle_dir = cfg.lists.bundle;
  l.ok = ok;
  return l;
}

std::string fmt_local(const policy::TimeZone& tz, int64_t t) {
  if (t == 0) return "never";
  const auto lt = tz.local(t);
  int64_t y = 0;
  unsigned m = 0, d = 0;
  policy::civil_from_days((lt.local - lt.sod) / 86400, y, m, d);
  char buf[64];
  const int off = lt.offset / 60;
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02d:%02d:%02d %c%02d:%02d", static_cast<long long>(y), m,
                d, lt.sod / 3600, (lt.sod / 60) % 60, lt.sod % 60, off < 0 ? '-' : '+', std::abs(off) / 60,
                std::abs(off) % 60);
  return buf;
}

// "1795437000", "2026-11-23T12:30[:00]" (local, in the configured zone),
// "2026-11-23 12:30", or the same with a trailing Z (UTC).
std::optional<int64_t> parse_time(std::string_view s, const policy::TimeZone& tz) {
  if (s.empty()) return std::nullopt;
  if (std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::stoll(std::string(s));
  bool utc = false;
  if (s.back() == 'Z') {
    utc = true;
    s.remove_suffix(1);
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  char sep = 0;
  const std::string str(s);
  // Field count and ranges are checked below, which is what strtol would add.
  const int n = std::sscanf(str.c_str(),  // NOLINT(cert-err34-c)
                            "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &sep, &h, &mi, &se);
  if (n == 3) {
    h = mi = se = 0;
  } else if (n < 6 || (sep != 'T' && sep != ' ')) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  const int64_t local =
      policy::days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
      int64_t{h} * 3600 + int64_t{mi} * 60 + se;
  return utc ? local : tz.to_unix(local);
}

// "90s", "45m", "2h", "3d", "1w".
std::optional<int64_t> parse_duration(std::string_view s) {
  if (s.size() < 2) return std::nullopt;
  const char unit = s.back();
  s.remove_suffix(1);
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }) || s.size() > 9)
    return std::nullopt;
  const int64_t n = std::stoll(std::string(s));
  switch (unit) {
    case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
    case 'w': return n * 7 * 86400;
    default: return std::nullopt;
  }
}

const char* state_of(const policy::Exception& e, int64_t now, bool require_approval) {
  if (e.revoked) return "revoked";
  if (e.expires != 0 && now >= e.expires) return "expired";
  if (require_approval && e.approved == 0) return "pending";
  if (now < e.starts) return "scheduled";
  return "active";
}

policy::TimeZone zone_of(const policy::PolicyConfig& cfg) {
  std::string err;
  auto tz = policy::TimeZone::load(cfg.timezone, err);
  return tz ? *tz : policy::TimeZone{};
}

int usage_exception() {
  std::fprintf(
      stderr,
      "usage: hedge exception add NAME (--group G | --all-groups) (--allow | --deny) --by WHO --reason TEXT\n"
      "                           [--password-file FILE] (an allow under require_approval: WHO is a console\n"
      "                           account, its password asked on the terminal or read from FILE)\n"
      "                           [--for 2h|3d|1w | --until TIME|never] [--from TIME]\n"
      "       hedge exception approve ID --by ACCOUNT [--password-file FILE]\n"
      "           (with [policy] require_approval: a console account other than the requester's,\n"
      "            its password asked on the terminal or read from FILE)\n"
      "       hedge exception revoke ID --by WHO --reason TEXT\n"
      "       hedge exception list [--all] [--json]\n"
      "options for all: --config FILE (default %s) --db PATH (default [store] path)\n"
      "TIME: unix seconds, or YYYY-MM-DDTHH:MM[:SS] in [policy] timezone (append Z for UTC)\n",
      kDefaultConfig);
  return 2;
}

bool open_store(store::ExceptionStore& st, const Args& a, const policy::PolicyConfig& cfg) {
  const std::string path = a.get("db", cfg.store_path);
  std::string err;
  if (!st.open(path, err)) {
    std::fprintf(stderr, "hedge: cannot open the store: %s\n", err.c_str());
    return false;
  }
  return true;
}

}  // namespace

int exception(int argc, char** argv) {
  if (argc < 2) return usage_exception();
  const std::string sub = argv[1];
  const Args a = parse_args(
      argc, argv, 2, {"allow", "deny", "all-groups", "all", "json"},
      {"config", "db", "group", "by", "reason", "for", "until", "from", "bundle", "password-file"});
  if (!a.error.empty()) {
    std::fprintf(stderr, "hedge exception: %s\n", a.error.c_str());
    return usage_exception();
  }
  Loaded l = load_config(a.get("config", kDefaultConfig));
  if (!l.ok) return 1;
  const auto& cfg = l.cfg;
  const auto tz = zone_of(cfg);
  const int64_t now = cli_now();
  store::ExceptionStore st;
  const store::ExceptionRules rules{cfg.require_approval, cfg.exception_default_seconds,
                                    cfg.exception_max_seconds};

  if (sub == "add") {
    if (a.pos.size() != 1 || a.has("allow") == a.has("deny") || a.has("group") == a.has("all-groups"))
      return usage_exception();
    policy::Exception e;
    const auto norm = dns::normalise_name(a.pos[0]);
    if (!norm) {
      std::fprintf(stderr, "hedge exception: '%s' is not a host name: %s\n", a.pos[0].c_str(),
                   dns::to_string(norm.error));
      return 1;
    }
    e.name = norm.name;
    e.kind = a.has("allow") ? policy::ExceptionKind::allow : policy::ExceptionKind::deny;
    e.group = a.has("all-groups") ? "*" : a.get("group");
    const bool implicit_default = e.group == "default" && cfg.default_group.empty();
    if (e.group != "*" && !implicit_default &&
        std::none_of(cfg.groups.begin(), cfg.groups.end(),
                     [&](const policy::GroupConfig& g) { return g.name == e.group; })) {
      std::fprintf(stderr, "hedge exception: no group '%s' in the config\n", e.group.c_str());
      return 1;
    }
    e.requester = a.get("by");
    e.reason = a.get("reason");
    if (a.has("from")) {
      const auto t = parse_time(a.get("from"), tz);
      if (!t) {
        std::fprintf(stderr, "hedge exception: --from: not a time\n");
        return 1;
      }
      e.starts = *t;
    }
    const int64_t start = e.starts ? e.starts : now;
    if (a.has("for") && a.has("until")) return usage_exception();
    if (a.has("for")) {
      const auto d = parse_duration(a.get("for"));
      if (!d || *d <= 0) {
        std::fprintf(stderr, "hedge exception: --for: expected e.g. 45m, 2h, 3d, 1w\n");
        return 1;
      }
      e.expires = start + *d;
    } else if (a.has("until")) {
      if (a.get("until") == "never") {
        e.expires = -1;
      } else {
        const auto t = parse_time(a.get("until"), tz);
        if (!t) {
          std::fprintf(stderr, "hedge exception: --until: not a time\n");
          return 1;
        }
        e.expires = *t;
      }
    }
    // The illegal tier can never be unblocked: refuse such an allow outright.
    const std::string bdir = a.get("bundle", l.bundle_dir);
    if (e.kind == policy::ExceptionKind::allow && !bdir.empty()) {
      std::string err;
      if (auto b = lists::Bundle::open(bdir, false, err)) {
        dns::QueryName q;
        if (q.assign_text(e.name)) {
          const auto m = b->lookup(q);
          if ((m.categories & b->illegal_mask()) || m.confidential) {
            std::fprintf(
                stderr,
                "hedge exception: %s is in the illegal tier, which is blocked for everyone and can never be "
                "unblocked\n",
                e.name.c_str());
            return 1;
          }
        }
      }
    }
    if (!open_store(st, a, cfg)) return 1;
    std::string err;
    // Under the two-person rule the requester must be a person who can prove
    // it too (a console account and its password), or one person could ask
    // as "bob" and approve as themselves. A deny only makes filtering
    // stricter and needs no proof.
    const std::string dbpath = a.get("db", cfg.store_path);
    auto prove_requester = [&](std::string& why) {
      // As for approve: whenever the store has console accounts (or cannot
      // say: -1), whatever --config says, so another config file skips nothing.
      if (e.kind != policy::ExceptionKind::allow) return true;
      if (!cfg.require_approval && console_account_count(dbpath) == 0) return true;
      return authenticate_account(dbpath, e.requester, a.get("password-file"), now,
                                  console::Perm::exception_request, why);
    };
    if (!st.add(e, rules, now, err, prove_requester)) {
      std::fprintf(stderr, "hedge exception: %s\n", err.c_str());
      return 1;
    }
    std::printf("exception #%lld: %s %s for %s, from %s until %s%s\n", static_cast<long long>(e.id),
                policy::to_string(e.kind), e.name.c_str(), e.group == "*" ? "every group" : e.group.c_str(),
                fmt_local(tz, e.starts).c_str(), fmt_local(tz, e.expires).c_str(),
                cfg.require_approval ? " (pending approval: hedge exception approve ID --by ACCOUNT)" : "");
    return 0;
  }
  if (sub == "approve" || sub == "revoke") {
    if (a.pos.size() != 1) return usage_exception();
    char* end = nullptr;
    const long long id = std::strtoll(a.pos[0].c_str(), &end, 10);
    if (!end || *end || id <= 0) return usage_exception();
    std::string err;
    const std::string dbpath = a.get("db", cfg.store_path);
    if (sub == "approve" && (cfg.require_approval || console_account_count(dbpath) != 0)) {
      // The two-person rule needs a second person who can prove who they
      // are: --by names a console account, and its password is checked (a
      // typed name alone proves nothing). The approver's account name must
      // differ from the requester's (ExceptionStore::approve checks it).
      // Whenever the store has console accounts this holds, whatever the
      // --config given says: another config file must not skip the proof.
      if (a.get("by").empty()) return usage_exception();
      if (!authenticate_account(dbpath, a.get("by"), a.get("password-file"), now,
                                console::Perm::exception_approve, err)) {
        std::fprintf(stderr, "hedge exception approve: %s\n", err.c_str());
        return 1;
      }
    }
    if (!open_store(st, a, cfg)) return 1;
    const bool ok = sub == "approve" ? st.approve(id, a.get("by"), now, err)
                                     : st.revoke(id, a.get("by"), a.get("reason"), now, err);
    if (!ok) {
      std::fprintf(stderr, "hedge exception %s: %s\n", sub.c_str(), err.c_str());
      return 1;
    }
    std::printf("exception #%lld %s by %s\n", id, sub == "approve" ? "approved" : "revoked",
                a.get("by").c_str());
    return 0;
  }
  if (sub == "list") {
    if (!open_store(st, a, cfg)) return 1;
    std::string err;
    if (st.record_expiries(now, err) < 0)
      std::fprintf(stderr, "hedge: could not log expiries: %s\n", err.c_str());
    nlohmann::json out = nlohmann::json::array();
    int shown = 0;
    for (const auto& e : st.load_all()) {
      const char* state = state_of(e, now, cfg.require_approval);
      if (!a.has("all") && (std::strcmp(state, "expired") == 0 || std::strcmp(state, "revoked") == 0))
        continue;
      ++shown;
      if (a.has("json")) {
        auto j = nlohmann::json::parse(store::exception_json(e));
        j["state"] = state;
        out.push_back(j);
        continue;
      }
      std::printf("#%-4lld %-9s %-5s %-12s %-32s until %-26s by %s%s%s: %s\n", static_cast<long long>(e.id),
                  state, policy::to_string(e.kind), e.group == "*" ? "(all)" : e.group.c_str(),
                  e.name.c_str(), fmt_local(tz, e.expires).c_str(), e.requester.c_str(),
                  e.approver.empty() ? "" : ", approved by ", e.approver.c_str(), e.reason.c_str());
    }
    if (a.has("json"))
      std::printf("%s\n", out.dump(2).c_str());
    else if (shown == 0)
      std::printf("no %sexceptions\n", a.has("all") ? "" : "current ");
    return 0;
  }
  return usage_exception();
}

int audit(int argc, char** argv) {
  auto usage = [] {
    std::fprintf(stderr,
                 "usage: hedge audit list [--limit N] [--json] | hedge audit verify\n"
                 "options: --config FILE (default %s) --db PATH\n",
                 kDefaultConfig);
    return 2;
  };
  if (argc < 2) return usage();
  const std::string sub = argv[1];
  const Args a = parse_args(argc, argv, 2, {"json"}, {"config", "db", "limit"});
  if (!a.error.empty() || !a.pos.empty()) return usage();
  policy::PolicyConfig cfg;
  if (!a.has("db") || a.has("config")) {
    Loaded l = load_config(a.get("config", kDefaultConfig));
    if (!l.ok) return 1;
    cfg = l.cfg;
  }
  const auto tz = zone_of(cfg);
  store::ExceptionStore st;
  if (!open_store(st, a, cfg)) return 1;
  if (sub == "list") {
    const auto rows = st.audit(a.has("limit") ? std::strtoll(a.get("limit").c_str(), nullptr, 10) : 0);
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : rows) {
      if (a.has("json")) {
        out.push_back({{"seq", r.seq},
                       {"at", r.at},
                       {"actor", r.actor},
                       {"action", r.action},
                       {"object", r.object},
                       {"reason", r.reason},
                       {"detail", nlohmann::json::parse(r.detail, nullptr, false)},
                       {"prev", r.prev},
                       {"hash", r.hash}});
        continue;
      }
      std::printf("%5lld %s %-18s %-14s %-14s %s  [%s]\n", static_cast<long long>(r.seq),
                  fmt_local(tz, r.at).c_str(), r.action.c_str(), r.actor.c_str(), r.object.c_str(),
                  r.reason.c_str(), r.hash.substr(0, 12).c_str());
    }
    if (a.has("json")) std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (sub == "verify") {
    const auto v = st.verify_audit();
    if (v.ok) {
      std::printf("audit log OK: %lld rows, hash chain and exception states verified\n",
                  static_cast<long long>(v.rows));
      return 0;
    }
    for (const auto& p : v.problems) std::printf("TAMPERED: %s\n", p.c_str());
    std::printf("audit log FAILED verification (%zu problems in %lld rows)\n", v.problems.size(),
                static_cast<long long>(v.rows));
    return 1;
  }
  return usage();
}

namespace {

// The instant a command decides at: --at if given, else now (HEDGE_FAKE_NOW in tests).
bool time_of(const Args& a, const policy::TimeZone& tz, const char* cmd, int64_t& now) {
  now = cli_now();
  if (!a.has("at")) return true;
  const auto t = parse_time(a.get("at"), tz);
  if (!t) {
    std::fprintf(stderr, "hedge %s: --at: not a time (unix seconds or YYYY-MM-DDTHH:MM)\n", cmd);
    return false;
  }
  now = *t;
  return true;
}

// The snapshot the CLI decides with: the config's (or --bundle's) bundle and
// the store's exceptions (if the store exists: these commands never create it).
struct Built {
  std::shared_ptr<const lists::Bundle> bundle;
  std::shared_ptr<const policy::PolicySnapshot> snap;
  std::string store_note;
};

bool build_snapshot(const Args& a, const Loaded& l, const char* cmd, Built& out) {
  const std::string bdir = a.get("bundle", l.bundle_dir);
  if (bdir.empty()) {
    out.bundle = lists::Bundle::empty();
  } else {
    std::string err;
    out.bundle = lists::Bundle::open(bdir, false, err);
    if (!out.bundle) {
      std::fprintf(stderr, "hedge %s: %s\n", cmd, err.c_str());
      return false;
    }
  }
  std::vector<policy::Exception> exceptions;
  const std::string dbpath = a.get("db", l.cfg.store_path);
  struct stat sb {};
  out.store_note = "no exception store at " + dbpath;
  if (::stat(dbpath.c_str(), &sb) == 0) {
    store::ExceptionStore st;
    std::string err;
    if (st.open(dbpath, err)) {
      exceptions = st.load_all();
      out.store_note = std::to_string(exceptions.size()) + " exceptions in " + dbpath;
    } else {
      out.store_note = "cannot open " + err;
    }
  }
  util::ConfigErrors errs(a.get("config", kDefaultConfig));
  out.snap = policy::build_policy_snapshot(l.cfg, out.bundle, exceptions, errs);
  for (const auto& e : errs.list()) std::fprintf(stderr, "%s\n", e.str().c_str());
  return errs.empty() && out.snap;
}

}  // namespace

int explain(int argc, char** argv) {
  auto usage = [] {
    std::fprintf(
        stderr,
        "usage: hedge explain NAME --client IP [--local IP] [--at TIME] [--type A]\n"
        "                      [--cname TARGET[,TARGET...]] [--config FILE] [--bundle DIR] [--db PATH]\n"
        "--cname: the CNAME chain an upstream answered with (checked for cloaking)\n");
    return 2;
  };
  const Args a =
      parse_args(argc, argv, 1, {}, {"client", "local", "at", "type", "cname", "config", "bundle", "db"});
  if (!a.error.empty()) {
    std::fprintf(stderr, "hedge explain: %s\n", a.error.c_str());
    return usage();
  }
  if (a.pos.size() != 1 || !a.has("client")) return usage();
  Loaded l = load_config(a.get("config", kDefaultConfig));
  if (!l.ok) return 1;
  int64_t now = 0;
  if (!time_of(a, zone_of(l.cfg), "explain", now)) return 2;
  const std::string bdir = a.get("bundle", l.bundle_dir);
  Built built;
  if (!build_snapshot(a, l, "explain", built)) return 1;
  const auto& bundle = built.bundle;
  const auto& snap = built.snap;
  const std::string& store_note = built.store_note;

  // Client (and listen) address.
  sockaddr_storage peer{}, local{};
  auto fill = [](const std::string& s, sockaddr_storage& ss) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, s.c_str(), &s4->sin_addr) == 1) {
      s4->sin_family = AF_INET;
      return true;
    }
    if (inet_pton(AF_INET6, s.c_str(), &s6->sin6_addr) == 1) {
      s6->sin6_family = AF_INET6;
      return true;
    }
    return false;
  };
  if (!fill(a.get("client"), peer)) {
    std::fprintf(stderr, "hedge explain: --client: not an IP address\n");
    return 2;
  }
  if (a.has("local") && !fill(a.get("local"), local)) {
    std::fprintf(stderr, "hedge explain: --local: not an IP address\n");
    return 2;
  }
  const auto norm = dns::normalise_name(a.pos[0]);
  dns::QueryName q;
  if (!norm || !q.assign_text(norm.name)) {
    std::fprintf(stderr, "hedge explain: '%s' is not a host name\n", a.pos[0].c_str());
    return 2;
  }
  const auto& g = policy::classify(*snap, reinterpret_cast<sockaddr*>(&peer),
                                   a.has("local") ? reinterpret_cast<sockaddr*>(&local) : nullptr);
  const std::string qtype = a.get("type", "A");

  std::printf("name:       %s\n", q.text().data() ? std::string(q.text()).c_str() : "");
  std::printf("client:     %s%s%s\n", a.get("client").c_str(), a.has("local") ? " via listen address " : "",
              a.get("local").c_str());
  std::string clients;
  for (const auto& c : g.clients) clients += (clients.empty() ? "" : ", ") + c;
  std::printf("group:      %s%s (%s)\n", g.name.c_str(),
              g.implicit ? " [implicit: no default_group configured]" : "",
              g.index == snap->default_group().index && clients.empty() ? "default group: client in no group"
                                                                        : ("clients " + clients).c_str());
  std::string blocks;
  for (const auto& b : g.block_ids) blocks += (blocks.empty() ? "" : ", ") + b;
  std::printf("            mode %s, blocks [%s], safe search %s, bypass defences %s, block mode %s\n",
              g.mode == policy::GroupMode::allowlist ? "allowlist" : "categories", blocks.c_str(),
              policy::to_string(g.safe_search), g.bypass_defence ? "on" : "off",
              g.block_mode == policy::BlockMode::nxdomain ? "nxdomain" : "block page");
  for (const auto& w : g.allow_during)
    std::printf("            allows %s during schedule '%s'\n", snap->category_names(w.mask).c_str(),
                w.schedule->name.c_str());
  std::printf("time:       %s (unix %lld, zone %s)\n", fmt_local(snap->timezone(), now).c_str(),
              static_cast<long long>(now), snap->timezone().name().c_str());
  if (bdir.empty())
    std::printf("lists:      no bundle (no [lists] bundle and no --bundle)\n");
  else
    std::printf("lists:      bundle version %llu created %s (%s)\n",
                static_cast<unsigned long long>(bundle->version()), bundle->created().c_str(),
                bundle->dir().c_str());
  // Matching public list entries, most specific first, with their sources.
  const auto m = bundle->lookup(q);
  for (std::size_t i = 0; i + 1 < q.label_count() || (i == 0 && q.label_count() == 1); ++i) {
    const auto suffix = std::string(q.suffix(i));
    const auto src = bundle->sources_of(suffix);
    dns::QueryName one;
    if (!one.assign_text(suffix)) continue;
    const auto mm = bundle->lookup(one);
    if (static_cast<int>(i) == m.public_label || (!src.empty())) {
      std::string srcs;
      for (auto s : src)
        for (const auto& so : bundle->sources())
          if (so.id == s) srcs += (srcs.empty() ? "" : ", ") + so.path;
      std::printf("            list entry %s -> %s%s%s\n", suffix.c_str(),
                  snap->category_names(mm.categories).c_str(), srcs.empty() ? "" : " from ", srcs.c_str());
    }
  }
  if (m.confidential)
    std::printf("            a confidential (illegal-content) list matches; entries are not shown\n");
  std::printf("exceptions: %s\n", store_note.c_str());
  for (const auto& e : snap->exceptions()) {
    if (!dns::is_subdomain_of(q.text(), e.name)) continue;
    if (e.group != "*" && e.group != g.name) continue;
    std::printf("            #%lld %s %s for %s: %s (from %s until %s; by %s%s%s: %s)\n",
                static_cast<long long>(e.id), policy::to_string(e.kind), e.name.c_str(),
                e.group == "*" ? "every group" : e.group.c_str(), state_of(e, now, snap->require_approval()),
                fmt_local(snap->timezone(), e.starts).c_str(), fmt_local(snap->timezone(), e.expires).c_str(),
                e.requester.c_str(), e.approver.empty() ? "" : ", approved by ", e.approver.c_str(),
                e.reason.c_str());
  }
  std::vector<policy::ExplainStep> steps;
  auto v = policy::explain(q, 1, g, *snap, now, steps);
  // CNAME cloaking (policy::decide_chain): applies to an allowed or rewritten
  // answer, for every target on the chain the upstream answers with.
  std::vector<std::string> chain;
  const std::string cname_opt = a.get("cname");
  for (std::string_view rest = cname_opt; !rest.empty();) {
    const auto comma = rest.find(',');
    if (const auto t = dns::normalise_name(rest.substr(0, comma)); t)
      chain.push_back(t.name);
    else
      chain.emplace_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  if (v.action == policy::Action::allow || v.action == policy::Action::rewrite) {
    if (chain.empty()) {
      steps.push_back(
          {"cname-cloaking",
           "after the upstream answers: every CNAME target on the answer is decided like this name "
           "and a blocked target blocks the answer (try --cname TARGET)",
           false});
    } else if (policy::Verdict cv; policy::explain_chain(chain, 1, g, *snap, now, cv, steps)) {
      v = cv;
    }
  }
  std::printf("rules, in order:\n");
  int n = 0;
  for (const auto& s : steps)
    std::printf("  %2d. %s %-16s %s\n", ++n, s.decided ? "=>" : "  ", s.rule.c_str(), s.detail.c_str());
  std::string answer;
  switch (v.action) {
    case policy::Action::allow: answer = "ALLOW: resolved through the upstream servers"; break;
    case policy::Action::block:
      answer =
          "BLOCK: " + qtype + (qtype == "A" || qtype == "AAAA" ? " -> block page address" : " -> NODATA");
      break;
    case policy::Action::nxdomain: answer = "NXDOMAIN"; break;
    case policy::Action::nodata: answer = "NODATA (NOERROR, empty answer)"; break;
    case policy::Action::rewrite:
      answer = "REWRITE: CNAME " + std::string(v.rewrite_to) + " (then its addresses)";
      break;
  }
  std::printf("answer:     %s (reason %s)\n", answer.c_str(), v.reason);
  if (v.action == policy::Action::block || v.action == policy::Action::nxdomain) {
    if (v.illegal)
      std::printf("            EDE 16 Censored (illegal-content tier)\n");
    else if (v.categories)
      std::printf("            EDE 15 Blocked (%s)\n", snap->category_names(v.categories).c_str());
    else
      std::printf("            EDE 15 Blocked (%s)\n", v.reason);
  }
  if (v.ttl_cap) std::printf("            answer TTL capped at %u s\n", v.ttl_cap);
  return 0;
}

}  // namespace hedge::cli

namespace hedge::cli {

int check(int argc, char** argv) {
  auto usage = [] {
    std::fprintf(
        stderr,
        "usage: hedge check [--config FILE] [--bundle DIR] [--db PATH] [--at TIME] [--by WHO]\n"
        "                   [--no-record] [--json]\n"
        "The built-in filtering check: for every group, each category it blocks, the bundle's test\n"
        "names go through the real decision. The result is recorded as a filtering check (the\n"
        "console's Filtering checks page) unless --no-record, --at or --bundle. Exit 0: all blocked\n"
        "as expected; 1: something that must be blocked is not.\n");
    return 2;
  };
  const Args a = parse_args(argc, argv, 1, {"no-record", "json"}, {"config", "bundle", "db", "at", "by"});
  if (!a.error.empty()) {
    std::fprintf(stderr, "hedge check: %s\n", a.error.c_str());
    return usage();
  }
  if (!a.pos.empty()) return usage();
  Loaded l = load_config(a.get("config", kDefaultConfig));
  if (!l.ok) return 1;
  int64_t now = 0;
  if (!time_of(a, zone_of(l.cfg), "check", now)) return 2;
  Built built;
  if (!build_snapshot(a, l, "check", built)) return 1;
  const policy::CheckResult r = policy::filtering_check(*built.snap, now);
  if (a.has("json")) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : r.rows)
      rows.push_back({{"group", row.group},
                      {"category", row.category},
                      {"name", row.name},
                      {"outcome", policy::to_string(row.outcome)},
                      {"reason", row.reason}});
    std::printf("%s\n", nlohmann::json({{"ok", r.ok()},
                                        {"summary", r.summary()},
                                        {"tested", r.tested},
                                        {"failed", r.failed},
                                        {"rows", rows}})
                            .dump(2)
                            .c_str());
  } else {
    std::printf("%-12s %-16s %-44s %s\n", "GROUP", "CATEGORY", "TEST NAME", "RESULT");
    for (const auto& row : r.rows)
      std::printf("%-12s %-16s %-44s %s%s%s\n", row.group.c_str(), row.category.c_str(),
                  row.name.empty() ? "-" : row.name.c_str(), policy::to_string(row.outcome),
                  row.reason.empty() ? "" : ": ", row.reason.c_str());
    std::printf("%s\n", r.summary().c_str());
  }
  // A record says what the box itself does now: a check at another time or of
  // another bundle is for looking only (and cannot back-date the record).
  if (!a.has("no-record") && (a.has("at") || a.has("bundle"))) {
    std::printf("(not recorded: --at and --bundle check something other than the box as it is now)\n");
  } else if (!a.has("no-record")) {
    store::ConsoleStore st;
    std::string err;
    store::Check k;
    k.at = now;
    k.by = a.get("by", "hedge check (command line)");
    k.kind = "builtin";
    k.what = "built-in check, lists version " + std::to_string(built.bundle->version()) + ": " + r.summary();
    k.result = r.ok() ? "as expected" : "not as expected";
    k.action = r.details();
    if (!st.open(a.get("db", l.cfg.store_path), err) || !st.add_check(k, err)) {
      std::fprintf(stderr, "hedge check: the result was not recorded: %s\n", err.c_str());
      return 1;
    }
  }
  return r.ok() ? 0 : 1;
}

}  // namespace hedge::cli
