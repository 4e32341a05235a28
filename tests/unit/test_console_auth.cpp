// Unit: console access rules (roles, sessions, login gate, cookies) and passwords.
#include <doctest/doctest.h>

#include "console/auth.hpp"
#include "util/password.hpp"

using namespace hedge;
using console::Perm;
using console::Role;

TEST_CASE("console: role table") {
  struct Row {
    Role role;
    Perm perm;
    bool ok;
  };
  const Row rows[] = {
      {Role::dsl, Perm::illegal_names, true},
      {Role::dsl, Perm::incident_ack, true},
      {Role::dsl, Perm::exception_approve, true},
      {Role::dsl, Perm::report_governor, true},
      {Role::technician, Perm::illegal_names, false},
      {Role::technician, Perm::incident_ack, false},
      {Role::technician, Perm::exception_approve, true},
      {Role::technician, Perm::review_decide, true},
      {Role::technician, Perm::report_safeguarding, true},
      {Role::viewer, Perm::dashboard, true},
      {Role::viewer, Perm::events_view, true},
      {Role::viewer, Perm::review_decide, false},
      {Role::viewer, Perm::exception_approve, false},
      {Role::viewer, Perm::exception_revoke, false},
      {Role::viewer, Perm::incident_ack, false},
      {Role::viewer, Perm::checks_record, false},
      {Role::viewer, Perm::illegal_names, false},
      {Role::governor, Perm::report_governor, true},
      {Role::governor, Perm::dashboard, false},
      {Role::governor, Perm::events_view, false},
      {Role::governor, Perm::report_safeguarding, false},
      {Role::governor, Perm::incident_view, false},
      {Role::governor, Perm::review_view, false},
  };
  for (const auto& r : rows) {
    CAPTURE(console::to_string(r.role));
    CAPTURE(static_cast<int>(r.perm));
    CHECK(console::allowed(r.role, r.perm) == r.ok);
  }
  // Every permission of the governor other than its report is refused.
  for (int p = 0; p <= static_cast<int>(Perm::report_governor); ++p)
    CHECK(console::allowed(Role::governor, static_cast<Perm>(p)) ==
          (static_cast<Perm>(p) == Perm::report_governor));
}

TEST_CASE("console: roles parse") {
  CHECK(console::parse_role("dsl") == Role::dsl);
  CHECK(console::parse_role("governor") == Role::governor);
  CHECK_FALSE(console::parse_role("admin"));
  CHECK_FALSE(console::parse_role("DSL"));
  CHECK_FALSE(console::parse_role(""));
}

TEST_CASE("console: session expiry") {
  const console::SessionRules r{1800, 43200};
  struct Row {
    int64_t created, last_seen, now;
    console::SessionState want;
  };
  const Row rows[] = {
      {1000, 1000, 1000, console::SessionState::valid},
      {1000, 1000, 1000 + 1799, console::SessionState::valid},
      {1000, 1000, 1000 + 1800, console::SessionState::idle_expired},
      {1000, 40000, 41000, console::SessionState::valid},
      {1000, 44000, 1000 + 43200, console::SessionState::absolute_expired},  // busy but too old
      {1000, 1000, 999, console::SessionState::absolute_expired},            // clock went back
  };
  for (const auto& x : rows) CHECK(console::session_state(x.created, x.last_seen, x.now, r) == x.want);
}

TEST_CASE("console: login gate") {
  const console::LoginRules r{900, 5, 20};
  CHECK(console::login_gate(0, 0, r) == console::LoginGate::open);
  CHECK(console::login_gate(4, 19, r) == console::LoginGate::open);
  CHECK(console::login_gate(5, 0, r) == console::LoginGate::account_locked);
  CHECK(console::login_gate(0, 20, r) == console::LoginGate::client_blocked);
  CHECK(console::login_gate(9, 25, r) == console::LoginGate::client_blocked);
}

TEST_CASE("console: cookies") {
  const auto c = console::session_cookie("abc", 3600);
  CHECK(c.find("hedge_session=abc;") == 0);
  CHECK(c.find("HttpOnly") != std::string::npos);
  CHECK(c.find("Secure") != std::string::npos);
  CHECK(c.find("SameSite=Strict") != std::string::npos);
  CHECK(console::session_cookie("", -5).find("Max-Age=0") != std::string::npos);
  CHECK(console::cookie_value("a=1; hedge_session=xyz; b=2", "hedge_session") == "xyz");
  CHECK(console::cookie_value("hedge_session=first", "hedge_session") == "first");
  CHECK(console::cookie_value("xhedge_session=no", "hedge_session").empty());
  CHECK(console::cookie_value("", "hedge_session").empty());
  CHECK(console::cookie_value(";;; ;", "hedge_session").empty());
}

TEST_CASE("password: hash and verify") {
  const auto h = util::hash_password("correct horse battery", 2000);
  REQUIRE(h.starts_with("pbkdf2-sha256$2000$"));
  CHECK(util::verify_password("correct horse battery", h));
  CHECK_FALSE(util::verify_password("correct horse batterY", h));
  CHECK_FALSE(util::verify_password("", h));
  // Same password, different salt.
  CHECK(util::hash_password("correct horse battery", 2000) != h);
  // Malformed and weak encodings are refused, never "verified".
  for (const char* bad :
       {"", "pbkdf2-sha256", "pbkdf2-sha256$2000$zz$00", "md5$1$00$00",
        "pbkdf2-sha256$10$0011$0000000000000000000000000000000000000000000000000000000000000000",
        "pbkdf2-sha256$2000$0011$00$extra"})
    CHECK_FALSE(util::verify_password("x", bad));
  // The published PBKDF2-HMAC-SHA256 test vector: P="password", S="salt", c=4096, dkLen=32.
  CHECK(util::verify_password(
      "password",
      "pbkdf2-sha256$4096$73616c74$c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"));
}

TEST_CASE("password: tokens") {
  const auto a = util::random_token(32), b = util::random_token(32);
  CHECK(a.size() == 64);
  CHECK(a != b);
  CHECK(util::constant_time_equal(a, a));
  CHECK_FALSE(util::constant_time_equal(a, b));
  CHECK_FALSE(util::constant_time_equal(a, a.substr(1)));
}
