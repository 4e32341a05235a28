// Unit: the updater's pure decisions (blocklists/update/verify, state) and
// the units they use, as tables: what each input must produce.
#include <doctest/doctest.h>

#include <string>

#include "blocklists/update/https_client.hpp"
#include "blocklists/update/state.hpp"
#include "blocklists/update/verify.hpp"
#include "config/config.hpp"
#include "util/units.hpp"

using namespace hedge;
using namespace hedge::update;

TEST_CASE("units: durations and sizes") {
  struct Row {
    const char* in;
    int64_t want;  // -1 = rejected
  } rows[] = {{"90s", 90},
              {"30m", 1800},
              {"12h", 43200},
              {"7d", 604800},
              {"36h", 129600},
              {"5", 5},
              {"", -1},
              {"h", -1},
              {"1w", -1},
              {"-1d", -1},
              {"1.5h", -1},
              {"12 h", -1},
              {"99999999999999999999d", -1}};
  for (const auto& r : rows) {
    CAPTURE(r.in);
    auto d = util::parse_duration(r.in);
    if (r.want < 0)
      CHECK(!d);
    else
      CHECK(d.value_or(-1) == r.want);
  }
  CHECK(util::parse_size("200MB").value_or(0) == 200'000'000);
  CHECK(util::parse_size("64KiB").value_or(0) == 65536);
  CHECK(util::parse_size("1GB").value_or(0) == 1'000'000'000);
  CHECK(util::parse_size("512").value_or(0) == 512);
  CHECK(!util::parse_size("12XB"));
  CHECK(!util::parse_size("MB"));
}

TEST_CASE("units: ISO UTC times round-trip and reject near misses") {
  CHECK(util::iso_utc(0) == "1970-01-01T00:00:00Z");
  CHECK(util::parse_iso_utc("2026-12-02T02:00:00Z").value_or(0) == 1796176800);
  CHECK(util::parse_iso_utc(util::iso_utc(1764000000)).value_or(0) == 1764000000);
  for (const char* bad : {"2026-02-31T00:00:00Z", "2026-12-02 02:00:00Z", "2026-12-02T02:00:00",
                          "2026-13-01T00:00:00Z", "1969-12-31T23:59:59Z", "2026-12-02T25:00:00Z", ""}) {
    CAPTURE(bad);
    CHECK(!util::parse_iso_utc(bad));
  }
}

TEST_CASE("https url parsing: https only, port, path") {
  auto u = parse_https_url("https://lists.trust.example/hedge/");
  REQUIRE(u);
  CHECK(u->host == "lists.trust.example");
  CHECK(u->port == "443");
  CHECK(u->path == "/hedge/");
  u = parse_https_url("https://localhost:8443");
  REQUIRE(u);
  CHECK(u->port == "8443");
  CHECK(u->path == "/");
  u = parse_https_url("https://[::1]:9443/x/");
  REQUIRE(u);
  CHECK(u->host == "::1");
  CHECK(u->str() == "https://[::1]:9443/x/");
  for (const char* bad : {"http://lists.example/", "https://", "https://user@host/", "https://h:0/",
                          "https://h:99999/", "https://h:abc/", "https://h/a b", "ftp://h/"}) {
    CAPTURE(bad);
    CHECK(!parse_https_url(bad));
  }
}

TEST_CASE("backoff: capped exponential with jitter in [1/2, 1]") {
  CHECK(backoff_seconds(0, 0.5) == 0);
  struct Row {
    uint32_t n;
    int64_t full;
  } rows[] = {{1, 300},  {2, 600},   {3, 1200},  {4, 2400},    {5, 4800},
              {6, 9600}, {7, 14400}, {8, 14400}, {1000, 14400}};
  for (const auto& r : rows) {
    CAPTURE(r.n);
    CHECK(backoff_seconds(r.n, 0.0) == r.full / 2);
    CHECK(backoff_seconds(r.n, 0.999) <= r.full);
    CHECK(backoff_seconds(r.n, 0.999) >= r.full - r.full / 1000 - 1);
    CHECK(backoff_seconds(r.n, 7.0) <= r.full);  // out-of-range jitter is clamped
  }
}

TEST_CASE("scheduled runs: backoff, nightly slot, catch-up") {
  const int64_t day = 86400, midnight = 1796169600;  // 2026-12-02T00:00:00Z
  UpdateState s;
  s.seed = 42;  // slot = 01:00 + 42 s with a 01:00-05:00 window
  CHECK(nightly_slot(42, 60, 240) == 3600 + 42);
  CHECK(nightly_slot(240 * 60 + 5, 60, 240) == 3600 + 5);
  // Never succeeded: due at once.
  CHECK(scheduled_due(s, midnight, 60, 240).due);
  s.last_success = s.last_attempt = midnight - day + 3700;  // yesterday after the slot
  CHECK(!scheduled_due(s, midnight + 3000, 60, 240).due);   // before today's slot
  CHECK(scheduled_due(s, midnight + 3700, 60, 240).due);    // after it
  s.last_attempt = midnight + 3650;
  CHECK(!scheduled_due(s, midnight + 3700, 60, 240).due);  // already ran tonight
  // Off for two days: catch up whatever the hour.
  s.last_success = s.last_attempt = midnight - 3 * day;
  CHECK(scheduled_due(s, midnight + 12 * 3600, 60, 240).due);
  // Failures: wait for next_retry, then go.
  s.consecutive_failures = 2;
  s.next_retry = midnight + 600;
  const Due d = scheduled_due(s, midnight + 599, 60, 240);
  CHECK(!d.due);
  CHECK(d.why.find("backing off") != std::string::npos);
  CHECK(scheduled_due(s, midnight + 600, 60, 240).due);
}

TEST_CASE("state: round trip, unknown keys ignored, corrupt refused") {
  UpdateState s;
  s.high_water = 1764000123;
  s.trusted_time = 1764000000;
  s.failures["tls"] = 3;
  s.last_error = "https://x/: \"quoted\"";
  s.in_progress = true;
  std::string err;
  auto back = parse_state(serialise_state(s), err);
  REQUIRE(back);
  CHECK(back->high_water == s.high_water);
  CHECK(back->trusted_time == s.trusted_time);
  CHECK(back->failures.at("tls") == 3);
  CHECK(back->last_error == s.last_error);
  CHECK(back->in_progress);
  CHECK(parse_state("{\"high_water\": 5, \"future_key\": [1]}", err)->high_water == 5);
  CHECK(!parse_state("{\"high_water\": ", err));
  CHECK(!parse_state("[1,2]", err));
}

TEST_CASE("failure reasons have stable metric labels") {
  for (int i = 0; i <= static_cast<int>(Reason::other); ++i) {
    const auto r = static_cast<Reason>(i);
    CAPTURE(i);
    CHECK(reason_from_string(to_string(r)) == r);
  }
  CHECK(!reason_from_string("nonsense"));
}

namespace {
ManifestInfo manifest(uint64_t serial, int64_t valid_until, const char* channel = "stable",
                      uint64_t bytes = 1000) {
  ManifestInfo m;
  m.serial = serial;
  m.created = valid_until - 7 * 86400;
  m.valid_until = valid_until;
  m.channel = channel;
  m.total_bytes = bytes;
  return m;
}
}  // namespace

TEST_CASE("judge: every refusal, and the downgrade override") {
  InstallPolicy p;
  p.pointer_serial = 200;
  p.installed = 150;
  p.high_water = 180;
  p.trusted_now = 1'000'000;
  p.max_bytes = 10'000;
  struct Row {
    const char* what;
    ManifestInfo m;
    bool allow_downgrade;
    Reason want;
  } rows[] = {
      {"newer, valid", manifest(200, 2'000'000), false, Reason::none},
      {"pointer says 200, manifest 199 (mix)", manifest(199, 2'000'000), false, Reason::manifest},
      {"other channel", manifest(200, 2'000'000, "beta"), false, Reason::channel},
      {"expired", manifest(200, 999'999), false, Reason::expired},
      {"expires exactly now", manifest(200, 1'000'000), false, Reason::expired},
      {"over max_bytes", manifest(200, 2'000'000, "stable", 10'001), false, Reason::oversize},
      {"expired even with --allow-downgrade", manifest(200, 10), true, Reason::expired},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    InstallPolicy q = p;
    q.allow_downgrade = r.allow_downgrade;
    CHECK(judge(r.m, q).reason == r.want);
  }
  // Serial checks: against installed and against the high-water mark.
  InstallPolicy q = p;
  q.pointer_serial = 150;
  CHECK(judge(manifest(150, 2'000'000), q).reason == Reason::downgrade);  // == installed
  q.pointer_serial = 170;
  CHECK(judge(manifest(170, 2'000'000), q).reason == Reason::downgrade);  // installed < 170 <= high water
  q.allow_downgrade = true;
  CHECK(judge(manifest(170, 2'000'000), q).reason == Reason::none);
  q = p;
  q.held = 200;
  CHECK(judge(manifest(200, 2'000'000), q).reason == Reason::downgrade);  // rolled back by a person
  CHECK(trusted_now(100, 200) == 200);
  CHECK(trusted_now(300, 200) == 300);
}

TEST_CASE("pointer and manifest parsing") {
  std::string err;
  auto p = parse_pointer(pointer_json(1764000000, "stable", "2026-11-24T14:00:00Z"), err);
  REQUIRE(p);
  CHECK(p->serial == 1764000000);
  CHECK(p->channel == "stable");
  CHECK(!parse_pointer("{\"format\":1,\"serial\":0}", err));
  CHECK(!parse_pointer("{\"serial\":5}", err));
  CHECK(!parse_pointer("garbage", err));
  const std::string sha(64, 'a');
  const std::string good =
      R"({"format":1,"version":7,"created":"2026-11-24T14:00:00Z","valid_until":"2026-12-01T14:00:00Z",
    "channel":"stable","files":{"public.cdb":{"sha256":")" +
      sha + R"(","size":2048},
    "report.json":{"sha256":")" +
      sha + R"(","size":10}}})";
  ManifestInfo m;
  REQUIRE(parse_manifest(good, m, err));
  CHECK(m.serial == 7);
  CHECK(m.total_bytes == 2058);
  CHECK(m.files.size() == 2);
  struct Bad {
    const char* what;
    std::string from, to;
  } bads[] = {{"path in a name", "report.json", "../etc/passwd"},
              {"manifest listed as a file", "report.json", "manifest.sig"},
              {"hidden name", "report.json", ".hidden"},
              {"no valid_until", R"("valid_until":"2026-12-01T14:00:00Z",)", ""},
              {"bad time", "2026-12-01T14:00:00Z", "tomorrow"},
              {"short hash", sha + R"(","size":10)", "abc\",\"size\":10"},
              {"no public.cdb", "public.cdb", "other.cdb"}};
  for (const auto& b : bads) {
    CAPTURE(b.what);
    std::string t = good;
    const auto at = t.find(b.from);
    REQUIRE(at != std::string::npos);
    t.replace(at, b.from.size(), b.to);
    ManifestInfo x;
    CHECK(!parse_manifest(t, x, err));
  }
}

TEST_CASE("config: [update] keys, defaults and errors with lines") {
  config::Config c;
  config::ConfigErrors errs("t.toml");
  const std::string ok = R"([upstream]
servers = ["192.0.2.53"]
[lists]
bundle = "/var/lib/hedge/lists/current"
[update]
url = "https://lists.trust.example/hedge"
pubkey = "/etc/hedge/trust.pub"
ca_file = "/etc/ssl/certs/ca-certificates.crt"
max_age = "36h"
max_bytes = "200MB"
channel = "beta"
window = "23:00-03:00"
)";
  REQUIRE(config::load_config_text(ok, "t.toml", c, errs));
  CHECK(c.update.url == "https://lists.trust.example/hedge/");
  CHECK(c.update.max_age_s == 36 * 3600);
  CHECK(c.update.max_bytes == 200'000'000);
  CHECK(c.update.channel == "beta");
  CHECK(c.update.window_start_min == 23 * 60);
  CHECK(c.update.window_len_min == 240);
  CHECK(config::control_socket_path(c.update, c.lists.bundle) == "/var/lib/hedge/lists/hedge.sock");
  CHECK(config::update_state_path(c.update, c.lists.bundle) == "/var/lib/hedge/lists/update-state.json");
  struct Row {
    const char* line;
    const char* want;
  } rows[] = {{"url = \"http://lists.example/\"",
               "t.toml:2: update.url: 'http://lists.example/': must be an https:// URL"},
              {"max_age = \"forever\"", "t.toml:2: update.max_age: 'forever': expected a duration"},
              {"max_bytes = \"lots\"", "t.toml:2: update.max_bytes: 'lots': expected a size"},
              {"channel = \"Stable!\"", "t.toml:2: update.channel: 'Stable!'"},
              {"window = \"1am-5am\"", "t.toml:2: update.window: '1am-5am'"},
              {"urll = \"x\"", "t.toml:2: update.urll: unknown key"},
              {"max_age = 36", "t.toml:2: update.max_age: must be a string"}};
  for (const auto& r : rows) {
    CAPTURE(r.line);
    config::Config c2;
    config::ConfigErrors e2("t.toml");
    config::load_config_text(
        std::string("[update]\n") + r.line + "\n[upstream]\nservers = [\"192.0.2.53\"]\n", "t.toml", c2, e2);
    std::string all;
    for (const auto& e : e2.list()) all += e.str() + "\n";
    CHECK(all.find(r.want) != std::string::npos);
  }
}

#include "blocklists/update/status.hpp"

TEST_CASE("update health: max_age, valid-until, clock behind trusted time") {
  UpdateState s;
  s.trusted_time = 1'000'000;
  ServedBundle b{7, 990'000, 1'500'000};
  const int64_t max_age = 36 * 3600;
  struct Row {
    const char* what;
    int64_t now;
    bool degraded, clock;
    const char* reason;
  } rows[] = {
      {"fresh", 1'000'100, false, false, ""},
      {"older than max_age", 990'000 + max_age + 1, true, false, "more than max_age"},
      {"past valid-until", 1'500'000, true, false, "valid-until"},
      {"clock at 1970", 86'400, true, true, "clock earlier than trusted time"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    const auto h = update_health(s, b, max_age, r.now);
    CHECK(h.degraded == r.degraded);
    CHECK(h.clock_behind == r.clock);
    if (*r.reason) {
      REQUIRE(!h.reasons.empty());
      bool found = false;
      for (const auto& x : h.reasons) found = found || x.find(r.reason) != std::string::npos;
      CHECK(found);
    }
  }
  // A clock at 1970 does not make old lists look fresh: the trusted time is used for age.
  b.created = 1'000'000 - max_age - 10;
  CHECK(update_health(s, b, max_age, 86'400).reasons.size() == 2);
}

TEST_CASE("update metrics and status json") {
  UpdateState s;
  s.last_success = 1764000000;
  s.failures["tls"] = 2;
  s.trusted_time = 1764000000;
  const ServedBundle b{1764000000, 1764000000, 1764604800};
  const std::string m = update_metrics_text(s, b, 1764000100);
  CHECK(m.find("hedge_update_last_success_timestamp_seconds 1764000000\n") != std::string::npos);
  CHECK(m.find("hedge_update_failures_total{reason=\"tls\"} 2\n") != std::string::npos);
  CHECK(m.find("hedge_update_failures_total{reason=\"hash\"} 0\n") != std::string::npos);
  CHECK(m.find("hedge_bundle_serial 1764000000\n") != std::string::npos);
  CHECK(m.find("hedge_clock_behind_trusted_time 0\n") != std::string::npos);
  const auto j = update_status_json(s, b, 36 * 3600, 1764000100);
  CHECK(j.at("last_success") == "2025-11-24T16:00:00Z");
  CHECK(j.at("last_error").is_null());
  CHECK(j.at("failures").at("tls") == 2);
  CHECK(j.at("degraded") == false);
}
