// policy/timezone: local time for schedules without touching the process
// environment. GCC 12's libstdc++ has no std::chrono zones, so this reads the
// system tz database (TZif v2+, /usr/share/zoneinfo or $TZDIR) once, when a
// snapshot is built, and answers "what is the UTC offset at instant t" with a
// binary search plus the file's POSIX rule for instants after its last
// transition. Immutable after load; safe to share between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hedge::policy {

// Local wall-clock view of one instant.
struct LocalTime {
  int64_t local = 0;   // seconds since 1970-01-01 00:00 local wall time (unix + offset)
  int32_t offset = 0;  // seconds east of UTC in force at the instant
  int wday = 0;        // 0 = Sunday .. 6 = Saturday
  int sod = 0;         // second of the local day, 0..86399
};

class TimeZone {
 public:
  // UTC (no file needed).
  TimeZone() = default;
  // Loads a zone by IANA name ("Europe/London", "UTC"). Returns nullopt and
  // sets err if the name is malformed or the file is missing or corrupt.
  static std::optional<TimeZone> load(std::string_view name, std::string& err);
  // Parses TZif bytes (exposed for tests).
  static std::optional<TimeZone> from_tzif(std::string_view bytes, std::string name, std::string& err);

  const std::string& name() const noexcept { return m_name; }
  int32_t offset_at(int64_t unix_seconds) const noexcept;
  LocalTime local(int64_t unix_seconds) const noexcept;
  // Wall-clock local seconds -> unix seconds. For a time that exists
  // twice (autumn) the earlier instant wins; one in the spring gap is shifted forward.
  int64_t to_unix(int64_t local_seconds) const noexcept;

 private:
  struct Rule {  // POSIX TZ rule (the TZif footer), e.g. GMT0BST,M3.5.0/1,M10.5.0
    bool valid = false, has_dst = false;
    int32_t std_off = 0, dst_off = 0;  // seconds east of UTC
    struct Date {
      char kind = 'M';  // 'M' month.week.day, 'J' julian 1..365 (no leap), 'N' 0..365
      int m = 0, w = 0, d = 0, n = 0;
      int32_t time = 7200;  // local seconds of the day of the change
    } start, end;
  };
  static bool parse_rule(std::string_view s, Rule& r);
  static int64_t rule_change(const Rule::Date& d, int year) noexcept;  // local seconds at year start + day
  int32_t rule_offset(int64_t t) const noexcept;

  std::string m_name = "UTC";
  std::vector<int64_t> m_times;    // transition instants (unix), ascending
  std::vector<int32_t> m_offsets;  // offset in force from m_times[i]
  int32_t m_initial = 0;           // offset before the first transition
  Rule m_rule;
};

// Calendar helpers (proleptic Gregorian, days since 1970-01-01).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept;
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) noexcept;

}  // namespace hedge::policy
