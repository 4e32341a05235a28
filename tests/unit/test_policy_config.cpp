// Unit: [[schedule]], [[group]], [policy], [store] validation. Every row is a
// config that must be rejected, with the key and line of the first error; the
// issue's documented example must parse cleanly.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "policy/policy_config.hpp"

using namespace hedge;

namespace {

util::ConfigErrors parse(const std::string& text, policy::PolicyConfig& out) {
  util::ConfigErrors errs("hedge.toml");
  auto root = toml::parse(std::string_view{text}, std::string_view{"hedge.toml"});
  policy::parse_policy_config(root, errs, out);
  return errs;
}

}  // namespace

TEST_CASE("the documented example parses") {
  const std::string text = R"(
[[schedule]]
name = "lunchtime"
days = ["mon", "tue", "wed", "thu", "fri"]
times = ["12:00-13:15"]                  # local time; windows may cross midnight
[[group]]
name = "staff"
clients = ["10.10.0.0/16"]               # CIDRs; also allowed: listen addresses (one VLAN per group)
block = ["pornography", "gambling", "malware"]
[[group]]
name = "pupils"
clients = ["10.20.0.0/16"]
block = ["pornography", "gambling", "malware", "social-media", "games", "bypass"]
allow_during = { lunchtime = ["games"] } # categories allowed only inside a schedule
safe_search = "strict"                   # off | moderate | strict
[[group]]
name = "infants"
clients = ["10.30.0.0/24"]
mode = "allowlist"                       # only the names in `allow` (and the block page) resolve
allow = ["bbc.co.uk", "purplemash.com"]
[[group]]
name = "guests"
block = ["pornography", "gambling", "malware", "bypass"]
[policy]
default_group = "guests"                 # clients in no group
timezone = "Europe/London"
require_approval = true
exception_default_days = 7
exception_max_days = 30
[store]
path = "/var/lib/hedge/hedge.db"
)";
  policy::PolicyConfig cfg;
  auto errs = parse(text, cfg);
  for (const auto& e : errs.list()) FAIL(e.str());
  REQUIRE(cfg.groups.size() == 4);
  CHECK(cfg.groups[1].allow_during.size() == 1);
  CHECK(cfg.groups[1].safe_search == policy::SafeSearch::strict);
  CHECK(cfg.groups[2].mode == policy::GroupMode::allowlist);
  CHECK(cfg.default_group == "guests");
  CHECK(cfg.require_approval);
  CHECK(cfg.exception_max_seconds == 30 * 86400);
  CHECK(cfg.schedules[0].days == 0x3e);
}

TEST_CASE("config rejection table") {
  struct Row {
    const char* text;
    const char* key;      // key of the (first) error
    int line;             // its line
    const char* message;  // substring of its message
  };
  const Row rows[] = {
      {"[[group]]\nname = \"a\"\nblok = [\"games\"]\n", "group[0].blok", 3, "unknown key"},
      {"[policy]\ndefault_grup = \"x\"\n", "policy.default_grup", 2, "unknown key"},
      {"[store]\npath = \"/x.db\"\nsize = 3\n", "store.size", 3, "unknown key"},
      {"[[schedule]]\nname = \"s\"\nday = [\"mon\"]\n", "schedule[0].day", 3, "unknown key"},
      {"[[group]]\nname = \"a\"\nblock = [\"games\", \"gamez\"]\n", "group[0].block", 3,
       "unknown category 'gamez'"},
      {"[[schedule]]\nname = \"s\"\n[[group]]\nname = \"a\"\nblock = [\"games\"]\nallow_during = { s = "
       "[\"child-abuse\"] }\n",
       "group[0].allow_during.s", 6, "illegal tier"},
      {"[[schedule]]\nname = \"s\"\n[[group]]\nname = \"a\"\nblock = [\"games\"]\nallow_during = { s = "
       "[\"terrorism\"] }\n",
       "group[0].allow_during.s", 6, "can never be allowed"},
      {"[[schedule]]\nname = \"s\"\n[[group]]\nname = \"a\"\nblock = [\"games\"]\nallow_during = { s = "
       "[\"chat\"] }\n",
       "group[0].allow_during.s", 6, "not in this group's `block`"},
      {"[[group]]\nname = \"a\"\nblock = [\"games\"]\nallow_during = { nope = [\"games\"] }\n",
       "group[0].allow_during.nope", 4, "no [[schedule]] named 'nope'"},
      {"[[group]]\nname = \"a\"\nclients = [\"10.0.0.0/8\"]\n[[group]]\nname = \"b\"\nclients = "
       "[\"10.0.0.0/8\"]\n",
       "group[1].clients", 4, "also a client of group 'a'"},
      {"[[group]]\nname = \"a\"\nclients = [\"listen:192.0.2.1\", \"listen:192.0.2.1\"]\n",
       "group[0].clients", 1, "also a client of group 'a'"},
      {"[[group]]\nname = \"a\"\nclients = [\"10.0.0.1/8\"]\n", "group[0].clients[0]", 3, "host bits set"},
      {"[[group]]\nname = \"a\"\nclients = [\"10.0.0.0/33\"]\n", "group[0].clients[0]", 3, "over 32"},
      {"[[group]]\nname = \"a\"\nclients = [\"staffroom\"]\n", "group[0].clients[0]", 3, "not an IP address"},
      {"[[group]]\nname = \"a\"\nclients = \"10.0.0.0/8\"\n", "group[0].clients", 3, "array of strings"},
      {"[[group]]\nname = \"a\"\n[[group]]\nname = \"a\"\n", "group[1].name", 4, "duplicate group"},
      {"[[group]]\nname = \"default\"\n", "group[0].name", 2, "reserved"},
      {"[[group]]\nclients = []\n", "group[0].name", 1, "missing"},
      {"[[group]]\nname = \"a\"\nmode = \"allowlist\"\n", "group[0].allow", 1, "at least one name"},
      {"[[group]]\nname = \"a\"\nmode = \"whitelist\"\n", "group[0].mode", 3, "categories"},
      {"[[group]]\nname = \"a\"\nallow = [\"bad name!\"]\n", "group[0].allow", 3, "not a host name"},
      {"[[group]]\nname = \"a\"\nsafe_search = \"on\"\n", "group[0].safe_search", 3, "strict"},
      {"[[group]]\nname = \"a\"\nsafe_search = true\n", "group[0].safe_search", 3, "must be a string"},
      {"[[group]]\nname = \"a\"\nbypass_defence = \"yes\"\n", "group[0].bypass_defence", 3, "true or false"},
      {"[[group]]\nname = \"a\"\nblock_mode = \"refuse\"\n", "group[0].block_mode", 3, "nxdomain"},
      {"[[schedule]]\nname = \"s\"\ndays = [\"mon\", \"funday\"]\n", "schedule[0].days", 3, "unknown day"},
      {"[[schedule]]\nname = \"s\"\ntimes = [\"12:00-25:00\"]\n", "schedule[0].times", 3, "HH:MM-HH:MM"},
      {"[[schedule]]\nname = \"s\"\n[[schedule]]\nname = \"s\"\n", "schedule[1].name", 4,
       "duplicate schedule"},
      {"schedule = 3\n", "schedule", 1, "array of tables"},
      {"[policy]\ndefault_group = \"nobody\"\n", "policy.default_group", 2, "no [[group]] named 'nobody'"},
      {"[policy]\ntimezone = \"Europe/Atlantis\"\n", "policy.timezone", 2, "unknown time zone"},
      {"[policy]\nrequire_approval = \"yes\"\n", "policy.require_approval", 2, "true or false"},
      {"[policy]\nexception_max_days = 0\n", "policy.exception_max_days", 2, "between 1 and 366"},
      {"[policy]\nexception_default_days = 40\n", "policy.exception_default_days", 1, "longer than"},
      {"[store]\npath = \"hedge.db\"\n", "store.path", 2, "absolute"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    policy::PolicyConfig cfg;
    auto errs = parse(r.text, cfg);
    REQUIRE_FALSE(errs.empty());
    const auto& e = errs.list().front();
    CHECK(e.key == r.key);
    CHECK(e.line == r.line);
    CHECK_MESSAGE(e.message.find(r.message) != std::string::npos, e.str());
    CHECK(e.str().starts_with("hedge.toml:"));
  }
}

TEST_CASE("every error is collected, not just the first") {
  policy::PolicyConfig cfg;
  auto errs = parse("[[group]]\nname = \"a\"\nblock = [\"x\", \"y\"]\nfoo = 1\n[policy]\nbar = 2\n", cfg);
  CHECK(errs.list().size() == 4);
}

TEST_CASE("docs/policy.md: every toml example parses without errors") {
  std::ifstream in(std::string(HEDGE_SOURCE_DIR) + "/docs/policy.md");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  int blocks = 0;
  for (std::size_t pos = doc.find("```toml\n"); pos != std::string::npos; pos = doc.find("```toml\n", pos)) {
    pos += 8;
    const auto end = doc.find("```", pos);
    REQUIRE(end != std::string::npos);
    policy::PolicyConfig cfg;
    auto errs = parse(doc.substr(pos, end - pos), cfg);
    for (const auto& e : errs.list()) FAIL(e.str());
    CHECK_FALSE(cfg.groups.empty());
    ++blocks;
    pos = end;
  }
  CHECK(blocks >= 1);
}
