// config/update_config: [update] keys, each checked with its line.
#include "config/update_config.hpp"

#include <filesystem>

#include "util/units.hpp"

namespace hedge::config {

namespace {

std::optional<std::string> str(const toml::table& t, std::string_view key, ConfigErrors& errs) {
  const toml::node* n = t.get(key);
  if (!n) return std::nullopt;
  if (!n->is_string()) {
    errs.add(*n, "update." + std::string(key), "must be a string");
    return std::nullopt;
  }
  return n->value<std::string>();
}

void duration(const toml::table& t, std::string_view key, int64_t& out, int64_t lo, int64_t hi,
              ConfigErrors& errs) {
  auto s = str(t, key, errs);
  if (!s) return;
  auto d = util::parse_duration(*s);
  if (!d || *d < lo || *d > hi) {
    errs.add(*t.get(key), "update." + std::string(key),
             "'" + *s + "': expected a duration like 90s, 30m, 12h or 7d between " +
                 util::human_duration(lo) + " and " + util::human_duration(hi));
    return;
  }
  out = *d;
}

bool hhmm(std::string_view s, int& minutes) {
  if (s.size() != 5 || s[2] != ':') return false;
  for (std::size_t i : {0u, 1u, 3u, 4u})
    if (s[i] < '0' || s[i] > '9') return false;
  const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 24 || m > 59 || (h == 24 && m != 0)) return false;
  minutes = h * 60 + m;
  return true;
}

}  // namespace

void parse_update_config(const toml::table& t, UpdateConfig& u, ConfigErrors& errs) {
  u.present = true;
  for (auto&& [k, v] : t) {
    static constexpr std::string_view known[] = {
        "url",           "pubkey",    "ca_file",         "channel",
        "max_age",       "max_bytes", "connect_timeout", "idle_timeout",
        "total_timeout", "window",    "state_file",      "control_socket"};
    bool ok = false;
    for (auto kn : known) ok = ok || k.str() == kn;
    if (!ok) errs.add(v, "update." + std::string(k.str()), "unknown key");
  }
  if (auto s = str(t, "url", errs)) {
    if (s->rfind("https://", 0) != 0 || s->size() <= 8 || (*s)[8] == '/') {
      errs.add(*t.get("url"), "update.url", "'" + *s + "': must be an https:// URL (plain http is refused)");
    } else {
      u.url = *s;
      if (u.url.find('/', 8) == std::string::npos) u.url += '/';
      if (u.url.back() != '/') u.url += '/';
    }
  }
  if (auto s = str(t, "pubkey", errs)) u.pubkey = *s;
  if (auto s = str(t, "ca_file", errs)) u.ca_file = *s;
  if (auto s = str(t, "channel", errs)) {
    bool ok = !s->empty() && s->size() <= 32;
    for (char c : *s) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_');
    if (!ok)
      errs.add(*t.get("channel"), "update.channel", "'" + *s + "': use 1-32 of a-z, 0-9, '-' and '_'");
    else
      u.channel = *s;
  }
  duration(t, "max_age", u.max_age_s, 60, int64_t{365} * 86400, errs);
  duration(t, "connect_timeout", u.connect_timeout_s, 1, 600, errs);
  duration(t, "idle_timeout", u.idle_timeout_s, 1, 3600, errs);
  duration(t, "total_timeout", u.total_timeout_s, 1, int64_t{24} * 3600, errs);
  if (auto s = str(t, "max_bytes", errs)) {
    auto b = util::parse_size(*s);
    if (!b || *b < 4096)
      errs.add(*t.get("max_bytes"), "update.max_bytes",
               "'" + *s + "': expected a size like 200MB (at least 4KiB)");
    else
      u.max_bytes = *b;
  }
  if (auto s = str(t, "window", errs)) {
    int a = 0, b = 0;
    if (s->size() != 11 || (*s)[5] != '-' || !hhmm(std::string_view(*s).substr(0, 5), a) ||
        !hhmm(std::string_view(*s).substr(6), b) || a == b) {
      errs.add(*t.get("window"), "update.window",
               "'" + *s + "': expected a UTC time range like \"01:00-05:00\"");
    } else {
      u.window_start_min = a;
      u.window_len_min = b > a ? b - a : 1440 - a + b;
    }
  }
  if (auto s = str(t, "state_file", errs)) u.state_file = *s;
  if (auto s = str(t, "control_socket", errs)) {
    if (s->size() >= 108)
      errs.add(*t.get("control_socket"), "update.control_socket",
               "path too long for a unix socket (max 107)");
    else
      u.control_socket = *s;
  }
}

std::string generations_dir(const std::string& bundle_path) {
  std::string p = bundle_path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  const std::filesystem::path fp(p);
  return fp.has_parent_path() ? fp.parent_path().string() : ".";
}

std::string update_state_path(const UpdateConfig& u, const std::string& bundle_path) {
  if (!u.state_file.empty()) return u.state_file;
  if (bundle_path.empty()) return "";
  return generations_dir(bundle_path) + "/update-state.json";
}

std::string control_socket_path(const UpdateConfig& u, const std::string& bundle_path) {
  if (!u.control_socket.empty()) return u.control_socket;
  if (bundle_path.empty()) return "";
  return generations_dir(bundle_path) + "/hedge.sock";
}

}  // namespace hedge::config
