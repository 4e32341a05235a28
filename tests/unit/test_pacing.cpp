// Background work held to a share of a core (util/pacer.hpp,
// docs/decisions/0073): the pacer's sleep, a reload's paced bundle checks,
// and the monitoring store writing a backlog in short paced transactions.
#include <sqlite3.h>
#include <sys/utsname.h>

#include <doctest/doctest.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "blocklists/bundle.hpp"
#include "bundle_fixture.hpp"
#include "store/event_store.hpp"
#include "util/pacer.hpp"
#include "util/thread.hpp"

using namespace hedge;

namespace {

// Uses d of this thread's CPU (not wall time: on a busy machine the thread may wait).
void spin_for(std::chrono::milliseconds d) {
  const int64_t end = util::Pacer::cpu_now() + std::chrono::nanoseconds(d).count();
  while (util::Pacer::cpu_now() < end) {
  }
}

int64_t scalar(const std::string& db, const char* sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, sql, -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  const int64_t v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return v;
}

}  // namespace

TEST_CASE("pacer: CPU work at 25% is followed by at least three times as long a pause; 100% never pauses") {
  util::Pacer quarter(25);
  spin_for(std::chrono::milliseconds(4));
  quarter.step();
  // Sleeps never end early, and the measured work is at least the 4 ms of CPU spun.
  CHECK(quarter.slept_ms() >= 12.0);
  CHECK(quarter.steps() == 1);

  util::Pacer full(100);
  spin_for(std::chrono::milliseconds(2));
  full.step();
  CHECK(full.slept_ms() == 0.0);

  std::atomic<bool> hurry{true};  // shutting down: finish unpaced
  util::Pacer stopping(10, &hurry);
  spin_for(std::chrono::milliseconds(2));
  stopping.step();
  CHECK(stopping.slept_ms() == 0.0);
  hurry = false;
  spin_for(std::chrono::milliseconds(1));
  stopping.step();
  CHECK(stopping.slept_ms() >= 9.0);

  CHECK(util::Pacer(0).percent() == 1);  // out of range is clamped, never a division by zero
  CHECK(util::Pacer(500).percent() == 100);
}

TEST_CASE("bundle: a paced open steps through the hash and the walk, and still refuses a damaged cdb") {
  std::vector<test::FixtureEntry> entries;
  for (int i = 0; i < 30000; ++i) entries.push_back({"n" + std::to_string(i) + ".paced.example", "gambling"});
  const std::string dir = test::write_bundle(test::standard_categories(), entries);
  std::string err;
  util::Pacer pace(100);
  auto b = lists::Bundle::open(dir, true, err, &pace);
  REQUIRE_MESSAGE(b, err);
  const auto bytes = std::filesystem::file_size(dir + "/public.cdb");
  REQUIRE(bytes > (std::uintmax_t{1} << 20));
  // One step per 256 KiB hashed, and more in the walk: a pacer that is never
  // called would let a reload run flat out.
  const auto hash_steps = (bytes + (1u << 18) - 1) >> 18;
  CHECK(pace.steps() > hash_steps);
  b.reset();

  // A flipped byte in a record's value: the structure still holds, the hash does not.
  {
    std::fstream f(dir + "/public.cdb", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2048 + 8 + 3);
    char c = 0;
    f.read(&c, 1);
    f.seekp(2048 + 8 + 3);
    c = static_cast<char>(c ^ 0x20);
    f.write(&c, 1);
  }
  util::Pacer again(50);
  CHECK_FALSE(lists::Bundle::open(dir, true, err, &again));
  CHECK(err.find("sha256 does not match") != std::string::npos);
}

TEST_CASE("event store: a backlog is written in several short transactions, every row and the counts once") {
  test::TempDir tmp;
  const std::string path = tmp.path + "/hedge.db";
  std::string err;
  store::EventStore ev;
  REQUIRE_MESSAGE(ev.open(path, err), err);
  const std::size_t n = 2 * store::EventStore::kRowsPerTransaction + 500;
  std::vector<store::EventRow> rows;
  for (std::size_t i = 0; i < n; ++i) {
    store::EventRow r{1000, "192.0.2.9", "",       "",         "pupils", "n" + std::to_string(i) + ".example",
                      1,    "4",         "school", "category", 1,        ""};
    rows.push_back(r);
  }
  std::vector<store::HourlyRow> hourly{{0, "pupils", "gambling", 0, n}};
  std::vector<store::WrittenEvent> written;
  util::Pacer pace(100);
  REQUIRE_MESSAGE(ev.write(rows, hourly, {}, written, err, &pace), err);
  CHECK(written.size() == n);
  CHECK(pace.steps() >= 1);  // a step per half millisecond of work: how many depends on the machine
  CHECK(scalar(path, "SELECT count(*) FROM events") == static_cast<int64_t>(n));
  CHECK(scalar(path, "SELECT sum(blocked) FROM hourly") == static_cast<int64_t>(n));
  // The same batch again only counts up (one row per client, name and minute).
  REQUIRE(ev.write(rows, hourly, {}, written, err, nullptr));
  CHECK(scalar(path, "SELECT count(*) FROM events") == static_cast<int64_t>(n));
  CHECK(scalar(path, "SELECT sum(count) FROM events") == static_cast<int64_t>(2 * n));
  CHECK(scalar(path, "SELECT sum(blocked) FROM hourly") == static_cast<int64_t>(2 * n));
}

TEST_CASE("event store: a paced backlog never sleeps holding the write lock") {
  // At 2% the pacer sleeps 49 times what was worked. The writer used to
  // step inside its transaction (every 64 rows: about 60 ms asleep holding
  // the lock), and `hedge exception add`, a second connection, gave up.
  // Another writer with a 50 ms busy timeout must get the lock every time.
  test::TempDir tmp;
  const std::string path = tmp.path + "/hedge.db";
  std::string err;
  store::EventStore ev;
  REQUIRE_MESSAGE(ev.open(path, err), err);
  std::vector<store::EventRow> rows;
  for (std::size_t i = 0; i < 1500; ++i)
    rows.push_back({1000, "192.0.2.9", "", "", "pupils", "w" + std::to_string(i) + ".example", 1, "4",
                    "school", "category", 1, ""});
  std::atomic<bool> done{false};
  std::atomic<int> got{0}, refused{0};
  std::thread other([&] {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &h, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    sqlite3_busy_timeout(h, 50);
    while (!done.load()) {
      if (sqlite3_exec(h, "BEGIN IMMEDIATE; COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK)
        ++got;
      else {
        ++refused;
        sqlite3_exec(h, "ROLLBACK", nullptr, nullptr, nullptr);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    sqlite3_close(h);
  });
  std::vector<store::WrittenEvent> written;
  util::Pacer pace(2);
  const bool ok = ev.write(rows, {}, {}, written, err, &pace);
  done = true;
  other.join();
  REQUIRE_MESSAGE(ok, err);
  CHECK(written.size() == rows.size());
  CHECK(pace.slept_ms() > 50.0);  // it was paced
  CHECK(got.load() > 0);
  CHECK(refused.load() == 0);
}

// A reload's checks and a release run in the idle scheduling class, on a
// thread of their own, so that a waking DNS loop always preempts them
// (docs/decisions/0076); the caller (a libuv pool thread) keeps its class.
TEST_CASE("run_lowered: the job runs on its own thread, idle class or nice 19, and the caller is untouched") {
  const int before = sched_getscheduler(0);
  REQUIRE(before >= 0);
  int policy = -1, nice = -100;
  bool own = false;
  char name[16] = {};
  const auto caller = std::this_thread::get_id();
  util::run_lowered("hedge-test-idle", util::Lowered::idle_class, [&](bool on_own) {
    own = on_own && std::this_thread::get_id() != caller;
    policy = sched_getscheduler(0);
    pthread_getname_np(pthread_self(), name, sizeof name);
  });
  CHECK(own);
  CHECK(policy == SCHED_IDLE);
  CHECK(std::string(name) == "hedge-test-idle");
  util::run_lowered("hedge-test-nice", util::Lowered::nice19, [&](bool) {
    policy = sched_getscheduler(0);
    errno = 0;
    nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  });
  CHECK(policy == SCHED_OTHER);
  CHECK(nice == 19);
  CHECK(sched_getscheduler(0) == before);
}

// sched_getattr reports a thread's custom slice on EEVDF kernels (6.12 and
// later); older kernels keep their own and report something else.
static bool kernel_reports_slice() {
  utsname u{};
  REQUIRE(uname(&u) == 0);
  int major = 0, minor = 0;
  REQUIRE(std::sscanf(u.release, "%d.%d", &major, &minor) == 2);
  return major > 6 || (major == 6 && minor >= 12);
}

// The nice-10 background threads (web, store, console) keep the kernel's
// default slice, longer than the DNS loop's 100 us, so that on an EEVDF kernel
// a waking loop preempts them at once (docs/decisions/0079). The thread here
// is started by one that holds the loop's short slice, as a thread started
// from the loop would be; lowering itself must hand it back the default.
TEST_CASE("name_and_lower_this_thread: nice 10 and the default slice, not the loop's short one") {
  int nice = -100;
  util::SchedAttr got, parent;
  long rc = -1, parent_rc = -1;
  bool asked = false;
  std::thread([&] {
    asked = util::ask_short_slice_for_this_thread();
    parent_rc = syscall(SYS_sched_getattr, 0, &parent, static_cast<unsigned>(sizeof parent), 0U);
    std::thread([&] {
      util::name_and_lower_this_thread("hedge-test-bg");
      errno = 0;
      nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
      rc = syscall(SYS_sched_getattr, 0, &got, static_cast<unsigned>(sizeof got), 0U);
    }).join();
  }).join();
  CHECK(nice == util::kBackgroundNice);
  REQUIRE(rc == 0);
  REQUIRE(parent_rc == 0);
  CHECK(asked);
  CHECK(got.sched_policy == SCHED_OTHER);
  CHECK(got.sched_nice == util::kBackgroundNice);
  if (kernel_reports_slice()) {
    CHECK(parent.sched_runtime == util::kLoopSliceNs);
    CHECK(got.sched_runtime > util::kLoopSliceNs);
  }
}

TEST_CASE("ask_short_slice_for_this_thread: the loop's 100 us slice, its nice value kept") {
  int nice_before = -100, nice_after = -100;
  util::SchedAttr got;
  long rc = -1;
  bool asked = false;
  std::thread([&] {
    // A service may start Hedge at a nice value of its own (systemd Nice=):
    // the loop keeps it, only the slice changes.
    REQUIRE(setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 5) == 0);
    errno = 0;
    nice_before = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    asked = util::ask_short_slice_for_this_thread();
    errno = 0;
    nice_after = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
    rc = syscall(SYS_sched_getattr, 0, &got, static_cast<unsigned>(sizeof got), 0U);
  }).join();
  CHECK(nice_before == 5);
  CHECK(nice_after == 5);
  CHECK(asked);
  REQUIRE(rc == 0);
  CHECK(got.sched_policy == SCHED_OTHER);
  if (kernel_reports_slice()) CHECK(got.sched_runtime == util::kLoopSliceNs);
}
