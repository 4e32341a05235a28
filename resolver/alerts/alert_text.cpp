// alerts/alert_text: alert wording, retry delays, mail framing (see header).
#include "alerts/alert_text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>

#include "util/units.hpp"

namespace hedge::alerts {

namespace {

std::string when(int64_t t) {
  std::string s = util::iso_utc(t);  // 2026-12-02T05:30:00Z
  if (s.size() >= 19) s = s.substr(0, 10) + " " + s.substr(11, 5) + " UTC";
  return s;
}

// Header-safe: printable ASCII only, no CR/LF, bounded.
std::string header_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
    if (out.size() >= 200) break;
  }
  return out;
}

std::string crlf(std::string_view body) {
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r') continue;
    if (body[i] == '\n') {
      out += "\r\n";
      continue;
    }
    out += body[i];
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

}  // namespace

AlertText incident_text(const IncidentFacts& f, std::string_view school) {
  AlertText t;
  const bool illegal = f.tier == "illegal";
  t.subject = std::string("Hedge safeguarding incident ") + std::to_string(f.id) + ": " +
              (illegal ? "illegal content" : "alert category") + " (" + f.category + ")";
  t.body = std::string(school.empty() ? "" : std::string(school) + "\n\n") +
           "A device tried to reach a site Hedge blocks as " +
           (illegal ? "illegal content (the tier no one can unblock). "
                    : "a category your school asked to be alerted about. ") +
           "It was blocked.\n\n" + "Incident:  " + std::to_string(f.id) + "\n" + "Category:  " + f.category +
           "\n" + "Tier:      " + f.tier + "\n" + "Group:     " + (f.grp.empty() ? "-" : f.grp) + "\n" +
           "Time:      " + when(f.at) + "\n\n" +
           "Which device and which site are in the Hedge console (Incidents page), for the Designated "
           "Safeguarding Lead only. This message deliberately does not contain them.\n" +
           "Please look at the incident and acknowledge it with what was done.\n";
  return t;
}

AlertText digest_text(const DigestFacts& f, std::string_view school) {
  AlertText t;
  t.subject = "Hedge weekly filtering summary, week of " + when(f.from).substr(0, 10);
  std::string b = std::string(school.empty() ? "" : std::string(school) + "\n\n") + "From " + when(f.from) +
                  " to " + when(f.to) + ".\n\n";
  int64_t total = 0;
  for (const auto& [c, n] : f.by_category) total += n;
  b += "Blocked attempts: " + std::to_string(total) + "\n";
  auto cats = f.by_category;
  std::sort(cats.begin(), cats.end(), [](const auto& a, const auto& b2) {
    return a.second != b2.second ? a.second > b2.second : a.first < b2.first;
  });
  for (const auto& [c, n] : cats)
    b += "  " + (c.empty() ? std::string("(no category)") : c) + ": " + std::to_string(n) + "\n";
  b += "Safeguarding incidents: " + std::to_string(f.incidents) +
       " (illegal content: " + std::to_string(f.illegal_incidents) + ")\n";
  b += "Incidents still to acknowledge: " + std::to_string(f.open_incidents) + "\n";
  b += "Review requests waiting: " + std::to_string(f.open_reviews) + "\n\n";
  b += "Details are in the Hedge console. This summary contains counts only.\n";
  t.body = std::move(b);
  return t;
}

int64_t retry_delay_s(int attempts, int64_t min_s, int64_t max_s, double jitter01) noexcept {
  min_s = std::max<int64_t>(min_s, 1);
  max_s = std::max(max_s, min_s);
  int64_t d = min_s;
  for (int i = 1; i < attempts && d < max_s; ++i) d *= 2;
  d = std::min(d, max_s);
  jitter01 = std::clamp(jitter01, 0.0, 1.0);
  const auto half = static_cast<double>(d) / 2.0;
  const auto j = static_cast<int64_t>(half + jitter01 * half);
  return std::clamp<int64_t>(j, 1, max_s);
}

int64_t week_start(int64_t t) noexcept {
  // 1970-01-01 was a Thursday: Monday 1969-12-29 is day -3.
  constexpr int64_t kWeek = int64_t{7} * 86400, kMonday = int64_t{-3} * 86400;
  int64_t w = (t - kMonday) / kWeek;
  if ((t - kMonday) % kWeek < 0) --w;
  return kMonday + w * kWeek;
}

std::string rfc5322_date(int64_t t) {
  static constexpr const char* kDays[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::string iso = util::iso_utc(t);  // YYYY-MM-DDTHH:MM:SSZ
  int64_t days = t / 86400;
  if (t % 86400 < 0) --days;
  const int64_t dow = ((days % 7) + 7) % 7;
  const int mon = std::stoi(iso.substr(5, 2));
  return std::string(kDays[dow]) + ", " + iso.substr(8, 2) + " " + kMonths[(mon - 1) % 12] + " " +
         iso.substr(0, 4) + " " + iso.substr(11, 8) + " +0000";
}

std::string compose_mail(const std::string& from, const std::vector<std::string>& to, const AlertText& t,
                         int64_t date, const std::string& message_id) {
  std::string m = "From: Hedge <" + from + ">\r\nTo: ";
  for (std::size_t i = 0; i < to.size(); ++i) m += (i ? ", " : "") + to[i];
  m += "\r\nSubject: " + header_text(t.subject) + "\r\nDate: " + rfc5322_date(date) + "\r\nMessage-ID: <" +
       header_text(message_id) + ">\r\nMIME-Version: 1.0\r\n" +
       "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n" +
       "Auto-Submitted: auto-generated\r\n\r\n";
  m += crlf(t.body);
  return m;
}

std::string dot_stuff(std::string_view msg) {
  std::string out;
  out.reserve(msg.size() + 16);
  bool line_start = true;
  for (char c : msg) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  return out;
}

std::string base64(std::string_view in) {
  static constexpr char kAlpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                       static_cast<uint8_t>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlpha[(v >> s) & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i + 1])) << 8;
    out += kAlpha[(v >> 18) & 63];
    out += kAlpha[(v >> 12) & 63];
    out += i + 1 < in.size() ? kAlpha[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string webhook_json(const AlertText& t) {
  return nlohmann::json{{"title", t.subject}, {"summary", t.subject}, {"text", t.subject + "\n\n" + t.body}}
      .dump();
}

}  // namespace hedge::alerts
