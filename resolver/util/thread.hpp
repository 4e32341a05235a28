// util/thread: naming the calling thread (top -H, ps -L show which one is
// busy) and lowering its priority below the DNS loop's. Linux nice values are
// per thread; a thread it starts later inherits both (start libuv's pool
// before: net::start_thread_pool).
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <thread>

#include "util/log.hpp"

namespace hedge::util {

// nice 10: on a shared core the thread gets about a tenth of what a nice-0
// thread gets, and any wait the DNS loop might have on it (an allocator
// arena, an inbox push) stays within a time slice (docs/decisions/0071).
inline constexpr int kBackgroundNice = 10;

// The DNS loop's time slice (sched_setattr's sched_runtime, which EEVDF
// kernels, 6.12 and later, use as the task's slice; clamped there to
// 0.1-100 ms): the shortest there is. Under EEVDF a waking task preempts the
// running one at once when its slice is shorter (PREEMPT_SHORT); otherwise it
// waits until the running one's slice is spent, and nice does not shorten a
// slice. 6.1's CFS ignores the field.
inline constexpr uint64_t kLoopSliceNs = 100'000;

// struct sched_attr (sched_setattr(2)): glibc 2.36 has neither the struct nor
// the call.
struct SchedAttr {
  uint32_t size = sizeof(SchedAttr);
  uint32_t sched_policy = SCHED_OTHER;
  uint64_t sched_flags = 0;
  int32_t sched_nice = 0;
  uint32_t sched_priority = 0;
  uint64_t sched_runtime = 0, sched_deadline = 0, sched_period = 0;
};

inline void name_and_lower_this_thread(const char* name, int nice = kBackgroundNice) noexcept {
  pthread_setname_np(pthread_self(), name);
  // One call for nice and slice; where it is refused (an old kernel, a
  // syscall filter without sched_setattr), nice alone. sched_runtime 0 is
  // the kernel's default slice (1.4 ms here), also for a thread started by
  // one that had a short slice: background threads keep a slice longer than
  // the loop's, so that a waking loop preempts them at once (PREEMPT_SHORT).
  // With equal 100 us slices (docs/decisions/0077) it did not always, and
  // under a block-page flood the web thread then delayed DNS answers more
  // (docs/decisions/0079).
  SchedAttr a;
  a.sched_nice = nice;
  a.sched_runtime = 0;
  if (syscall(SYS_sched_setattr, 0, &a, 0U) == 0) return;
  if (setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), nice) != 0)
    LOG_WARN("%s: could not lower the thread's priority: %s", name, std::strerror(errno));
}

// The DNS loop thread asks for the shortest slice EEVDF allows (100 us), at
// its own nice value. Under EEVDF a waking thread whose slice is shorter than
// the running one's preempts it at once (PREEMPT_SHORT); with the default
// slice the loop waited for the running web or store thread's slice to end
// (up to the next tick) whenever a query arrived while that thread ran
// (docs/decisions/0078, 0079). The loop wakes
// for every packet and runs for tens of microseconds, so the short slice
// costs it nothing. 6.1's CFS ignores the field. Where the call is refused
// (an old kernel, a syscall filter) nothing changes.
inline bool ask_short_slice_for_this_thread() noexcept {
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
  if (nice == -1 && errno != 0) return false;
  SchedAttr a;
  a.sched_nice = nice;
  a.sched_runtime = kLoopSliceNs;
  return syscall(SYS_sched_setattr, 0, &a, 0U) == 0;
}

// The calling thread into the idle scheduling class (SCHED_IDLE), at nice 19
// should the kernel refuse it. For bulk jobs that share no lock with the DNS
// loop (a reload's checks, a release's munmap): a waking normal thread always
// preempts an idle-class one at once, on 6.1's CFS as on EEVDF, whereas a
// nice-19 thread keeps the core for the rest of its slice. On EEVDF (6.6 and
// later) the slice does not shrink with nice, so at 5,000 qps the DNS loop
// waited 0.5-1 ms behind the reload's thread about 700 times in six swaps
// (perf sched, docs/decisions/0076). Not for threads that free the loop's
// memory or push onto its inbox (web, store): see docs/decisions/0071.
inline void name_and_idle_this_thread(const char* name) noexcept {
  pthread_setname_np(pthread_self(), name);
  sched_param p{};
  p.sched_priority = 0;
  if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &p) != 0) name_and_lower_this_thread(name, 19);
}

enum class Lowered { nice19, idle_class };

// Runs fn on a new thread named `name`, lowered as `how`, and waits for it;
// used from a libuv pool thread, which could not raise its own priority back
// after the job without CAP_SYS_NICE. fn(true) there; fn(false) on the calling
// thread when no thread can be had (the job still runs, at the caller's priority).
template <class F>
void run_lowered(const char* name, Lowered how, F&& fn) {
  try {
    std::thread t([&] {
      if (how == Lowered::idle_class)
        name_and_idle_this_thread(name);
      else
        name_and_lower_this_thread(name, 19);
      fn(true);
    });
    t.join();
  } catch (const std::system_error&) {
    fn(false);
  }
}

}  // namespace hedge::util
