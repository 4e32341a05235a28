// Unit: the console store: users, sessions, login attempts, reviews,
// incidents, checks and the alert queue; every change audited in the chain.
#include <doctest/doctest.h>

#include "bundle_fixture.hpp"
#include "monitoring_fixture.hpp"
#include "store/console_store.hpp"
#include "util/password.hpp"

using namespace hedge;

TEST_CASE("console store: users, sessions, audit") {
  test::TempDir tmp;
  store::ConsoleStore st;
  std::string err;
  REQUIRE_MESSAGE(st.open(tmp.path + "/hedge.db", err), err);
  const auto h = util::hash_password("a long password", 1000);
  CHECK(st.add_user("dsl1", console::Role::dsl, h, "cli:root", 100, err));
  CHECK_FALSE(st.add_user("dsl1", console::Role::viewer, h, "cli:root", 100, err));
  CHECK(err.find("exists") != std::string::npos);
  for (const char* bad : {"", "Admin", "-x", "a b", "a<b", "ä"})
    CHECK_FALSE(st.add_user(bad, console::Role::dsl, h, "x", 1, err));
  CHECK(st.add_user("gov.one", console::Role::governor, h, "cli:root", 101, err));
  CHECK(st.user_count() == 2);
  auto u = st.find_user("dsl1");
  REQUIRE(u);
  CHECK(u->role == console::Role::dsl);
  CHECK(util::verify_password("a long password", u->pw_hash));

  store::Session s;
  s.id_hash = "aa";
  s.user = *u;
  s.csrf = "tok";
  s.created = s.last_seen = 200;
  REQUIRE(st.create_session(s, "192.0.2.1", err));
  auto got = st.session("aa");
  REQUIRE(got);
  CHECK(got->user.name == "dsl1");
  CHECK(got->csrf == "tok");
  st.touch_session("aa", 300);
  CHECK(st.session("aa")->last_seen == 300);
  // Disabling an account ends its sessions.
  REQUIRE(st.set_disabled("dsl1", true, "cli:root", 400, err));
  CHECK_FALSE(st.session("aa"));
  CHECK(st.find_user("dsl1")->disabled);
  REQUIRE(st.set_disabled("dsl1", false, "cli:root", 401, err));
  REQUIRE(st.set_password("dsl1", util::hash_password("another password", 1000), "cli:root", 402, err));
  CHECK(util::verify_password("another password", st.find_user("dsl1")->pw_hash));

  // Login attempts: failures counted per user and per client; success resets the user's.
  for (int i = 0; i < 3; ++i) st.record_login(500 + i, "dsl1", "192.0.2.9", false);
  st.record_login(510, "nobody", "192.0.2.9", false);
  CHECK(st.failures_for_user("dsl1", 0) == 3);
  CHECK(st.failures_for_user("dsl1", 502) == 1);
  CHECK(st.failures_for_client("192.0.2.9", 0) == 4);
  st.record_login(520, "dsl1", "192.0.2.9", true);
  CHECK(st.failures_for_user("dsl1", 0) == 0);

  const auto rows = st.exceptions().audit();
  std::vector<std::string> actions;
  for (const auto& r : rows) actions.push_back(r.action);
  CHECK(std::count(actions.begin(), actions.end(), "user.add") == 2);
  CHECK(std::count(actions.begin(), actions.end(), "login.fail") == 4);
  CHECK(std::count(actions.begin(), actions.end(), "login.ok") == 1);
  CHECK(std::count(actions.begin(), actions.end(), "user.disable") == 1);
  CHECK(std::count(actions.begin(), actions.end(), "user.passwd") == 1);
  const auto v = st.exceptions().verify_audit();
  CHECK_MESSAGE(v.ok, (v.problems.empty() ? "" : v.problems.front()));
}

TEST_CASE("console store: reviews, incidents, checks, alerts") {
  test::TempDir tmp;
  store::ConsoleStore st;
  std::string err;
  REQUIRE(st.open(tmp.path + "/hedge.db", err));
  // Before the block page created its tables, the lists are just empty.
  CHECK(st.reviews("").empty());
  CHECK(st.incidents(false).empty());
  REQUIRE(st.exceptions().db().exec(test::kMonitoringSchema, err));
  store::ReviewRequest r;
  r.at = 1000;
  r.kind = "unblock";
  r.site = "history.example";
  r.client_ip = "192.0.2.5";
  r.grp = "pupils";
  r.who = "<b>Y9</b>";
  r.reason = "lesson";
  REQUIRE(st.add_review(r, err));
  CHECK(st.reviews("open").size() == 1);
  CHECK_FALSE(st.decide_review(r.id, "maybe", "dsl1", "", 0, 1100, err));
  REQUIRE(st.decide_review(r.id, "declined", "dsl1", "not needed", 0, 1100, err));
  CHECK_FALSE(st.decide_review(r.id, "granted", "dsl2", "", 0, 1200, err));
  CHECK(err.find("already declined") != std::string::npos);
  CHECK(st.review(r.id)->decided_by == "dsl1");
  CHECK(st.reviews("open").empty());

  REQUIRE(st.exceptions().db().exec(
      "INSERT INTO incidents(at, client_ip, grp, qname, category, tier) VALUES(1500, '192.0.2.5', 'pupils', "
      "'x.example', 'child-abuse', 'illegal')",
      err));
  REQUIRE(st.incidents(true).size() == 1);
  const int64_t id = st.incidents(true).front().id;
  CHECK_FALSE(st.ack_incident(id, "dsl1", "", 1600, err));  // a note is required
  REQUIRE(st.ack_incident(id, "dsl1", "spoke to the pupil; parents informed", 1600, err));
  CHECK_FALSE(st.ack_incident(id, "dsl1", "again", 1601, err));
  CHECK(st.incidents(true).empty());
  CHECK(st.incidents(false).front().acked_by == "dsl1");

  store::Check c{0, 1700, "tech1", "manual", "tried a gambling site from a pupil laptop", "as expected", ""};
  REQUIRE(st.add_check(c, err));
  store::Check bad{0, 1700, "tech1", "manual", "", "", ""};
  CHECK_FALSE(st.add_check(bad, err));
  CHECK(st.checks().size() == 1);

  store::Alert a;
  a.created = 2000;
  a.kind = "email";
  a.subject = "Incident";
  a.body = "An illegal-tier attempt";
  REQUIRE(st.enqueue_alert(a, err));
  CHECK(st.due_alerts(1999).empty());
  REQUIRE(st.due_alerts(2000).size() == 1);
  st.alert_failed(a.id, "connection refused", 2060);
  CHECK(st.due_alerts(2059).empty());
  CHECK(st.due_alerts(2060).front().attempts == 1);
  st.alert_sent(a.id, 2061);
  CHECK(st.due_alerts(99999).empty());
  CHECK(st.exceptions().verify_audit().ok);
}

TEST_CASE("console store: a user change and its audit row commit together, or neither does") {
  test::TempDir tmp;
  const std::string path = tmp.path + "/hedge.db";
  store::ConsoleStore st;
  std::string err;
  REQUIRE_MESSAGE(st.open(path, err), err);
  const auto h = util::hash_password("a long password", 1000);
  REQUIRE(st.add_user("tech1", console::Role::technician, h, "cli:root", 100, err));
  // From now on the audit log refuses rows (as a full disk or a broken chain would).
  {
    store::Db db;
    REQUIRE(db.open(path, false, err));
    REQUIRE_MESSAGE(db.exec("CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, "
                            "'audit refused'); END",
                            err),
                    err);
  }
  CHECK_FALSE(st.add_user("dsl2", console::Role::dsl, h, "cli:root", 101, err));
  CHECK_FALSE(st.find_user("dsl2"));  // no unaudited account
  const auto h2 = util::hash_password("another long password", 1000);
  CHECK_FALSE(st.set_password("tech1", h2, "cli:root", 102, err));
  CHECK(util::verify_password("a long password", st.find_user("tech1")->pw_hash));
  CHECK_FALSE(st.set_disabled("tech1", true, "cli:root", 103, err));
  CHECK_FALSE(st.find_user("tech1")->disabled);
}
