// Unit: the SQLite exception store and its hash-chained audit log.
#include <doctest/doctest.h>

#include <sqlite3.h>
#include <atomic>
#include <chrono>
#include <future>

#include <filesystem>
#include <string>

#include "bundle_fixture.hpp"
#include "policy/decide.hpp"
#include "runtime/exception_feed.hpp"
#include "runtime/policy_runtime.hpp"
#include "store/exception_store.hpp"
#include "store/store_thread.hpp"

using namespace hedge;
using policy::ExceptionKind;

namespace {

constexpr int64_t T0 = 1795437000;

policy::Exception make(const char* name, const char* group, ExceptionKind kind, int64_t expires = 0) {
  policy::Exception e;
  e.name = name;
  e.group = group;
  e.kind = kind;
  e.requester = "ms.jones";
  e.reason = "lesson on online safety";
  e.expires = expires;
  return e;
}

// Runs raw SQL on the file as a person with the sqlite3 shell would.
void hand_edit(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* msg = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  CHECK_MESSAGE(rc == SQLITE_OK, (msg ? msg : ""));
  sqlite3_free(msg);
  sqlite3_close(db);
}

}  // namespace

TEST_CASE("store: add, approve, revoke, expire; rules; audit verifies") {
  test::TempDir tmp;
  const std::string path = tmp.path + "/hedge.db";
  store::ExceptionStore st;
  std::string err;
  REQUIRE_MESSAGE(st.open(path, err), err);
  store::ExceptionRules rules{true, 7 * 86400, 30 * 86400};

  auto e = make("bet.example", "staff", ExceptionKind::allow, T0 + 3600);
  REQUIRE_MESSAGE(st.add(e, rules, T0, err), err);
  CHECK(e.id == 1);
  CHECK(e.starts == T0);

  // Rules: allows must expire, within the maximum; needs who and why.
  auto forever = make("x.example", "staff", ExceptionKind::allow, -1);
  CHECK_FALSE(st.add(forever, rules, T0, err));
  CHECK(err.find("must expire") != std::string::npos);
  auto too_long = make("x.example", "staff", ExceptionKind::allow, T0 + 31 * 86400);
  CHECK_FALSE(st.add(too_long, rules, T0, err));
  auto no_reason = make("x.example", "staff", ExceptionKind::allow);
  no_reason.reason.clear();
  CHECK_FALSE(st.add(no_reason, rules, T0, err));
  auto not_normal = make("X.Example.", "staff", ExceptionKind::allow);
  CHECK_FALSE(st.add(not_normal, rules, T0, err));
  auto deny = make("news.example", "*", ExceptionKind::deny, -1);
  REQUIRE_MESSAGE(st.add(deny, rules, T0, err), err);
  CHECK(deny.expires == 0);
  auto dflt = make("wiki.example", "pupils", ExceptionKind::allow);
  REQUIRE_MESSAGE(st.add(dflt, rules, T0, err), err);
  CHECK(dflt.expires == T0 + 7 * 86400);

  // Approval: not by the requester.
  CHECK_FALSE(st.approve(e.id, "MS.JONES", T0 + 10, err));
  CHECK(err.find("approver must not be the requester") != std::string::npos);
  REQUIRE_MESSAGE(st.approve(e.id, "mr.head", T0 + 10, err), err);
  CHECK_FALSE(st.approve(e.id, "mr.head", T0 + 11, err));
  CHECK_FALSE(st.approve(999, "mr.head", T0 + 11, err));

  const uint64_t v0 = st.data_version();
  {
    // Another connection (the CLI) changes something: data_version moves.
    store::ExceptionStore other;
    REQUIRE(other.open(path, err));
    REQUIRE(other.revoke(dflt.id, "mr.head", "no longer needed", T0 + 20, err));
  }
  CHECK(st.data_version() != v0);

  auto all = st.load_all();
  REQUIRE(all.size() == 3);
  CHECK(all[0].approver == "mr.head");
  CHECK(all[0].active_at(T0 + 3599, true));
  CHECK_FALSE(all[0].active_at(T0 + 3600, true));
  CHECK(all[2].revoked == T0 + 20);

  CHECK(st.record_expiries(T0 + 3599, err) == 0);
  CHECK(st.record_expiries(T0 + 3600, err) == 1);
  CHECK(st.record_expiries(T0 + 7200, err) == 0);  // once each

  const auto log = st.audit();
  REQUIRE(log.size() == 6);  // 3 creates, approve, revoke, expire
  CHECK(log[0].action == "exception.create");
  CHECK(log[3].action == "exception.approve");
  CHECK(log[3].actor == "mr.head");
  CHECK(log[4].action == "exception.revoke");
  CHECK(log[4].reason == "no longer needed");
  CHECK(log[5].action == "exception.expire");
  CHECK(log[5].at == T0 + 3600);
  auto v = st.verify_audit();
  for (const auto& p : v.problems) MESSAGE(p);
  CHECK(v.ok);
  CHECK(v.rows == 6);
}

TEST_CASE("store: the audit log refuses updates and a hand edit is detected") {
  test::TempDir tmp;
  const std::string path = tmp.path + "/hedge.db";
  std::string err;
  {
    store::ExceptionStore st;
    REQUIRE(st.open(path, err));
    store::ExceptionRules rules;
    auto e = make("bet.example", "staff", ExceptionKind::allow, T0 + 3600);
    REQUIRE(st.add(e, rules, T0, err));
    auto f = make("game.example", "pupils", ExceptionKind::allow, T0 + 3600);
    REQUIRE(st.add(f, rules, T0, err));
    // The triggers refuse a plain UPDATE.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "UPDATE audit SET reason = 'x' WHERE seq = 1", nullptr, nullptr, nullptr) !=
          SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM audit WHERE seq = 2", nullptr, nullptr, nullptr) != SQLITE_OK);
    sqlite3_close(db);
    CHECK(st.verify_audit().ok);
  }
  SUBCASE("edited audit row") {
    hand_edit(path, "DROP TRIGGER audit_no_update; UPDATE audit SET reason = 'innocent' WHERE seq = 1;");
  }
  SUBCASE("deleted last audit row") {
    hand_edit(path, "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 2;");
  }
  SUBCASE("exception extended by hand") {
    hand_edit(path, "UPDATE exception SET expires = expires + 86400 WHERE id = 1;");
  }
  SUBCASE("exception inserted by hand") {
    hand_edit(path,
              "INSERT INTO exception(name, grp, kind, requester, reason, created, starts, expires) "
              "VALUES('porn.example', '*', 'allow', 'x', 'y', 1, 1, 9999999999);");
  }
  store::ExceptionStore st;
  REQUIRE(st.open(path, err));
  const auto v = st.verify_audit();
  CHECK_FALSE(v.ok);
  CHECK_FALSE(v.problems.empty());
}

TEST_CASE(
    "runtime: a CLI change to the store reaches the loop as a new exception set from the store thread; "
    "reload keeps the old snapshot on error") {
  test::TempDir tmp;
  const std::string dir = test::write_bundle(test::standard_categories(), {{"bet.example", "gambling"}});
  std::string err;
  auto bundle = lists::Bundle::open(dir, false, err);
  REQUIRE(bundle);
  policy::PolicyConfig cfg;
  cfg.store_path = tmp.path + "/hedge.db";
  policy::GroupConfig g;
  g.name = "staff";
  g.block = {"gambling"};
  cfg.groups.push_back(g);
  cfg.default_group = "staff";

  store::StoreThread thread;
  REQUIRE(thread.start(err));
  std::promise<runtime::ExceptionSet> got;
  std::atomic<int> deliveries{0};
  runtime::ExceptionFeed feed(thread, [&](runtime::ExceptionSet set) {
    CHECK(store::StoreThread::on_store_thread());
    if (deliveries.fetch_add(1) == 0) got.set_value(std::move(set));
  });
  std::vector<policy::Exception> first_set;
  REQUIRE_MESSAGE(feed.open_and_wait(cfg.store_path, false, first_set, err), err);
  CHECK(first_set.empty());
  runtime::PolicyRuntime rt;
  util::ConfigErrors errs("x.toml");
  REQUIRE(rt.start(cfg, bundle, first_set, errs));
  const auto first = rt.snapshot();
  dns::QueryName q;
  REQUIRE(q.assign_text("bet.example"));
  CHECK(policy::decide(q, 1, first->default_group(), *first, T0).action == policy::Action::block);
  {
    store::ExceptionStore cli;  // another connection, as `hedge exception add` is
    REQUIRE(cli.open(cfg.store_path, err));
    auto e = make("bet.example", "staff", ExceptionKind::allow, T0 + 60);
    REQUIRE(cli.add(e, store::ExceptionRules{}, T0, err));
  }
  feed.check();  // what the server's directory watch does
  auto fut = got.get_future();
  REQUIRE(fut.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(rt.set_exceptions(fut.get()));
  auto snap = rt.snapshot();
  CHECK(snap != first);
  CHECK(policy::decide(q, 1, snap->default_group(), *snap, T0 + 1).action == policy::Action::allow);
  CHECK(policy::decide(q, 1, snap->default_group(), *snap, T0 + 60).action == policy::Action::block);
  // Logging the expiry is the feed's own write: a check finds nothing new.
  feed.record_expiries_at(T0 + 61);
  feed.check();
  feed.close_and_wait();
  CHECK(deliveries.load() == 1);
  store::ExceptionStore cli;
  REQUIRE(cli.open(cfg.store_path, err));
  CHECK(cli.audit().back().action == "exception.expire");

  policy::PolicyConfig bad = cfg;
  bad.timezone = "Nowhere/Nothing";
  util::ConfigErrors errs2("x.toml");
  CHECK_FALSE(rt.reload(bad, nullptr, errs2));
  CHECK(rt.snapshot() == snap);
  std::filesystem::remove_all(dir);
}
