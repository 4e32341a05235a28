// store/store_thread: see the header. The thread's loop: drain the lock-free
// queue into a due-time heap, run what is due, then sleep in poll() on an
// eventfd until the next due time (or forever when nothing is scheduled).
#include "store/store_thread.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <queue>
#include <vector>

#include "util/log.hpp"
#include "util/thread.hpp"

namespace hedge::store {

namespace {

thread_local bool t_on_store_thread = false;

int64_t steady_ms() noexcept {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool StoreThread::on_store_thread() noexcept {
  return t_on_store_thread;
}

bool StoreThread::start(std::string& err) {
  if (m_thread.joinable()) return true;
  m_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m_wake_fd < 0) {
    err = std::string("store thread: eventfd: ") + std::strerror(errno);
    return false;
  }
  m_stopping.store(false);
  m_accepting.store(true);
  try {
    m_thread = std::thread([this] { run(); });
  } catch (const std::exception& e) {
    m_accepting.store(false);
    ::close(m_wake_fd);
    m_wake_fd = -1;
    err = std::string("store thread: cannot start: ") + e.what();
    return false;
  }
  return true;
}

bool StoreThread::post_after(uint64_t delay_ms, Job job) noexcept {
  if (!m_accepting.load(std::memory_order_acquire)) return false;
  try {
    // +1: the clock is read in whole milliseconds, so "due" rounds up to keep
    // the promise of "no earlier than delay_ms".
    const int64_t due = steady_ms() + static_cast<int64_t>(delay_ms) + (delay_ms ? 1 : 0);
    m_queue.push(Posted{due, std::move(job)});
  } catch (...) {  // bad_alloc: drop, the caller counts it
    return false;
  }
  m_pending.fetch_add(1, std::memory_order_relaxed);
  wake();
  return true;
}

void StoreThread::wake() noexcept {
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the thread will wake anyway.
  [[maybe_unused]] const ssize_t n = ::write(m_wake_fd, &one, sizeof one);
}

void StoreThread::stop() noexcept {
  if (!m_thread.joinable()) return;
  m_accepting.store(false, std::memory_order_release);
  m_stopping.store(true, std::memory_order_release);
  wake();
  m_thread.join();
  ::close(m_wake_fd);
  m_wake_fd = -1;
}

void StoreThread::run() noexcept {
  t_on_store_thread = true;
  // Below the DNS loop, as the web and console threads are: the loop never
  // waits for this thread (posts are lock-free), so its nice value only
  // decides who runs first on a shared core (docs/decisions/0073).
  util::name_and_lower_this_thread("hedge-store");
  // Timed jobs by due time; equal times keep posting order (seq).
  struct Timed {
    int64_t due_ms;
    uint64_t seq;
    Job job;
  };
  struct Later {
    bool operator()(const Timed& a, const Timed& b) const noexcept {
      return a.due_ms != b.due_ms ? a.due_ms > b.due_ms : a.seq > b.seq;
    }
  };
  std::priority_queue<Timed, std::vector<Timed>, Later> timed;
  uint64_t seq = 0;
  auto run_job = [this](Job& job) {
    try {
      job();
    } catch (const std::exception& e) {
      LOG_ERROR("store thread: a job failed: %s", e.what());
    } catch (...) {
      LOG_ERROR("store thread: a job failed");
    }
    m_pending.fetch_sub(1, std::memory_order_relaxed);
  };
  for (;;) {
    const int64_t now = steady_ms();
    while (auto p = m_queue.pop()) {
      if (p->due_ms <= now && timed.empty()) {
        run_job(p->job);  // the common case keeps posting order
      } else {
        timed.push(Timed{p->due_ms, seq++, std::move(p->job)});
      }
    }
    const bool stopping = m_stopping.load(std::memory_order_acquire);
    while (!timed.empty() && (stopping || timed.top().due_ms <= steady_ms())) {
      Timed p = std::move(const_cast<Timed&>(timed.top()));
      timed.pop();
      run_job(p.job);
    }
    if (stopping) {
      // A post racing with stop() may still have landed: run it too.
      bool more = false;
      while (auto p = m_queue.pop()) {
        run_job(p->job);
        more = true;
      }
      if (!more) break;
      continue;
    }
    int timeout = -1;
    if (!timed.empty()) {
      const int64_t left = timed.top().due_ms - steady_ms();
      timeout = left <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left, 1 << 30));
    }
    pollfd pfd{m_wake_fd, POLLIN, 0};
    const int rc = ::poll(&pfd, 1, timeout);
    if (rc > 0) {
      uint64_t v = 0;
      [[maybe_unused]] const ssize_t n = ::read(m_wake_fd, &v, sizeof v);
    }
  }
  t_on_store_thread = false;
}

}  // namespace hedge::store
