// Unit: time zone reading (TZif + POSIX footer rule) and schedule windows.
// Expected values computed independently with Python's zoneinfo.
#include <doctest/doctest.h>

#include "policy/schedule.hpp"
#include "policy/timezone.hpp"

using namespace hedge::policy;

TEST_CASE("Europe/London offsets across both change-over days, and far future (footer rule)") {
  std::string err;
  auto tz = TimeZone::load("Europe/London", err);
  REQUIRE_MESSAGE(tz, err);
  struct Row {
    int64_t t;
    int32_t off;
  };
  const Row rows[] = {
      {1774745999, 0},    {1774746000, 3600},  // 2026-03-29 01:00 UTC: GMT -> BST
      {1792889999, 3600}, {1792890000, 0},     // 2026-10-25 01:00 UTC: BST -> GMT
      {2374102799, 0},    {2374102800, 3600},  // 2045 (beyond 2037: the POSIX rule)
      {2392851599, 3600}, {2392851600, 0},    {4078429199, 0}, {4078429200, 3600},
      {4096573199, 3600}, {4096573200, 0},    {0, 3600},  // 1970: British Standard Time (+1 all year)
  };
  for (const auto& r : rows) {
    CAPTURE(r.t);
    CHECK(tz->offset_at(r.t) == r.off);
  }
  const auto lt = tz->local(1774746000);  // Sun 29 Mar 2026 02:00 BST
  CHECK(lt.wday == 0);
  CHECK(lt.sod == 2 * 3600);
  // Local -> unix: ordinary, ambiguous (earlier wins) and non-existent times.
  CHECK(tz->to_unix(1774746000 + 3600) == 1774746000);
  CHECK(tz->to_unix(1792888200 + 3600) == 1792888200);         // 01:30 on 25 Oct (first, BST)
  CHECK(tz->to_unix(1774745999 + 1800) == 1774745999 + 1800);  // 01:29:59 in the spring gap
}

TEST_CASE("southern and western zones via the POSIX rule") {
  std::string err;
  auto syd = TimeZone::load("Australia/Sydney", err);
  auto ny = TimeZone::load("America/New_York", err);
  REQUIRE(syd);
  REQUIRE(ny);
  CHECK(syd->offset_at(2382000000) == 36000);
  CHECK(syd->offset_at(2397000000) == 39600);
  CHECK(ny->offset_at(2382000000) == -14400);
  CHECK(ny->offset_at(2397000000) == -18000);
}

TEST_CASE("time zone names are checked") {
  std::string err;
  CHECK_FALSE(TimeZone::load("../../etc/passwd", err));
  CHECK_FALSE(TimeZone::load("Europe/Nowhere", err));
  CHECK(TimeZone::load("UTC", err));
  CHECK_FALSE(TimeZone::from_tzif("TZif2 garbage", "x", err));
  CHECK_FALSE(TimeZone::from_tzif("", "x", err));
}

TEST_CASE("schedule windows: parse, midnight crossing, time left") {
  Window w;
  CHECK(parse_window("12:00-13:15", w));
  CHECK(w.start == 720);
  CHECK(w.end == 795);
  CHECK(parse_window("22:00-02:00", w));
  CHECK(parse_window("22:00-00:00", w));
  CHECK(w.end == 1440);
  CHECK(parse_window("00:00-24:00", w));
  for (const char* bad :
       {"12-13", "12:00", "25:00-26:00", "12:60-13:00", "12:00-12:00", "24:00-01:00", "a:bc-de:fg"})
    CHECK_FALSE(parse_window(bad, w));
  CHECK(parse_day("mon") == 1);
  CHECK(parse_day("Sunday") == 0);
  CHECK(parse_day("sat") == 6);
  CHECK(parse_day("funday") == -1);

  Schedule s;
  s.days = (1 << 5);  // Friday only
  s.windows = {{22 * 60, 2 * 60}};
  LocalTime lt;
  lt.wday = 5;
  lt.sod = 23 * 3600;
  CHECK(s.wall_seconds_left(lt) == 3 * 3600);
  lt.wday = 6;
  lt.sod = 3600;
  CHECK(s.wall_seconds_left(lt) == 3600);  // Saturday 01:00 belongs to Friday night
  lt.wday = 0;
  CHECK(s.wall_seconds_left(lt) == 0);  // Sunday 01:00: Saturday is not listed
  Schedule all_day;
  all_day.days = 1 << 3;
  lt.wday = 3;
  lt.sod = 86399;
  CHECK(all_day.wall_seconds_left(lt) == 1);
}
