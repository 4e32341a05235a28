// alerts/smtp: one mail through the school's relay (RFC 5321 client):
// EHLO, STARTTLS (required: a relay that does not offer it gets nothing),
// EHLO again, AUTH PLAIN when a login is configured (only ever inside TLS),
// MAIL FROM, RCPT TO each address, DATA with dot-stuffing, QUIT. smtps://
// starts TLS before the greeting instead. TLS and timeouts are
// net/tls_client's. Blocking: runs on the alert sender's thread only.
#pragma once

#include <string>
#include <vector>

#include "net/tls_client.hpp"

namespace hedge::alerts {

struct SmtpSettings {
  std::string host, port;
  bool implicit_tls = false;
  std::string user, password;  // empty user: no AUTH
  std::string helo = "hedge";  // our name in EHLO
  std::string from;
  std::vector<std::string> to;
};

// message: headers and body with CRLF line ends (alerts/alert_text compose_mail).
// False and a one-line reason (naming the step and the relay's reply) on failure.
bool send_mail(net::TlsClientConfig& tls, const SmtpSettings& s, const std::string& message,
               std::string& err);

}  // namespace hedge::alerts
