// store/store_thread: the one thread inside `hedge serve` that may call
// SQLite (and do the store's other blocking file I/O). Every store user
// (exceptions, monitoring events, incidents, review requests, users, audit)
// posts jobs here; the objects owning a sqlite3 connection are created and
// used only inside those jobs.
//
// Why one thread: the DNS loop must never wait on disk or on a lock, SQLite
// may wait seconds for a lock held by a CLI writer, and a single writer per
// process keeps WAL writes batched (the SD card) and ordering simple.
//
//   store::StoreThread st;  st.start(err);
//   st.post([&] { events.write_batch(batch); });          // from any thread, lock-free
//   st.post_after(1000, [&] { flush(); });                 // timed job
//   st.stop();                                             // runs what is queued, joins
//
// The thread sleeps until a job is posted or a timed job is due: an idle box
// executes nothing here. Results go back to a loop with net::LoopInbox.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "util/mpsc_queue.hpp"

namespace hedge::store {

class StoreThread {
 public:
  using Job = std::function<void()>;

  StoreThread() = default;
  ~StoreThread() { stop(); }
  StoreThread(const StoreThread&) = delete;
  StoreThread& operator=(const StoreThread&) = delete;

  // Spawns the thread. False and err when it cannot (no eventfd, no thread).
  bool start(std::string& err);
  bool running() const noexcept { return m_thread.joinable(); }

  // Any thread; never blocks (one atomic exchange and a non-blocking eventfd
  // write). False before start() and after stop() began: the job is dropped.
  bool post(Job job) noexcept { return post_after(0, std::move(job)); }
  // Runs job on the store thread no earlier than delay_ms from now.
  bool post_after(uint64_t delay_ms, Job job) noexcept;

  // Runs every queued job (timed ones too, at once, in due order), then joins.
  // Idempotent; called by the destructor. Not from the store thread itself.
  void stop() noexcept;

  // True on the store thread (for assertions in store code).
  static bool on_store_thread() noexcept;
  // Jobs posted but not yet run (immediate and timed), for /status.
  uint64_t pending() const noexcept { return m_pending.load(std::memory_order_relaxed); }

 private:
  struct Posted {
    int64_t due_ms;  // steady clock, ms
    Job job;
  };
  void run() noexcept;
  void wake() noexcept;

  util::MpscQueue<Posted> m_queue;
  std::atomic<bool> m_accepting{false};
  std::atomic<bool> m_stopping{false};
  std::atomic<uint64_t> m_pending{0};
  int m_wake_fd = -1;  // eventfd
  std::thread m_thread;
};

}  // namespace hedge::store
