// util/pacer: holds a long background job (re-hashing and walking a 60 MB
// bundle on reload) to a share of one core, so it never takes the CPU the DNS
// loop needs. A lower nice value alone is not enough: under a CPU quota (a
// cgroup's cpu.max, systemd's CPUQuota=, a container) every thread of the
// process spends one budget, and a background thread that runs while the loop
// sleeps leaves the loop throttled when its packets arrive (issue 7's 80 ms
// reload stall). The job calls step() between chunks of about a millisecond;
// step() sleeps long enough that the job's share of wall time stays at or
// under `percent`.
#pragma once

#include <chrono>
#include <thread>

namespace hedge::util {

class Pacer {
 public:
  // percent in 1..100; 100 never sleeps (start-up, tools: nothing to protect).
  explicit Pacer(unsigned percent) noexcept : m_percent(percent == 0 ? 1 : (percent > 100 ? 100 : percent)) {}

  // Call between chunks of work. The time since the last step() (or since
  // construction) counts as work; the sleep keeps work / (work + sleep) at
  // or under the share. Measured in wall time, so a job that was itself
  // preempted sleeps longer, never shorter.
  void step() noexcept {
    const auto now = Clock::now();
    const auto worked = now - m_last;
    if (m_percent < 100) {
      const auto rest = worked * (100 - m_percent) / m_percent;
      std::this_thread::sleep_for(rest);
      m_slept += rest;
    }
    m_last = Clock::now();
    ++m_steps;
  }

  // Total time step() slept (the log line reports it beside the work time).
  double slept_ms() const noexcept { return std::chrono::duration<double, std::milli>(m_slept).count(); }
  unsigned percent() const noexcept { return m_percent; }
  unsigned long steps() const noexcept { return m_steps; }

 private:
  using Clock = std::chrono::steady_clock;
  unsigned m_percent;
  Clock::time_point m_last = Clock::now();
  Clock::duration m_slept{};
  unsigned long m_steps = 0;
};

}  // namespace hedge::util
