// console/auth: role table, session expiry, login gate, cookies.
#include "console/auth.hpp"

namespace hedge::console {

const char* to_string(Role r) noexcept {
  switch (r) {
    case Role::technician: return "technician";
    case Role::dsl: return "dsl";
    case Role::viewer: return "viewer";
    case Role::governor: return "governor";
  }
  return "?";
}

std::optional<Role> parse_role(std::string_view s) noexcept {
  if (s == "technician") return Role::technician;
  if (s == "dsl") return Role::dsl;
  if (s == "viewer") return Role::viewer;
  if (s == "governor") return Role::governor;
  return std::nullopt;
}

bool allowed(Role r, Perm p) noexcept {
  switch (r) {
    case Role::dsl:
      // The Designated Safeguarding Lead answers for filtering: everything.
      return true;
    case Role::technician:
      // Runs the box and may propose and approve exceptions (a second
      // person for the DSL's requests), but safeguarding decisions on
      // incidents and illegal-tier names stay with the DSL.
      return p != Perm::illegal_names && p != Perm::incident_ack;
    case Role::viewer:
      // Read-only: every page except illegal-tier names, no change at all.
      switch (p) {
        case Perm::dashboard:
        case Perm::review_view:
        case Perm::exception_view:
        case Perm::incident_view:
        case Perm::events_view:
        case Perm::checks_view:
        case Perm::report_safeguarding:
        case Perm::report_governor: return true;
        default: return false;
      }
    case Role::governor:
      // Governors never see a person, device, address or domain.
      return p == Perm::report_governor;
  }
  return false;
}

SessionState session_state(int64_t created, int64_t last_seen, int64_t now, const SessionRules& r) noexcept {
  if (now - created >= r.absolute_seconds || now < created) return SessionState::absolute_expired;
  if (now - last_seen >= r.idle_seconds) return SessionState::idle_expired;
  return SessionState::valid;
}

LoginGate login_gate(int account_failures, int client_failures, const LoginRules& r) noexcept {
  if (client_failures >= r.max_client_failures) return LoginGate::client_blocked;
  if (account_failures >= r.max_account_failures) return LoginGate::account_locked;
  return LoginGate::open;
}

std::string session_cookie(std::string_view value, int64_t max_age) {
  std::string c(kSessionCookie);
  c += '=';
  c += value;
  c += "; Path=/; Max-Age=" + std::to_string(max_age < 0 ? 0 : max_age) +
       "; HttpOnly; Secure; SameSite=Strict";
  return c;
}

std::string cookie_value(std::string_view header, std::string_view name) {
  std::size_t i = 0;
  while (i < header.size()) {
    while (i < header.size() && (header[i] == ' ' || header[i] == ';')) ++i;
    const std::size_t end = std::min(header.find(';', i), header.size());
    const std::string_view pair = header.substr(i, end - i);
    const std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    i = end + 1;
  }
  return {};
}

}  // namespace hedge::console
