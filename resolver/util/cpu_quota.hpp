// util/cpu_quota: how much CPU this process may use when a cgroup caps it
// (systemd's CPUQuota=, a container's --cpus, the benchmark's quota), read
// once at start-up from /proc/self/cgroup, /proc/self/mountinfo and the
// cgroup files (v2 cpu.max; v1 cpu.cfs_quota_us / cpu.cfs_period_us), the
// smallest cap from the process's cgroup up to the root.
//
// Why: background work is paced to a percentage of one core (util/pacer,
// docs/decisions/0073), but under a quota every thread of the process spends
// one budget. 10% of a core is 40% of a quarter-core quota, and with the DNS
// loop's own share on top the process is throttled in most periods, every
// query then waiting up to the rest of the period (docs/decisions/0075).
// The pacer scales its share by the quota, so background work takes the
// same fraction of what the process has, whatever it has.
//
// The parsers are pure (tested with tables); read_cpu_quota() does the file
// I/O and is called before the loop runs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace hedge::util {

// "max 100000" -> none; "25000 100000" -> 0.25 (cores). Garbage -> none.
std::optional<double> parse_cpu_max(std::string_view text) noexcept;
// cfs_quota_us ("-1" none), cfs_period_us -> cores.
std::optional<double> parse_cfs(std::string_view quota_us, std::string_view period_us) noexcept;

// The directories that hold this process's CPU controller files, innermost
// first (its cgroup, then each parent up to the mount's root), from the
// texts of /proc/self/cgroup and /proc/self/mountinfo. `v2` says which
// format their files use.
struct CgroupDirs {
  std::vector<std::string> dirs;
  bool v2 = false;
};
CgroupDirs cpu_cgroup_dirs(std::string_view proc_cgroup, std::string_view mountinfo);

struct CpuQuota {
  double cores = 0;   // 0: no quota found
  std::string where;  // the cgroup directory whose cap is the smallest
};
// Reads the files (start-up only: file I/O).
CpuQuota read_cpu_quota() noexcept;

}  // namespace hedge::util
