// config/alerts_config: parsing and validation of [alerts].
#include "config/alerts_config.hpp"

#include "blocklists/update/https_client.hpp"

namespace hedge::config {

namespace {

bool plausible_address(std::string_view a) {
  const auto at = a.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= a.size() || a.size() > 254) return false;
  for (char c : a)  // nothing that could end a header or an SMTP command
    if (static_cast<unsigned char>(c) <= 0x20 || c == '<' || c == '>' || c == ',' || c == 0x7f) return false;
  return a.find('@', at + 1) == std::string_view::npos;
}

}  // namespace

bool parse_smtp_url(std::string_view s, std::string& host, std::string& port, bool& implicit_tls) {
  if (s.rfind("smtp://", 0) == 0) {
    implicit_tls = false;
    port = "587";
    s.remove_prefix(7);
  } else if (s.rfind("smtps://", 0) == 0) {
    implicit_tls = true;
    port = "465";
    s.remove_prefix(8);
  } else {
    return false;
  }
  if (!s.empty() && s.back() == '/') s.remove_suffix(1);
  if (s.empty() || s.find_first_of("/@?# ") != std::string_view::npos) return false;
  std::string_view h = s;
  if (s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) return false;
    h = s.substr(1, close - 1);
    s.remove_prefix(close + 1);
    if (!s.empty() && s.front() != ':') return false;
  } else {
    const auto colon = s.find(':');
    h = s.substr(0, colon);
    s = colon == std::string_view::npos ? std::string_view{} : s.substr(colon);
  }
  if (!s.empty()) {
    s.remove_prefix(1);  // ':'
    if (s.empty() || s.size() > 5) return false;
    for (char c : s)
      if (c < '0' || c > '9') return false;
    const int p = std::stoi(std::string(s));
    if (p < 1 || p > 65535) return false;
    port = std::string(s);
  }
  if (h.empty()) return false;
  host = std::string(h);
  return true;
}

void parse_alerts_config(const toml::table& root, AlertsConfig& out, util::ConfigErrors& errs) {
  const toml::node* sec = root.get("alerts");
  if (!sec) return;
  const toml::table* t = sec->as_table();
  if (!t) {
    errs.add(*sec, "alerts", "must be a table");
    return;
  }
  static constexpr std::string_view kKnown[] = {
      "smtp",    "smtp_user",   "smtp_password_file", "email_from", "email_to",     "webhook",
      "ca_file", "retry_min_s", "retry_max_s",        "timeout_s",  "weekly_digest"};
  for (auto&& [k, v] : *t) {
    bool ok = false;
    for (auto kn : kKnown) ok = ok || k.str() == kn;
    if (!ok) errs.add(v, "alerts." + std::string(k.str()), "unknown key");
  }
  auto str = [&](const char* key, std::string& dst) {
    const toml::node* n = t->get(key);
    if (!n) return false;
    if (!n->is_string()) {
      errs.add(*n, std::string("alerts.") + key, "must be a string");
      return false;
    }
    dst = *n->value<std::string>();
    return true;
  };
  auto num = [&](const char* key, uint32_t& dst, uint32_t lo, uint32_t hi) {
    const toml::node* n = t->get(key);
    if (!n) return;
    auto v = n->value<int64_t>();
    if (!n->is_integer() || !v || *v < lo || *v > hi) {
      errs.add(*n, std::string("alerts.") + key,
               "must be an integer between " + std::to_string(lo) + " and " + std::to_string(hi));
      return;
    }
    dst = static_cast<uint32_t>(*v);
  };
  std::string smtp;
  if (str("smtp", smtp) && !smtp.empty() &&
      !parse_smtp_url(smtp, out.smtp_host, out.smtp_port, out.smtp_implicit_tls))
    errs.add(*t->get("smtp"), "alerts.smtp",
             "'" + smtp + "' is not smtp://host[:port] (STARTTLS, port 587) or smtps://host[:port] (465)");
  str("smtp_user", out.smtp_user);
  str("smtp_password_file", out.smtp_password_file);
  if (out.smtp_user.empty() != out.smtp_password_file.empty()) {
    const toml::node* n = t->get(out.smtp_user.empty() ? "smtp_password_file" : "smtp_user");
    errs.add(*n, "alerts.smtp_user", "smtp_user and smtp_password_file must be set together");
  }
  if (str("email_from", out.email_from) && !plausible_address(out.email_from))
    errs.add(*t->get("email_from"), "alerts.email_from", "'" + out.email_from + "' is not an email address");
  if (const toml::node* n = t->get("email_to")) {
    const toml::array* a = n->as_array();
    if (!a) {
      errs.add(*n, "alerts.email_to", "must be an array of email addresses");
    } else {
      for (std::size_t i = 0; i < a->size(); ++i) {
        const auto* s = (*a)[i].as_string();
        const std::string k = "alerts.email_to[" + std::to_string(i) + "]";
        if (!s || !plausible_address(s->get()))
          errs.add((*a)[i], k, "must be an email address (name@school.example)");
        else
          out.email_to.push_back(s->get());
      }
    }
  }
  if (str("webhook", out.webhook) && !out.webhook.empty() && !update::parse_https_url(out.webhook))
    errs.add(*t->get("webhook"), "alerts.webhook", "must be an https:// address");
  str("ca_file", out.ca_file);
  num("retry_min_s", out.retry_min_s, 1, 86400);
  num("retry_max_s", out.retry_max_s, 1, 7 * 86400);
  num("timeout_s", out.timeout_s, 1, 600);
  if (out.retry_max_s < out.retry_min_s)
    errs.add(*t, "alerts.retry_max_s", "must not be less than retry_min_s");
  if (const toml::node* n = t->get("weekly_digest")) {
    if (auto b = n->value<bool>(); n->is_boolean() && b)
      out.weekly_digest = *b;
    else
      errs.add(*n, "alerts.weekly_digest", "must be true or false");
  }
  if (out.email()) {
    if (out.email_to.empty())
      errs.add(*t, "alerts.email_to", "smtp is set, so at least one address is needed");
    if (out.email_from.empty()) errs.add(*t, "alerts.email_from", "smtp is set, so a From address is needed");
  } else if (!out.email_to.empty()) {
    errs.add(*t->get("email_to"), "alerts.smtp", "email_to is set but smtp (the relay) is not");
  }
}

}  // namespace hedge::config
