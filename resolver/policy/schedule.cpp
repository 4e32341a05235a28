// policy/schedule: weekday mask + minute windows (see schedule.hpp).
#include "policy/schedule.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace hedge::policy {

int64_t Schedule::wall_seconds_left(const LocalTime& lt) const noexcept {
  const int today = lt.wday, yesterday = (lt.wday + 6) % 7;
  const bool on_today = (days >> today) & 1, on_yesterday = (days >> yesterday) & 1;
  if (windows.empty()) return on_today ? 86400 - lt.sod : 0;
  for (const auto& w : windows) {
    const int s = w.start * 60, e = w.end * 60;
    if (w.start < w.end) {
      if (on_today && lt.sod >= s && lt.sod < e) return e - lt.sod;
    } else {
      if (on_today && lt.sod >= s) return 86400 - lt.sod + e;  // started today, ends tomorrow
      if (on_yesterday && lt.sod < e) return e - lt.sod;       // started yesterday
    }
  }
  return 0;
}

int64_t Schedule::seconds_left(const TimeZone& tz, const LocalTime& lt) const noexcept {
  const int64_t wall = wall_seconds_left(lt);
  if (wall <= 0) return 0;
  // The window ends at a wall-clock instant; convert it back through the zone
  // so a DST change inside the window is counted in real seconds.
  const int64_t now = lt.local - lt.offset;
  const int64_t end = tz.to_unix(lt.local + wall);
  return std::max<int64_t>(1, end - now);
}

int64_t Schedule::seconds_until_start(const TimeZone& tz, const LocalTime& lt) const noexcept {
  if (wall_seconds_left(lt) > 0 || days == 0) return 0;
  const int64_t now = lt.local - lt.offset;
  const int64_t today = lt.local - lt.sod;  // local midnight, as local seconds
  int64_t best = 0;
  for (int d = 0; d <= 7; ++d) {
    const int wday = (lt.wday + d) % 7;
    if (!((days >> wday) & 1)) continue;
    const auto consider = [&](int start_minute) {
      const int64_t local_start = today + int64_t{d} * 86400 + start_minute * 60;
      if (local_start <= lt.local) return;
      const int64_t left = tz.to_unix(local_start) - now;
      if (left > 0 && (best == 0 || left < best)) best = left;
    };
    if (windows.empty()) consider(0);
    for (const auto& w : windows) consider(w.start);
    if (best) break;  // later days only start later
  }
  return best;
}

int parse_day(std::string_view s) noexcept {
  static constexpr const char* names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                          "thursday", "friday", "saturday"};
  if (s.size() < 3 || s.size() > 9) return -1;
  char low[10] = {};
  for (std::size_t i = 0; i < s.size(); ++i)
    low[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
  const std::string_view l(low, s.size());
  for (int d = 0; d < 7; ++d) {
    const std::string_view n(names[d]);
    if (l == n || l == n.substr(0, 3)) return d;
  }
  return -1;
}

namespace {
bool parse_hhmm(std::string_view s, int& minutes) noexcept {
  if (s.size() != 5 || s[2] != ':') return false;
  for (int i : {0, 1, 3, 4})
    if (s[static_cast<std::size_t>(i)] < '0' || s[static_cast<std::size_t>(i)] > '9') return false;
  const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return false;
  minutes = h * 60 + m;
  return true;
}
}  // namespace

bool parse_window(std::string_view s, Window& w) noexcept {
  const auto dash = s.find('-');
  if (dash == std::string_view::npos) return false;
  int a = 0, b = 0;
  if (!parse_hhmm(s.substr(0, dash), a) || !parse_hhmm(s.substr(dash + 1), b)) return false;
  if (a == 1440 || a == b) return false;  // "24:00-..." and empty windows are mistakes
  w.start = static_cast<uint16_t>(a);
  w.end = static_cast<uint16_t>(b == 0 ? 1440 : b);  // "22:00-00:00" ends at midnight
  return true;
}

}  // namespace hedge::policy
