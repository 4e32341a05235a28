// util/thread: naming the calling thread (top -H, ps -L show which one is
// busy) and lowering its priority below the DNS loop's. Linux nice values are
// per thread; a thread it starts later inherits both (start libuv's pool
// before: net::start_thread_pool).
#pragma once

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <thread>

#include "util/log.hpp"

namespace hedge::util {

// nice 10: on a shared core the thread gets about a tenth of what a nice-0
// thread gets, and any wait the DNS loop might have on it (an allocator
// arena, an inbox push) stays within a time slice (docs/decisions/0071).
inline constexpr int kBackgroundNice = 10;

inline void name_and_lower_this_thread(const char* name, int nice = kBackgroundNice) noexcept {
  pthread_setname_np(pthread_self(), name);
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice) != 0)
    LOG_WARN("%s: could not lower the thread's priority: %s", name, std::strerror(errno));
}

// Runs fn on a new thread named `name` at `nice` and waits for it; used from
// a libuv pool thread, which could not raise its own priority back after the
// job without CAP_SYS_NICE. fn(true) there; fn(false) on the calling thread
// when no thread can be had (the job still runs, at the caller's priority).
template <class F>
void run_lowered(const char* name, int nice, F&& fn) {
  try {
    std::thread t([&] {
      name_and_lower_this_thread(name, nice);
      fn(true);
    });
    t.join();
  } catch (const std::system_error&) {
    fn(false);
  }
}

}  // namespace hedge::util
