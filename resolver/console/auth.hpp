// console/auth: the console's pure access rules: roles and what each may do,
// session expiry, login throttling and cookie text. No I/O and no clock: the
// caller passes `now`, so every rule is tested with tables (tests/unit).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hedge::console {

enum class Role : uint8_t { technician, dsl, viewer, governor };
const char* to_string(Role r) noexcept;
std::optional<Role> parse_role(std::string_view s) noexcept;

// Everything a page or a form may do. A handler asks allowed() before it
// reads or changes anything; the answer is 403 otherwise.
enum class Perm : uint8_t {
  dashboard,            // health, list age, counts
  review_view,          // the review queue
  review_decide,        // decline / grant / block a request
  exception_view,       // exceptions list
  exception_request,    // propose an allow or deny exception
  exception_approve,    // second person on an allow exception
  exception_revoke,     //
  incident_view,        // incidents (names of the illegal tier hidden unless illegal_names)
  illegal_names,        // see illegal-tier names
  incident_ack,         // acknowledge with an action note
  events_view,          // blocked attempts + CSV
  checks_view,          // filtering checks; run the built-in one ("any user", issue 9: it changes nothing)
  checks_record,        // record a manual check
  report_safeguarding,  // the full report
  report_governor,      // the anonymous report
};
bool allowed(Role r, Perm p) noexcept;

// Session lifetime rules.
struct SessionRules {
  int64_t idle_seconds = int64_t{30} * 60;        // no request for this long: log in again
  int64_t absolute_seconds = int64_t{12} * 3600;  // at most a working day per login
};
enum class SessionState : uint8_t { valid, idle_expired, absolute_expired };
SessionState session_state(int64_t created, int64_t last_seen, int64_t now, const SessionRules& r) noexcept;

// Login throttling: failures counted over a window, per account and per
// client address (from the store's login_attempts rows).
struct LoginRules {
  int64_t window_seconds = int64_t{15} * 60;
  int max_account_failures = 5;  // then the account is locked for the rest of the window
  int max_client_failures = 20;  // then that address is refused for the rest of the window
};
enum class LoginGate : uint8_t { open, account_locked, client_blocked };
LoginGate login_gate(int account_failures, int client_failures, const LoginRules& r) noexcept;

// Cookie helpers. The session cookie is always HttpOnly, Secure and
// SameSite=Strict; max_age 0 deletes it.
inline constexpr std::string_view kSessionCookie = "hedge_session";
std::string session_cookie(std::string_view value, int64_t max_age);
// Value of cookie `name` in a Cookie header ("" when absent).
std::string cookie_value(std::string_view header, std::string_view name);

}  // namespace hedge::console
