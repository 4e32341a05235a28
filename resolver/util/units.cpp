// util/units: duration, size and timestamp parsing (see header).
#include "util/units.hpp"

#include <ctime>

namespace hedge::util {

namespace {

// Leading decimal digits of s as a number; pos = first non-digit.
std::optional<uint64_t> leading_number(std::string_view s, std::size_t& pos) {
  uint64_t v = 0;
  pos = 0;
  while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
    const uint64_t d = static_cast<uint64_t>(s[pos] - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
    ++pos;
  }
  if (pos == 0) return std::nullopt;
  return v;
}

std::optional<uint64_t> mul(uint64_t a, uint64_t b) {
  if (b != 0 && a > UINT64_MAX / b) return std::nullopt;
  return a * b;
}

}  // namespace

std::optional<int64_t> parse_duration(std::string_view s) {
  std::size_t pos = 0;
  auto n = leading_number(s, pos);
  if (!n) return std::nullopt;
  const std::string_view unit = s.substr(pos);
  uint64_t f = 0;
  if (unit.empty() || unit == "s")
    f = 1;
  else if (unit == "m")
    f = 60;
  else if (unit == "h")
    f = 3600;
  else if (unit == "d")
    f = 86400;
  else
    return std::nullopt;
  auto v = mul(*n, f);
  if (!v || *v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return static_cast<int64_t>(*v);
}

std::optional<uint64_t> parse_size(std::string_view s) {
  std::size_t pos = 0;
  auto n = leading_number(s, pos);
  if (!n) return std::nullopt;
  const std::string_view unit = s.substr(pos);
  uint64_t f = 0;
  if (unit.empty() || unit == "B")
    f = 1;
  else if (unit == "K" || unit == "KB" || unit == "kB")
    f = 1000;
  else if (unit == "M" || unit == "MB")
    f = 1000000;
  else if (unit == "G" || unit == "GB")
    f = 1000000000;
  else if (unit == "KiB")
    f = 1024;
  else if (unit == "MiB")
    f = uint64_t{1} << 20;
  else if (unit == "GiB")
    f = uint64_t{1} << 30;
  else
    return std::nullopt;
  return mul(*n, f);
}

std::string iso_utc(int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<int64_t> parse_iso_utc(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SSZ, exactly 20 characters.
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[19] != 'Z')
    return std::nullopt;
  auto num = [&](std::size_t at, std::size_t len) -> int {
    int v = 0;
    for (std::size_t i = at; i < at + len; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), se = num(17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
      se > 60)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  const std::time_t t = timegm(&tm);
  // timegm normalises 31 February into March: reject dates that moved.
  std::tm back{};
  gmtime_r(&t, &back);
  if (back.tm_mday != d || back.tm_mon != mo - 1) return std::nullopt;
  return static_cast<int64_t>(t);
}

std::string human_duration(int64_t s) {
  if (s < 0) return "-" + human_duration(-s);
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m" + (s % 60 ? " " + std::to_string(s % 60) + "s" : "");
  if (s < 86400)
    return std::to_string(s / 3600) + "h" + (s % 3600 / 60 ? " " + std::to_string(s % 3600 / 60) + "m" : "");
  return std::to_string(s / 86400) + "d" +
         (s % 86400 / 3600 ? " " + std::to_string(s % 86400 / 3600) + "h" : "");
}

}  // namespace hedge::util
