// Unit: the policy decision, table-driven (client, name, time -> verdict).
// Times are Europe/London; unix values were computed independently (Python zoneinfo).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "bundle_fixture.hpp"
#include "policy/decide.hpp"
#include "policy/policy_config.hpp"
#include "policy/snapshot.hpp"

using namespace hedge;
using policy::Action;

namespace {

constexpr const char* kConfig = R"(
[[schedule]]
name = "lunchtime"
days = ["mon", "tue", "wed", "thu", "fri"]
times = ["12:00-13:15"]

[[schedule]]
name = "weekend-nights"
days = ["sat", "sun"]
times = ["22:00-02:00"]

[[schedule]]
name = "sunday-early"
days = ["sun"]
times = ["00:30-03:00"]

[[group]]
name = "staff"
clients = ["10.10.0.0/16"]
block = ["pornography", "gambling", "malware"]

[[group]]
name = "pupils"
clients = ["10.20.0.0/16"]
block = ["pornography", "gambling", "malware", "social-media", "games", "bypass", "streaming"]
allow_during = { lunchtime = ["games"], weekend-nights = ["social-media"], sunday-early = ["streaming"] }
safe_search = "strict"

[[group]]
name = "sixthform"
clients = ["10.20.5.0/24"]
block = ["pornography", "games"]
safe_search = "moderate"
block_mode = "nxdomain"

[[group]]
name = "infants"
clients = ["10.30.0.0/24"]
mode = "allowlist"
allow = ["bbc.co.uk", "purplemash.com"]

[[group]]
name = "library"
clients = ["listen:192.0.2.53"]
block = ["games"]
allow = ["games.school.example"]
deny = ["distraction.example"]
bypass_defence = false

[[group]]
name = "guests"
block = ["pornography", "gambling", "malware", "bypass", "social-media", "games", "chat"]

[policy]
default_group = "guests"
timezone = "Europe/London"
)";

struct Env {
  std::string dir;
  policy::PolicyConfig cfg;
  std::shared_ptr<const lists::Bundle> bundle;
  std::shared_ptr<const policy::PolicySnapshot> snap;

  explicit Env(std::vector<policy::Exception> ex = {}, bool require_approval = false) {
    dir = test::write_bundle(test::standard_categories(), {{"porn.example", "pornography"},
                                                           {"bet.example", "gambling"},
                                                           {"casino.bet2.example", "gambling"},
                                                           {"game.example", "games"},
                                                           {"games.school.example", "games"},
                                                           {"social.example", "social-media"},
                                                           {"mixed.example", "social-media"},
                                                           {"mixed.example", "games"},
                                                           {"stream.example", "streaming"},
                                                           {"vpn.example", "bypass"},
                                                           {"malware.example", "malware"},
                                                           {"bad.bbc.co.uk", "malware"},
                                                           {"abuse.example", "child-abuse"},
                                                           {"terror.example", "terrorism"},
                                                           {"onlyexact.example", "pornography", true}});
    std::string err;
    bundle = lists::Bundle::open(dir, true, err);
    REQUIRE_MESSAGE(bundle, err);
    auto root = toml::parse(std::string_view{kConfig}, std::string_view{"hedge.toml"});
    util::ConfigErrors errs("hedge.toml");
    policy::parse_policy_config(root, errs, cfg);
    for (const auto& e : errs.list()) FAIL(e.str());
    cfg.require_approval = require_approval;
    cfg.always_allow = {"block.hedge.example"};
    snap = policy::build_policy_snapshot(cfg, bundle, std::move(ex), errs);
    for (const auto& e : errs.list()) FAIL(e.str());
  }
  ~Env() { std::filesystem::remove_all(dir); }

  const policy::Group& group_of(const char* ip, const char* local = nullptr) const {
    sockaddr_storage p{}, l{};
    auto fill = [](sockaddr_storage& ss, const char* a) {
      if (std::strchr(a, ':')) {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, a, &s6->sin6_addr);
      } else {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, a, &s4->sin_addr);
      }
    };
    fill(p, ip);
    if (local) fill(l, local);
    return policy::classify(*snap, reinterpret_cast<sockaddr*>(&p),
                            local ? reinterpret_cast<sockaddr*>(&l) : nullptr);
  }

  policy::Verdict decide(const char* client, const char* name, int64_t now,
                         const char* local = nullptr) const {
    dns::QueryName q;
    REQUIRE(q.assign_text(name));
    return policy::decide(q, 1, group_of(client, local), *snap, now);
  }
};

constexpr int64_t kMonLunch = 1795437000;        // Mon 2026-11-23 12:30 GMT
constexpr int64_t kMonLunchLast = 1795439699;    // 13:14:59
constexpr int64_t kMonLunchEnd = 1795439700;     // 13:15:00
constexpr int64_t kMonBeforeLunch = 1795435199;  // 11:59:59

}  // namespace

TEST_CASE("classify: CIDR, nested most-specific, listen address, IPv4-mapped, default") {
  Env env;
  CHECK(env.group_of("10.10.3.4").name == "staff");
  CHECK(env.group_of("10.20.1.1").name == "pupils");
  CHECK(env.group_of("10.20.5.9").name == "sixthform");  // nested /24 inside pupils' /16 wins
  CHECK(env.group_of("10.30.0.200").name == "infants");
  CHECK(env.group_of("10.30.1.1").name == "guests");
  CHECK(env.group_of("::ffff:10.10.0.1").name == "staff");
  CHECK(env.group_of("2001:db8::1").name == "guests");
  CHECK(env.group_of("10.20.1.1", "192.0.2.53").name == "library");  // listen address beats the CIDR
  CHECK(env.group_of("10.20.1.1", "192.0.2.54").name == "pupils");
}

TEST_CASE("decision table") {
  policy::Exception allow_bet;
  allow_bet.id = 1;
  allow_bet.name = "bet.example";
  allow_bet.group = "staff";
  allow_bet.kind = policy::ExceptionKind::allow;
  allow_bet.starts = allow_bet.created = kMonLunch - 3600;
  allow_bet.expires = kMonLunch + 600;
  policy::Exception deny_news;
  deny_news.id = 2;
  deny_news.name = "news.example";
  deny_news.group = "*";
  deny_news.kind = policy::ExceptionKind::deny;
  deny_news.starts = kMonLunch - 3600;
  policy::Exception allow_abuse = allow_bet;  // an allow can never reach the illegal tier
  allow_abuse.id = 3;
  allow_abuse.name = "abuse.example";
  allow_abuse.group = "*";
  policy::Exception allow_terror = allow_abuse;
  allow_terror.id = 4;
  allow_terror.name = "terror.example";
  policy::Exception allow_porn_infants = allow_bet;
  allow_porn_infants.id = 5;
  allow_porn_infants.name = "lesson.example";
  allow_porn_infants.group = "infants";
  policy::Exception revoked = allow_bet;
  revoked.id = 6;
  revoked.name = "game.example";
  revoked.group = "pupils";
  revoked.revoked = kMonLunch - 10;
  Env env({allow_bet, deny_news, allow_abuse, allow_terror, allow_porn_infants, revoked});

  struct Row {
    const char* client;
    const char* name;
    int64_t now;
    Action action;
    const char* reason;
    bool illegal = false;
    bool confidential = false;
    uint32_t ttl_cap = 0;
    const char* rewrite = "";
  };
  const Row rows[] = {
      // Illegal tier first, for every group, whatever exceptions say.
      {"10.10.0.1", "abuse.example", kMonLunch, Action::block, "illegal", true, true},
      {"10.10.0.1", "img.abuse.example", kMonLunch, Action::block, "illegal", true, true},
      {"10.10.0.1", "terror.example", kMonLunch, Action::block, "illegal", true, true},
      {"10.30.0.1", "abuse.example", kMonLunch, Action::block, "illegal", true, true},
      {"10.20.5.1", "abuse.example", kMonLunch, Action::nxdomain, "illegal", true, true},  // group block_mode
      // Deny exceptions for all groups, before any allow.
      {"10.10.0.1", "news.example", kMonLunch, Action::block, "exception-deny"},
      {"10.10.0.1", "www.news.example", kMonLunch, Action::block, "exception-deny"},
      {"10.20.1.1", "news.example", kMonLunch, Action::block, "exception-deny"},
      // Allow exception for staff: until expiry, to the second, TTL capped.
      {"10.10.0.1", "bet.example", kMonLunch, Action::allow, "exception-allow", false, false, 600},
      {"10.10.0.1", "bet.example", kMonLunch + 599, Action::allow, "exception-allow", false, false, 1},
      {"10.10.0.1", "bet.example", kMonLunch + 600, Action::block, "category"},
      {"10.20.1.1", "bet.example", kMonLunch, Action::block, "category"},  // other group unaffected
      {"10.20.1.1", "game.example", kMonBeforeLunch, Action::block, "category", false, false,
       1},  // revoked exception
      // Group allow / deny names, listen-address group.
      {
          "10.99.0.1",
          "games.school.example",
          kMonBeforeLunch,
          Action::block,
          "category",
          false,
          false,
          0,
          "",
      },
      {"10.20.1.1", "games.school.example", kMonBeforeLunch, Action::block, "category", false, false, 1},
      // Allowlist mode.
      {"10.30.0.1", "bbc.co.uk", kMonLunch, Action::allow, "default"},
      {"10.30.0.1", "www.bbc.co.uk", kMonLunch, Action::allow, "default"},
      {"10.30.0.1", "bad.bbc.co.uk", kMonLunch, Action::block, "category"},
      {"10.30.0.1", "purplemash.com", kMonLunch, Action::allow, "default"},
      {"10.30.0.1", "example.com", kMonLunch, Action::block, "allowlist"},
      {"10.30.0.1", "notbbc.co.uk", kMonLunch, Action::block, "allowlist"},
      {"10.30.0.1", "lesson.example", kMonLunch, Action::allow, "exception-allow", false, false, 600},
      {"10.30.0.1", "block.hedge.example", kMonLunch, Action::allow, "always-allow"},
      {"10.30.0.1", "use-application-dns.net", kMonLunch, Action::block, "allowlist"},
      // Bypass defences: on for every group (staff too); the bypass category is a category.
      {"10.20.1.1", "use-application-dns.net", kMonLunch, Action::nxdomain, "bypass-defence"},
      {"10.20.1.1", "mask.icloud.com", kMonLunch, Action::nxdomain, "bypass-defence"},
      {"10.20.1.1", "mask-h2.icloud.com", kMonLunch, Action::nxdomain, "bypass-defence"},
      {"10.20.1.1", "_dns.resolver.arpa", kMonLunch, Action::nodata, "bypass-defence"},
      {"10.20.1.1", "vpn.example", kMonLunch, Action::block, "category"},
      {"10.99.0.1", "mask.icloud.com", kMonLunch, Action::nxdomain, "bypass-defence"},
      {"10.10.0.1", "use-application-dns.net", kMonLunch, Action::nxdomain, "bypass-defence"},
      {"10.10.0.1", "_dns.resolver.arpa", kMonLunch, Action::nodata, "bypass-defence"},
      {"10.10.0.1", "vpn.example", kMonLunch, Action::allow, "default"},
      {"10.20.1.1", "icloud.com", kMonLunch, Action::allow, "default"},
      // Safe search.
      {"10.20.1.1", "www.google.com", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "forcesafesearch.google.com"},
      {"10.20.1.1", "google.co.uk", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "forcesafesearch.google.com"},
      {"10.20.1.1", "www.google.de", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "forcesafesearch.google.com"},
      {"10.20.1.1", "www.google.com.au", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "forcesafesearch.google.com"},
      {"10.20.1.1", "www.google.co.jp", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "forcesafesearch.google.com"},
      {"10.20.1.1", "www.google.com.br", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "forcesafesearch.google.com"},
      {"10.20.1.1", "www.google.ie", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "forcesafesearch.google.com"},
      {"10.20.1.1", "forcesafesearch.google.com", kMonLunch, Action::allow, "default"},
      {"10.20.1.1", "mail.google.com", kMonLunch, Action::allow, "default"},
      {"10.20.1.1", "www.youtube.com", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "restrict.youtube.com"},
      {"10.20.1.1", "m.youtube.com", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "restrict.youtube.com"},
      {"10.20.1.1", "youtubei.googleapis.com", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "restrict.youtube.com"},
      {"10.20.1.1", "youtube.googleapis.com", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "restrict.youtube.com"},
      {"10.20.1.1", "www.youtube-nocookie.com", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "restrict.youtube.com"},
      {"10.20.5.1", "www.youtube.com", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "restrictmoderate.youtube.com"},
      {"10.20.1.1", "www.bing.com", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "strict.bing.com"},
      {"10.20.1.1", "duckduckgo.com", kMonLunch, Action::rewrite, "safe-search", false, false, 0,
       "safe.duckduckgo.com"},
      {"10.10.0.1", "www.google.com", kMonLunch, Action::allow, "default"},  // staff: off
      // Categories with schedules: lunchtime flips at the edges, to the second.
      {"10.20.1.1", "game.example", kMonBeforeLunch, Action::block, "category", false, false, 1},
      {"10.20.1.1", "game.example", kMonLunch, Action::allow, "schedule", false, false, 45 * 60},
      {"10.20.1.1", "www.game.example", kMonLunchLast, Action::allow, "schedule", false, false, 1},
      {"10.20.1.1", "game.example", kMonLunchEnd, Action::block, "category", false, false, 81900},
      {"10.20.1.1", "mixed.example", kMonLunch, Action::block, "category", false, false,
       466200},  // social-media still blocked
      {"10.20.1.1", "porn.example", kMonLunch, Action::block, "category"},
      {"10.20.1.1", "onlyexact.example", kMonLunch, Action::block, "category"},
      {"10.20.1.1", "www.onlyexact.example", kMonLunch, Action::allow, "default"},
      {"10.20.5.1", "game.example", kMonLunch, Action::nxdomain, "category"},
      {"10.10.0.1", "game.example", kMonBeforeLunch, Action::allow, "default"},
      {"10.10.0.1", "porn.example", kMonLunch, Action::block, "category"},
      {"10.99.0.1", "social.example", kMonLunch, Action::block, "category"},
      {"10.99.0.1", "example.org", kMonLunch, Action::allow, "default"},
      // Summer time (BST): lunchtime is 11:00-12:15 UTC.
      {"10.20.1.1", "game.example", 1781521199, Action::block, "category", false, false, 1},
      {"10.20.1.1", "game.example", 1781521200, Action::allow, "schedule", false, false, 75 * 60},
      {"10.20.1.1", "game.example", 1781525699, Action::allow, "schedule", false, false, 1},
      // Saturday noon: not a school day; Monday's window opens in 47 h (clocks go forward Sunday)
      {"10.20.1.1", "game.example", 1774699200, Action::block, "category", false, false, 169200},
      // A window across midnight (Sat and Sun 22:00-02:00), owned by the day it starts.
      {"10.20.1.1", "social.example", 1795906800, Action::allow, "schedule", false, false,
       3 * 3600},  // Sat 23:00
      {"10.20.1.1", "social.example", 1795917599, Action::allow, "schedule", false, false,
       1},  // Sun 01:59:59
      {"10.20.1.1", "social.example", 1795917600, Action::block, "category", false, false,
       72000},  // Sun 02:00
      {"10.20.1.1", "social.example", 1796000400, Action::allow, "schedule", false, false,
       3600},  // Mon 01:00 (Sun night)
      {"10.20.1.1", "social.example", 1796086800, Action::block, "category", false, false,
       421200},  // Tue 01:00
      {"10.20.1.1", "social.example", 1795827600, Action::block, "category", false, false,
       75600},  // Sat 01:00 (Fri night)
      // DST change days: the TTL counts real seconds to the window's wall-clock end.
      {"10.20.1.1", "stream.example", 1774745100, Action::allow, "schedule", false, false,
       4500},  // 29 Mar 00:45 GMT -> 03:00 BST
      {"10.20.1.1", "stream.example", 1774751400, Action::block, "category", false, false,
       594000},  // 29 Mar 03:30 BST
      {"10.20.1.1", "stream.example", 1792885500, Action::allow, "schedule", false, false,
       11700},  // 25 Oct 00:45 BST -> 03:00 GMT
      {"10.20.1.1", "stream.example", 1792891800, Action::allow, "schedule", false, false,
       5400},  // 01:30 GMT (2nd)
  };
  for (const auto& r : rows) {
    CAPTURE(r.client);
    CAPTURE(r.name);
    CAPTURE(r.now);
    const auto v = env.decide(r.client, r.name, r.now);
    CHECK(policy::to_string(v.action) == std::string(policy::to_string(r.action)));
    CHECK(std::string(v.reason) == r.reason);
    CHECK(v.illegal == r.illegal);
    CHECK(v.confidential == r.confidential);
    CHECK(v.ttl_cap == r.ttl_cap);
    CHECK(v.rewrite_to == std::string_view(r.rewrite));
  }
  // The listen-address group: group allow and deny names.
  auto v = env.decide("10.20.1.1", "games.school.example", kMonBeforeLunch, "192.0.2.53");
  CHECK(std::string(v.reason) == "group-allow");
  v = env.decide("10.20.1.1", "game.example", kMonBeforeLunch, "192.0.2.53");
  CHECK(std::string(v.reason) == "category");
  v = env.decide("10.20.1.1", "x.distraction.example", kMonBeforeLunch, "192.0.2.53");
  CHECK(std::string(v.reason) == "group-deny");
  CHECK(v.matched_label == 1);
}

TEST_CASE("categories and matched label for EDE text") {
  Env env;
  dns::QueryName q;
  REQUIRE(q.assign_text("a.b.porn.example"));
  const auto v = policy::decide(q, 1, env.group_of("10.10.0.1"), *env.snap, kMonLunch);
  CHECK(v.action == Action::block);
  CHECK(v.matched_label == 2);
  CHECK(env.snap->category_names(v.categories) == "pornography");
}

TEST_CASE("approval: an exception applies only once approved when approval is required") {
  policy::Exception e;
  e.id = 7;
  e.name = "bet.example";
  e.group = "staff";
  e.kind = policy::ExceptionKind::allow;
  e.starts = kMonLunch - 60;
  e.expires = kMonLunch + 60;
  {
    Env env({e}, true);
    CHECK(env.decide("10.10.0.1", "bet.example", kMonLunch).action == Action::block);
  }
  e.approved = kMonLunch - 30;
  e.approver = "head";
  {
    Env env({e}, true);
    CHECK(env.decide("10.10.0.1", "bet.example", kMonLunch).action == Action::allow);
  }
  e.approved = 0;
  {
    Env env({e}, false);
    CHECK(env.decide("10.10.0.1", "bet.example", kMonLunch).action == Action::allow);
  }
}

TEST_CASE("an exception can start in the future (a lesson next week)") {
  policy::Exception e;
  e.id = 8;
  e.name = "extremism-study.example";
  e.group = "*";
  e.kind = policy::ExceptionKind::deny;
  e.starts = kMonLunch + 7 * 86400;
  e.expires = e.starts + 3600;
  Env env({e});
  CHECK(env.decide("10.10.0.1", "extremism-study.example", kMonLunch).action == Action::allow);
  CHECK(env.decide("10.10.0.1", "extremism-study.example", e.starts).action == Action::block);
  CHECK(env.decide("10.10.0.1", "extremism-study.example", e.expires).action == Action::allow);
}

TEST_CASE("no groups at all: one implicit default group blocks every category") {
  const std::string dir = test::write_bundle(
      test::standard_categories(),
      {{"game.example", "games"}, {"ads.example", "ads"}, {"abuse.example", "child-abuse"}});
  std::string err;
  auto bundle = lists::Bundle::open(dir, false, err);
  REQUIRE(bundle);
  policy::PolicyConfig cfg;
  util::ConfigErrors errs("x.toml");
  policy::parse_policy_config(toml::table{}, errs, cfg);
  auto snap = policy::build_policy_snapshot(cfg, bundle, {}, errs);
  REQUIRE(errs.empty());
  REQUIRE(snap->groups().size() == 1);
  const auto& g = policy::classify(*snap, nullptr, nullptr);
  CHECK(g.name == "default");
  CHECK(g.implicit);
  for (const char* n : {"game.example", "ads.example"}) {
    dns::QueryName q;
    REQUIRE(q.assign_text(n));
    CHECK(policy::decide(q, 1, g, *snap, 0).action == Action::block);
  }
  dns::QueryName q;
  REQUIRE(q.assign_text("abuse.example"));
  CHECK(policy::decide(q, 1, g, *snap, 0).illegal);
  REQUIRE(q.assign_text("example.com"));
  CHECK(policy::decide(q, 1, g, *snap, 0).action == Action::allow);
  std::filesystem::remove_all(dir);
}

TEST_CASE("explain records every rule in order and agrees with decide") {
  Env env;
  dns::QueryName q;
  REQUIRE(q.assign_text("game.example"));
  std::vector<policy::ExplainStep> steps;
  const auto& g = env.group_of("10.20.1.1");
  const auto v = policy::explain(q, 1, g, *env.snap, kMonLunch, steps);
  const auto d = policy::decide(q, 1, g, *env.snap, kMonLunch);
  CHECK(v.action == d.action);
  CHECK(v.ttl_cap == d.ttl_cap);
  REQUIRE(steps.size() >= 6);
  CHECK(steps.front().rule == "illegal-tier");
  CHECK(steps.back().decided);
  CHECK(steps.back().rule == "category");
  bool saw_schedule = false;
  for (const auto& s : steps)
    saw_schedule |= s.rule == "schedule" && s.detail.find("lunchtime") != std::string::npos;
  CHECK(saw_schedule);
  steps.clear();
  REQUIRE(q.assign_text("abuse.example"));
  policy::explain(q, 1, g, *env.snap, kMonLunch, steps);
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].detail.find("child-abuse") == std::string::npos);  // confidential: never named
}

TEST_CASE("decide_chain: CNAME cloaking is decided next to decide() and explained") {
  Env env;
  const auto& pupils = env.group_of("10.20.1.1");
  const std::vector<std::string> clean = {"cdn.example.net", "edge.example.net"};
  const std::vector<std::string> cloaked = {"cdn.example.net", "x.porn.example"};
  const std::vector<std::string> doh = {"use-application-dns.net"};
  policy::Verdict v;
  CHECK_FALSE(policy::decide_chain(clean, 1, pupils, *env.snap, 1'795'000'000, v));
  REQUIRE(policy::decide_chain(cloaked, 1, pupils, *env.snap, 1'795'000'000, v));
  CHECK(v.action == Action::block);
  // An NXDOMAIN defence on a target still answers the question with a block.
  if (policy::decide_chain(doh, 1, pupils, *env.snap, 1'795'000'000, v)) CHECK(v.action == Action::block);
  std::vector<policy::ExplainStep> steps;
  REQUIRE(policy::explain_chain(cloaked, 1, pupils, *env.snap, 1'795'000'000, v, steps));
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].rule == "cname-cloaking");
  CHECK_FALSE(steps[0].decided);
  CHECK(steps[1].decided);
  CHECK(steps[1].detail.find("x.porn.example") != std::string::npos);
}

TEST_CASE("bypass defences: only an explicit bypass_defence = false turns them off, with a warning") {
  Env env;
  // library (listen:192.0.2.53) says bypass_defence = false.
  CHECK(env.decide("10.1.1.1", "use-application-dns.net", 1'795'000'000, "192.0.2.53").action ==
        Action::allow);
  CHECK(env.decide("10.1.1.1", "_dns.resolver.arpa", 1'795'000'000, "192.0.2.53").action == Action::allow);
  CHECK(env.decide("10.1.1.1", "mask.icloud.com", 1'795'000'000, "192.0.2.53").action == Action::allow);
  auto root = toml::parse(std::string_view{kConfig}, std::string_view{"hedge.toml"});
  util::ConfigErrors errs("hedge.toml");
  policy::PolicyConfig cfg;
  policy::parse_policy_config(root, errs, cfg);
  auto snap = policy::build_policy_snapshot(cfg, env.bundle, {}, errs);
  CHECK(errs.empty());
  REQUIRE(errs.warnings().size() == 1);
  const std::string w = errs.warnings()[0].str();
  CHECK(w.find("hedge.toml:") == 0);
  CHECK(w.find("group[4].bypass_defence: bypass defences are off for group 'library'") != std::string::npos);
  CHECK(errs.warnings()[0].line > 0);
}

TEST_CASE(
    "an allow entry or exception for an illegal-tier name: a warning with file:line: key:, still blocked") {
  Env env;
  constexpr const char* kAllowIllegal = R"([[group]]
name = "staff"
clients = ["10.10.0.0/16"]
block = ["gambling"]
allow = ["abuse.example", "fine.example"]

[policy]
default_group = "staff"
)";
  auto root = toml::parse(std::string_view{kAllowIllegal}, std::string_view{"hedge.toml"});
  util::ConfigErrors errs("hedge.toml");
  policy::PolicyConfig cfg;
  policy::parse_policy_config(root, errs, cfg);
  REQUIRE(errs.empty());
  policy::Exception ex;
  ex.id = 7;
  ex.name = "abuse.example";
  ex.group = "*";
  ex.kind = policy::ExceptionKind::allow;
  ex.starts = 1;
  ex.expires = 4'000'000'000;
  auto snap = policy::build_policy_snapshot(cfg, env.bundle, {ex}, errs);
  CHECK(errs.empty());  // the config still loads
  REQUIRE(errs.warnings().size() == 2);
  CHECK(errs.warnings()[0].str() ==
        "hedge.toml:1: group[0].allow: 'abuse.example' is in the illegal tier of the loaded bundle: it stays "
        "blocked (the illegal tier overrides `allow`)");
  CHECK(errs.warnings()[1].str().find("exception #7: allow exception for 'abuse.example'") !=
        std::string::npos);
  dns::QueryName q;
  REQUIRE(q.assign_text("www.abuse.example"));
  const auto& g = snap->default_group();
  CHECK(policy::decide(q, 1, g, *snap, 1'795'000'000).action == Action::block);
  std::vector<policy::ExplainStep> steps;
  const auto v = policy::explain(q, 1, g, *snap, 1'795'000'000, steps);
  CHECK(v.illegal);
  std::string all;
  for (const auto& s : steps) all += s.rule + ": " + s.detail + "\n";
  CHECK(all.find("allow exception #7 for abuse.example is overridden") != std::string::npos);
  CHECK(all.find("`allow` entry abuse.example is overridden") != std::string::npos);
}
