// Unit: the built-in filtering check (policy/filtering_check), table-driven:
// groups x the categories they block x the bundle's test names, at a time,
// with exceptions -> outcome per row. The decision is the real decide().
#include <doctest/doctest.h>

#include <toml++/toml.h>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>

#include "bundle_fixture.hpp"
#include "policy/filtering_check.hpp"
#include "policy/policy_config.hpp"
#include "policy/snapshot.hpp"

using namespace hedge;
using policy::CheckOutcome;

namespace {

constexpr const char* kConfig = R"(
[[schedule]]
name = "lunchtime"
days = ["mon", "tue", "wed", "thu", "fri"]
times = ["12:00-13:15"]

[[group]]
name = "staff"
clients = ["10.10.0.0/16"]
block = ["pornography"]

[[group]]
name = "pupils"
clients = ["10.20.0.0/16"]
block = ["pornography", "games", "drugs", "social-media"]
allow_during = { lunchtime = ["games"] }

[[group]]
name = "infants"
clients = ["10.30.0.0/24"]
mode = "allowlist"
allow = ["bbc.co.uk"]

[policy]
default_group = "staff"
timezone = "Europe/London"
)";

constexpr int64_t kMon1000 = 1795428000;  // Mon 2026-11-23 10:00 GMT
constexpr int64_t kMon1230 = 1795437000;  // Mon 2026-11-23 12:30 GMT (lunchtime)

struct Env {
  std::string dir;
  std::shared_ptr<const policy::PolicySnapshot> snap;

  explicit Env(std::vector<policy::Exception> ex = {}) {
    auto cats = test::standard_categories();
    for (auto& c : cats) {
      // Test names for some categories only; drugs has no list at all;
      // social-media has a list but no test name.
      if (c.id == "pornography" || c.id == "games" || c.id == "child-abuse")
        c.test_names = {c.id + ".filtering-check.invalid"};
    }
    dir = test::write_bundle(cats, {{"porn.example", "pornography"},
                                    {"pornography.filtering-check.invalid", "pornography"},
                                    {"game.example", "games"},
                                    {"games.filtering-check.invalid", "games"},
                                    {"social.example", "social-media"},
                                    {"child-abuse.filtering-check.invalid", "child-abuse"}});
    std::string err;
    auto bundle = lists::Bundle::open(dir, true, err);
    REQUIRE_MESSAGE(bundle, err);
    policy::PolicyConfig cfg;
    auto root = toml::parse(std::string_view{kConfig}, std::string_view{"hedge.toml"});
    util::ConfigErrors errs("hedge.toml");
    policy::parse_policy_config(root, errs, cfg);
    for (const auto& e : errs.list()) FAIL(e.str());
    snap = policy::build_policy_snapshot(cfg, bundle, std::move(ex), errs);
    for (const auto& e : errs.list()) FAIL(e.str());
    REQUIRE(snap);
  }
  ~Env() { std::filesystem::remove_all(dir); }
};

// (group, category) -> outcome, for the rows of one run.
std::map<std::pair<std::string, std::string>, CheckOutcome> outcomes(const policy::CheckResult& r) {
  std::map<std::pair<std::string, std::string>, CheckOutcome> m;
  for (const auto& row : r.rows) m[{row.group, row.category}] = row.outcome;
  return m;
}

}  // namespace

TEST_CASE("filtering check: every group's blocked categories, at a time") {
  Env env;
  struct Row {
    int64_t at;
    const char* group;
    const char* category;
    CheckOutcome want;
  };
  const Row rows[] = {
      {kMon1000, "staff", "pornography", CheckOutcome::blocked},
      {kMon1000, "staff", "child-abuse", CheckOutcome::blocked},  // the illegal tier: every group
      {kMon1000, "pupils", "pornography", CheckOutcome::blocked},
      {kMon1000, "pupils", "games", CheckOutcome::blocked},
      {kMon1230, "pupils", "games", CheckOutcome::allowed_by_schedule},  // lunchtime: as configured
      {kMon1000, "pupils", "drugs", CheckOutcome::no_list},              // blocked, but no list to block with
      {kMon1000, "pupils", "social-media", CheckOutcome::no_test_name},
      {kMon1000, "infants", "pornography", CheckOutcome::blocked},  // an allowlist group blocks everything
      {kMon1000, "infants", "games", CheckOutcome::blocked},
  };
  for (const auto& r : rows) {
    CAPTURE(r.group);
    CAPTURE(r.category);
    CAPTURE(r.at);
    const auto got = outcomes(policy::filtering_check(*env.snap, r.at));
    const auto it = got.find({r.group, r.category});
    REQUIRE(it != got.end());
    CHECK(it->second == r.want);
  }
  // What is not blocked for a group is not tested for it.
  const auto res = policy::filtering_check(*env.snap, kMon1000);
  const auto got = outcomes(res);
  CHECK(got.count({"staff", "games"}) == 0);
  CHECK(got.count({"infants", "drugs"}) == 0);  // no list: nothing to report for an allowlist group
  CHECK(res.ok());
  CHECK(res.failed == 0);
  // drugs (pupils), and terrorism (the illegal tier, no list in this bundle: staff and pupils).
  CHECK(res.no_list == 2);
  CHECK(got.at({"staff", "terrorism"}) == CheckOutcome::no_list);
  // staff: porn + child-abuse; pupils: porn, games, child-abuse; infants: porn, games, child-abuse.
  CHECK(res.tested == 8);
  CHECK(res.details() == "no list in the bundle for drugs, terrorism");
  CHECK(
      res.summary() ==
      "8 test names in 3 groups (infants, pupils, staff): all blocked as expected; 2 blocked categories have "
      "no list in the bundle");
  // A confidential category's test name never appears in the record.
  for (const auto& row : res.rows)
    if (row.category == "child-abuse") CHECK(row.name.empty());
}

TEST_CASE("filtering check: an allow exception over a test name is a failure, with its reason") {
  policy::Exception e;
  e.id = 1;
  e.name = "filtering-check.invalid";  // covers every test name under it
  e.group = "staff";
  e.kind = policy::ExceptionKind::allow;
  e.requester = "ms.jones";
  e.reason = "testing";
  e.created = e.starts = kMon1000 - 60;
  e.expires = kMon1000 + 3600;
  Env env({e});
  const auto res = policy::filtering_check(*env.snap, kMon1000);
  CHECK_FALSE(res.ok());
  CHECK(res.failed ==
        1);  // staff/pornography; the illegal tier cannot be allowed, so child-abuse still passes
  const auto got = outcomes(res);
  CHECK(got.at({"staff", "pornography"}) == CheckOutcome::not_blocked);
  CHECK(got.at({"staff", "child-abuse"}) == CheckOutcome::blocked);
  CHECK(got.at({"pupils", "pornography"}) == CheckOutcome::blocked);  // another group's exception
  CHECK(res.details().find(
            "staff/pornography: pornography.filtering-check.invalid not blocked (exception-allow)") !=
        std::string::npos);
  // After it expires the check passes again.
  CHECK(policy::filtering_check(*env.snap, kMon1000 + 3600).ok());
}
