// config/alerts_config: the [alerts] section (issue 9, docs/console.md):
//   smtp = "smtp://relay.school.example:587"  the school's relay; STARTTLS is required
//          ("smtps://host:465" for TLS from the first byte)
//   smtp_user, smtp_password_file              optional login (AUTH PLAIN, only inside TLS)
//   email_from = "hedge@school.example"        envelope and From: address
//   email_to = ["dsl@school.example"]          who gets the incident mail and the digest
//   webhook = "https://hooks.example/..."      JSON POST ({"text": ...}, Teams/Slack style)
//   ca_file = "/etc/ssl/certs"                 CAs trusted for the relay and the webhook
//   retry_min_s = 30, retry_max_s = 3600        capped exponential backoff between attempts
//   timeout_s = 30                              connect and per-read timeout
//   weekly_digest = true                        a Monday summary (counts only)
// Read at start (a change needs a restart, like the listeners).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/errors.hpp"

namespace hedge::config {

struct AlertsConfig {
  std::string smtp_host, smtp_port;  // empty host: no email
  bool smtp_implicit_tls = false;    // smtps://
  std::string smtp_user, smtp_password_file;
  std::string email_from;
  std::vector<std::string> email_to;
  std::string webhook;  // empty: no webhook
  std::string ca_file = "/etc/ssl/certs";
  uint32_t retry_min_s = 30, retry_max_s = 3600, timeout_s = 30;
  bool weekly_digest = true;
  bool email() const noexcept { return !smtp_host.empty(); }
  bool enabled() const noexcept { return email() || !webhook.empty(); }
};

void parse_alerts_config(const toml::table& root, AlertsConfig& out, util::ConfigErrors& errs);

// "smtp://host[:port]" (port 587) or "smtps://host[:port]" (port 465); false for anything else.
bool parse_smtp_url(std::string_view s, std::string& host, std::string& port, bool& implicit_tls);

}  // namespace hedge::config
