// util/pacer: holds a long background job (re-hashing and walking a 60 MB
// bundle on reload) to a share of one core, so it never takes the CPU the DNS
// loop needs. A lower nice value alone is not enough: under a CPU quota (a
// cgroup's cpu.max, systemd's CPUQuota=, a container) every thread of the
// process spends one budget, and a background thread that runs while the loop
// sleeps leaves the loop throttled when its packets arrive (issue 7's 80 ms
// reload stall). The job calls step() between chunks of about a millisecond;
// step() sleeps long enough that the job's CPU stays at or under `percent`
// of one core.
#pragma once

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace hedge::util {

class Pacer {
 public:
  // percent in 1..100; 100 never sleeps (start-up, tools: nothing to protect).
  // Construct it on the thread that does the work: it reads that thread's
  // CPU clock.
  // While *hurry is true (shutting down: finish the job before the service
  // manager's stop timeout), step() does not sleep.
  explicit Pacer(unsigned percent, const std::atomic<bool>* hurry = nullptr) noexcept
      : m_percent(percent == 0 ? 1 : (percent > 100 ? 100 : percent)), m_hurry(hurry), m_last(cpu_now()) {}

  // Call between chunks of work. The CPU this thread used since the last
  // step() (or construction) is the work; the sleep keeps work / (work +
  // sleep) at or under the share. CPU time, not wall time: a thread that was
  // itself kept waiting (a busy core, a throttled quota) did not use the
  // core meanwhile and must not sleep for it too; and the caller may hold a
  // lock other processes want (an SQLite transaction).
  void step() noexcept {
    const int64_t now = cpu_now();
    const int64_t worked = now - m_last;
    if (m_percent < 100 && worked > 0 && !(m_hurry && m_hurry->load(std::memory_order_relaxed))) {
      const auto rest = std::chrono::nanoseconds(worked * (100 - m_percent) / m_percent);
      std::this_thread::sleep_for(rest);
      m_slept += rest;
    }
    m_last = cpu_now();
    ++m_steps;
  }

  // Total time step() slept (the log line reports it beside the work time).
  double slept_ms() const noexcept { return std::chrono::duration<double, std::milli>(m_slept).count(); }
  unsigned percent() const noexcept { return m_percent; }
  unsigned long steps() const noexcept { return m_steps; }

  // This thread's CPU time in nanoseconds.
  static int64_t cpu_now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }

 private:
  unsigned m_percent;
  const std::atomic<bool>* m_hurry;
  int64_t m_last;
  std::chrono::nanoseconds m_slept{};
  unsigned long m_steps = 0;
};

}  // namespace hedge::util
