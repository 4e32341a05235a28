// policy/timezone: TZif v2+ reader and POSIX TZ rule evaluation (RFC 8536).
#include "policy/timezone.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace hedge::policy {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) noexcept {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

namespace {

int64_t floor_div(int64_t a, int64_t b) noexcept {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

bool is_leap(int64_t y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int64_t y, unsigned m) noexcept {
  static constexpr unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

// Bounds-checked big-endian reader over untrusted bytes.
struct Reader {
  std::string_view b;
  std::size_t pos = 0;
  bool ok = true;
  bool need(std::size_t n) {
    if (!ok || b.size() - pos < n) ok = false;
    return ok;
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(b[pos++]);
    return v;
  }
  int64_t i64() {
    if (!need(8)) return 0;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(b[pos++]);
    return static_cast<int64_t>(v);
  }
  uint8_t u8() {
    if (!need(1)) return 0;
    return static_cast<uint8_t>(b[pos++]);
  }
  void skip(std::size_t n) {
    if (need(n)) pos += n;
  }
};

// POSIX TZ pieces: name, [+-]hh[:mm[:ss]].
bool parse_tzname(std::string_view& s) {
  if (s.empty()) return false;
  if (s[0] == '<') {
    const auto e = s.find('>');
    if (e == std::string_view::npos) return false;
    s.remove_prefix(e + 1);
    return true;
  }
  std::size_t i = 0;
  while (i < s.size() && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z'))) ++i;
  if (i < 3) return false;
  s.remove_prefix(i);
  return true;
}

bool parse_num(std::string_view& s, int& out, int maxv) {
  std::size_t i = 0;
  int v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 4) v = v * 10 + (s[i++] - '0');
  if (i == 0 || v > maxv) return false;
  s.remove_prefix(i);
  out = v;
  return true;
}

// Returns seconds; sign as written (+ = west for offsets, per POSIX).
bool parse_hms(std::string_view& s, int32_t& out, int maxh) {
  int sign = 1;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    if (s[0] == '-') sign = -1;
    s.remove_prefix(1);
  }
  int h = 0, m = 0, sec = 0;
  if (!parse_num(s, h, maxh)) return false;
  if (!s.empty() && s[0] == ':') {
    s.remove_prefix(1);
    if (!parse_num(s, m, 59)) return false;
    if (!s.empty() && s[0] == ':') {
      s.remove_prefix(1);
      if (!parse_num(s, sec, 59)) return false;
    }
  }
  out = sign * (h * 3600 + m * 60 + sec);
  return true;
}

}  // namespace

bool TimeZone::parse_rule(std::string_view s, Rule& r) {
  r = Rule{};
  if (!parse_tzname(s)) return false;
  int32_t west = 0;
  if (!parse_hms(s, west, 24)) return false;
  r.std_off = -west;
  r.dst_off = r.std_off;
  if (s.empty()) {
    r.valid = true;
    return true;
  }
  if (!parse_tzname(s)) return false;
  r.has_dst = true;
  r.dst_off = r.std_off + 3600;
  if (!s.empty() && s[0] != ',') {
    if (!parse_hms(s, west, 24)) return false;
    r.dst_off = -west;
  }
  auto parse_date = [&](Rule::Date& d) {
    if (s.empty() || s[0] != ',') return false;
    s.remove_prefix(1);
    if (!s.empty() && s[0] == 'M') {
      s.remove_prefix(1);
      d.kind = 'M';
      if (!parse_num(s, d.m, 12) || d.m < 1 || s.empty() || s[0] != '.') return false;
      s.remove_prefix(1);
      if (!parse_num(s, d.w, 5) || d.w < 1 || s.empty() || s[0] != '.') return false;
      s.remove_prefix(1);
      if (!parse_num(s, d.d, 6)) return false;
    } else if (!s.empty() && s[0] == 'J') {
      s.remove_prefix(1);
      d.kind = 'J';
      if (!parse_num(s, d.n, 365) || d.n < 1) return false;
    } else {
      d.kind = 'N';
      if (!parse_num(s, d.n, 365)) return false;
    }
    d.time = 7200;
    if (!s.empty() && s[0] == '/') {
      s.remove_prefix(1);
      if (!parse_hms(s, d.time, 167)) return false;
    }
    return true;
  };
  if (s.empty()) {
    // No rule given: POSIX default is US rules; tzdata always writes them.
    return false;
  }
  if (!parse_date(r.start) || !parse_date(r.end) || !s.empty()) return false;
  r.valid = true;
  return true;
}

int64_t TimeZone::rule_change(const Rule::Date& d, int year) noexcept {
  int64_t day = 0;
  if (d.kind == 'M') {
    const int64_t first = days_from_civil(year, static_cast<unsigned>(d.m), 1);
    const int wday_first = static_cast<int>(((first % 7) + 11) % 7);  // 1970-01-01 was a Thursday (4)
    int dom = 1 + ((d.d - wday_first + 7) % 7) + 7 * (d.w - 1);
    const int dim = static_cast<int>(days_in_month(year, static_cast<unsigned>(d.m)));
    while (dom > dim) dom -= 7;
    day = first + dom - 1;
  } else if (d.kind == 'J') {
    day = days_from_civil(year, 1, 1) + d.n - 1;
    if (is_leap(year) && d.n >= 60) ++day;
  } else {
    day = days_from_civil(year, 1, 1) + d.n;
  }
  return day * 86400 + d.time;
}

int32_t TimeZone::rule_offset(int64_t t) const noexcept {
  if (!m_rule.has_dst) return m_rule.std_off;
  int64_t y = 0;
  unsigned mo = 0, dd = 0;
  civil_from_days(floor_div(t + m_rule.std_off, 86400), y, mo, dd);
  const int year = static_cast<int>(y);
  // Start is given in standard local time, end in daylight local time.
  const int64_t start = rule_change(m_rule.start, year) - m_rule.std_off;
  const int64_t end = rule_change(m_rule.end, year) - m_rule.dst_off;
  const bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return dst ? m_rule.dst_off : m_rule.std_off;
}

std::optional<TimeZone> TimeZone::from_tzif(std::string_view bytes, std::string name, std::string& err) {
  TimeZone tz;
  tz.m_name = std::move(name);
  Reader r{bytes};
  auto header = [&](int& version, uint32_t c[6]) {
    if (!r.need(44) || bytes.substr(r.pos, 4) != "TZif") return false;
    const char v = bytes[r.pos + 4];
    version = v == 0 ? 1 : v - '0';
    r.skip(20);
    for (int i = 0; i < 6; ++i) c[i] = r.u32();  // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
    return r.ok && c[4] >= 1 && c[3] <= 100000 && c[4] <= 256 && c[5] <= 65536 && c[2] <= 1000;
  };
  int version = 0;
  uint32_t c[6];
  if (!header(version, c)) {
    err = "not a TZif file";
    return std::nullopt;
  }
  auto read_block = [&](bool wide) {
    const std::size_t tsz = wide ? 8 : 4;
    std::vector<int64_t> times(c[3]);
    for (auto& t : times) t = wide ? r.i64() : static_cast<int32_t>(r.u32());
    std::vector<uint8_t> idx(c[3]);
    for (auto& i : idx) i = r.u8();
    std::vector<int32_t> offs(c[4]);
    for (auto& o : offs) {
      o = static_cast<int32_t>(r.u32());
      r.skip(2);  // isdst, desigidx
    }
    r.skip(c[5] + c[2] * (tsz + 4) + c[1] + c[0]);
    if (!r.ok) return false;
    tz.m_times.clear();
    tz.m_offsets.clear();
    for (std::size_t i = 0; i < times.size(); ++i) {
      if (idx[i] >= offs.size()) return false;
      if (i > 0 && times[i] <= times[i - 1]) return false;
      tz.m_times.push_back(times[i]);
      tz.m_offsets.push_back(offs[idx[i]]);
    }
    tz.m_initial = offs[0];
    return true;
  };
  if (!read_block(false)) {
    err = "truncated or corrupt TZif data";
    return std::nullopt;
  }
  if (version >= 2) {
    if (!header(version, c) || !read_block(true)) {
      err = "truncated or corrupt TZif v2 data";
      return std::nullopt;
    }
    // Footer: "\nPOSIX-TZ\n".
    if (r.pos < bytes.size() && bytes[r.pos] == '\n') {
      const auto e = bytes.find('\n', r.pos + 1);
      if (e != std::string_view::npos && e > r.pos + 1) {
        Rule rule;
        if (parse_rule(bytes.substr(r.pos + 1, e - r.pos - 1), rule)) tz.m_rule = rule;
      }
    }
  }
  return tz;
}

std::optional<TimeZone> TimeZone::load(std::string_view name, std::string& err) {
  if (name == "UTC" || name == "Etc/UTC") return TimeZone{};
  bool ok = !name.empty() && name.size() < 128 && name[0] != '/';
  for (const char ch : name) {
    if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '/' ||
          ch == '_' || ch == '-' || ch == '+'))
      ok = false;
  }
  if (!ok || name.find("..") != std::string_view::npos) {
    err = "not a time zone name (expected e.g. Europe/London)";
    return std::nullopt;
  }
  const char* dir = std::getenv("TZDIR");
  const std::string path = std::string(dir && *dir ? dir : "/usr/share/zoneinfo") + "/" + std::string(name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    err = "unknown time zone (no " + path + ")";
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string e;
  auto tz = from_tzif(ss.str(), std::string(name), e);
  if (!tz) err = path + ": " + e;
  return tz;
}

int32_t TimeZone::offset_at(int64_t t) const noexcept {
  if (m_times.empty() || t < m_times.front()) {
    if (m_times.empty() && m_rule.valid) return rule_offset(t);
    return m_initial;
  }
  if (t >= m_times.back() && m_rule.valid) {
    // The footer rule governs everything after the last stored transition.
    return t == m_times.back() ? m_offsets.back() : rule_offset(t);
  }
  const auto it = std::upper_bound(m_times.begin(), m_times.end(), t);
  return m_offsets[static_cast<std::size_t>(it - m_times.begin() - 1)];
}

LocalTime TimeZone::local(int64_t t) const noexcept {
  LocalTime lt;
  lt.offset = offset_at(t);
  lt.local = t + lt.offset;
  const int64_t days = floor_div(lt.local, 86400);
  lt.sod = static_cast<int>(lt.local - days * 86400);
  lt.wday = static_cast<int>(((days % 7) + 11) % 7);
  return lt;
}

int64_t TimeZone::to_unix(int64_t local_seconds) const noexcept {
  // Try the offsets in force a day either side; prefer one that round-trips.
  const int32_t a = offset_at(local_seconds - 86400);
  const int32_t b = offset_at(local_seconds + 86400);
  const int64_t ua = local_seconds - a, ub = local_seconds - b;
  const bool oka = offset_at(ua) == a, okb = offset_at(ub) == b;
  if (oka && okb) return std::min(ua, ub);
  if (oka) return ua;
  if (okb) return ub;
  return ua;  // in a gap: read with the offset before it, i.e. shifted forward (as mktime does)
}

}  // namespace hedge::policy
