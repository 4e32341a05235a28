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
  // Under a CPU quota of less than a core (util/cpu_quota) the share is of
  // the quota: 10% under a quarter-core quota is 2.5% of a core, so the
  // background thread and the DNS loop never add up to more than the
  // process may use (docs/decisions/0075).
  explicit Pacer(unsigned percent, const std::atomic<bool>* hurry = nullptr) noexcept
      : m_percent(percent == 0 ? 1 : (percent > 100 ? 100 : percent)),
        m_share(m_percent >= 100 ? 1.0 : m_percent / 100.0 * quota_scale()),
        m_hurry(hurry),
        m_last(cpu_now()) {}

  // Set once at start-up (Server::start) from util::read_cpu_quota(): the
  // quota in cores when under one, else 1.
  static void set_quota_scale(double cores) noexcept {
    scale_slot().store(cores > 0 && cores < 1 ? cores : 1.0, std::memory_order_relaxed);
  }
  static double quota_scale() noexcept { return scale_slot().load(std::memory_order_relaxed); }

  // Call between chunks of work. The CPU this thread used since the last
  // step() (or construction) is the work; the sleep keeps work / (work +
  // sleep) at or under the share. CPU time, not wall time: a thread that was
  // itself kept waiting (a busy core, a throttled quota) did not use the
  // core meanwhile and must not sleep for it too; and the caller may hold a
  // lock other processes want (an SQLite transaction).
  void step() noexcept {
    const int64_t now = cpu_now();
    const int64_t worked = now - m_last;
    if (m_share < 1.0 && worked > 0 && !(m_hurry && m_hurry->load(std::memory_order_relaxed))) {
      const auto rest = std::chrono::nanoseconds(
          static_cast<int64_t>(static_cast<double>(worked) * (1.0 - m_share) / m_share));
      std::this_thread::sleep_for(rest);
      m_slept += rest;
    }
    m_last = cpu_now();
    ++m_steps;
  }

  // For work made of many small pieces of uneven cost (rows into SQLite):
  // a fixed count of pieces between steps is a burst of unknown length, and
  // under a quota a burst longer than the quota's share of one period
  // throttles every thread of the process, the DNS loop included (64
  // monitoring rows: about 3 ms here, estimated from the store thread's CPU
  // over a backlog, against 2.5 ms of every 10 ms at a 25% quota;
  // docs/decisions/0075).
  // True once the thread has worked chunk_ns since the last step: a caller
  // holding a lock (an SQLite transaction) releases it, then steps.
  bool due(int64_t chunk_ns) const noexcept { return cpu_now() - m_last >= chunk_ns; }

  // Total time step() slept (the log line reports it beside the work time).
  double slept_ms() const noexcept { return std::chrono::duration<double, std::milli>(m_slept).count(); }
  unsigned percent() const noexcept { return m_percent; }
  double share() const noexcept { return m_share; }  // of one core, after the quota scale
  unsigned long steps() const noexcept { return m_steps; }

  // This thread's CPU time in nanoseconds.
  static int64_t cpu_now() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }

 private:
  static std::atomic<double>& scale_slot() noexcept {
    static std::atomic<double> s{1.0};
    return s;
  }
  unsigned m_percent;
  double m_share;
  const std::atomic<bool>* m_hurry;
  int64_t m_last;
  std::chrono::nanoseconds m_slept{};
  unsigned long m_steps = 0;
};

}  // namespace hedge::util
