// StoreThread and LoopInbox: order, timed jobs, stop semantics, and the
// round trip store thread -> loop thread that every store user relies on.
#include <doctest/doctest.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "net/loop_inbox.hpp"
#include "store/store_thread.hpp"
#include "util/mpsc_queue.hpp"

using namespace hedge;

TEST_CASE("mpsc queue: many producers, every value once, per-producer order kept") {
  util::MpscQueue<int> q;
  constexpr int kProducers = 4, kEach = 20000;
  std::vector<std::thread> ts;
  for (int p = 0; p < kProducers; ++p)
    ts.emplace_back([&q, p] {
      for (int i = 0; i < kEach; ++i) q.push(p * kEach + i);
    });
  std::vector<int> last(kProducers, -1);
  int got = 0;
  while (got < kProducers * kEach) {
    if (auto v = q.pop()) {
      const int p = *v / kEach, i = *v % kEach;
      REQUIRE(i > last[static_cast<size_t>(p)]);
      last[static_cast<size_t>(p)] = i;
      ++got;
    }
  }
  for (auto& t : ts) t.join();
  CHECK_FALSE(q.pop());
}

TEST_CASE("store thread: jobs run in posting order on the store thread") {
  store::StoreThread st;
  std::string err;
  REQUIRE(st.start(err));
  std::vector<int> seen;
  std::atomic<bool> all_on_thread{true};
  for (int i = 0; i < 100; ++i)
    REQUIRE(st.post([&, i] {
      seen.push_back(i);
      if (!store::StoreThread::on_store_thread()) all_on_thread = false;
    }));
  CHECK_FALSE(store::StoreThread::on_store_thread());
  st.stop();
  REQUIRE(seen.size() == 100);
  for (int i = 0; i < 100; ++i) CHECK(seen[static_cast<size_t>(i)] == i);
  CHECK(all_on_thread);
  CHECK(st.pending() == 0);
  CHECK_FALSE(st.post([] {}));  // refused after stop
}

TEST_CASE("store thread: timed jobs wait for their time; stop runs them at once") {
  using clock = std::chrono::steady_clock;
  store::StoreThread st;
  std::string err;
  REQUIRE(st.start(err));
  std::atomic<int64_t> ran_after_ms{-1};
  const auto t0 = clock::now();
  REQUIRE(st.post_after(150, [&] {
    ran_after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t0).count();
  }));
  std::atomic<bool> quick{false};
  REQUIRE(st.post([&] { quick = true; }));  // not held up by the timed job
  for (int i = 0; i < 100 && !quick; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(quick);
  CHECK(ran_after_ms == -1);
  for (int i = 0; i < 100 && ran_after_ms < 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(ran_after_ms >= 150);

  std::atomic<bool> late_ran{false};
  REQUIRE(st.post_after(60'000, [&] { late_ran = true; }));
  const auto s0 = clock::now();
  st.stop();
  CHECK(late_ran);
  CHECK(clock::now() - s0 < std::chrono::seconds(5));
}

TEST_CASE("loop inbox: results posted from the store thread run on the loop thread") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  net::LoopInbox inbox;
  REQUIRE(inbox.init(&loop));
  store::StoreThread st;
  std::string err;
  REQUIRE(st.start(err));
  const auto loop_thread = std::this_thread::get_id();
  int delivered = 0;
  bool wrong_thread = false;
  constexpr int kJobs = 500;
  for (int i = 0; i < kJobs; ++i)
    st.post([&] {
      inbox.post([&] {
        if (std::this_thread::get_id() != loop_thread) wrong_thread = true;
        if (++delivered == kJobs) inbox.close();  // last one lets uv_run return
      });
    });
  uv_run(&loop, UV_RUN_DEFAULT);
  st.stop();
  CHECK(delivered == kJobs);
  CHECK_FALSE(wrong_thread);
  CHECK_FALSE(inbox.post([] {}));
  CHECK(uv_loop_close(&loop) == 0);
}
