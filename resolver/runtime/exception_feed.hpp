// runtime/exception_feed: the store-thread side of policy exceptions in
// `hedge serve`. Owns the store::ExceptionStore connection (created, used and
// closed only in jobs on the store::StoreThread) and hands the loop immutable
// exception sets; the loop never calls SQLite.
//
// It wakes only for work:
//   - check():   posted by the loop when the database directory changed
//                (uv_fs_event on the loop, inotify: never blocks). Reads
//                PRAGMA data_version; when another connection committed, reads
//                every exception and delivers the set if it differs.
//   - expiries:  one timed job for the next expiry that is due; it writes the
//                "expire" audit rows (the decision itself needs no reload:
//                decide() compares expiries with `now` to the second).
//   - record_expiries_at(now): the test clock ([debug] fake_clock_file) drives
//                expiries instead of the timer.
//
//   ExceptionFeed feed(store_thread, [&](ExceptionSet s) { inbox.post(...); });
//   feed.open_and_wait(path, list, err);  // at start, before the loop serves
//   feed.check();                          // loop, on a directory event
//   feed.close_and_wait();                 // shutdown
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "policy/exception.hpp"
#include "store/store_thread.hpp"

namespace hedge::store {
class ExceptionStore;
}

namespace hedge::runtime {

using ExceptionSet = std::shared_ptr<const std::vector<policy::Exception>>;

class ExceptionFeed {
 public:
  // `deliver` runs on the store thread with each new set; it must only hand
  // the set over (e.g. LoopInbox::post), never touch loop state.
  ExceptionFeed(store::StoreThread& st, std::function<void(ExceptionSet)> deliver);
  ~ExceptionFeed();
  ExceptionFeed(const ExceptionFeed&) = delete;
  ExceptionFeed& operator=(const ExceptionFeed&) = delete;

  // Opens the store on the store thread and waits for the first set (start
  // only: the loop is not serving yet, and without the deny exceptions the
  // first answers could be unfiltered). False and err when the store cannot
  // be opened (the resolver then runs without exceptions).
  // `timed_expiries`: false when a test clock drives expiries.
  bool open_and_wait(const std::string& path, bool timed_expiries, std::vector<policy::Exception>& first,
                     std::string& err);
  // Any thread: something in the database's directory changed. Coalesced:
  // at most one check is queued at a time.
  void check() noexcept;
  // Any thread: write the expiry audit rows due at `now` (test clock).
  void record_expiries_at(int64_t now) noexcept;
  // Closes the connection on the store thread and waits (shutdown; the
  // store thread must still be running). Idempotent.
  void close_and_wait() noexcept;

  // For tests: store-thread checks that read the database.
  uint64_t checks() const noexcept { return m_checks.load(std::memory_order_relaxed); }

  struct State;  // opaque: store-thread-only data (the connection, the last set)

 private:
  store::StoreThread& m_st;
  std::function<void(ExceptionSet)> m_deliver;
  std::shared_ptr<State> m_state;  // touched only in store-thread jobs
  std::atomic<bool> m_check_queued{false};
  std::atomic<uint64_t> m_checks{0};
  bool m_open = false;  // owner thread
};

}  // namespace hedge::runtime
