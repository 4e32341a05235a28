// util/cpu_quota: the parsers for cgroup v1 and v2 quota files and for the
// process's cgroup directories, from the texts the kernel writes.
#include <doctest/doctest.h>

#include "util/cpu_quota.hpp"
#include "util/pacer.hpp"

using namespace hedge;

TEST_CASE("cpu quota: cpu.max and cfs files, as written by the kernel") {
  struct Row {
    const char* text;
    double cores;  // 0: none
  } rows[] = {
      {"max 100000\n", 0},
      {"25000 100000\n", 0.25},
      {"2500 10000", 0.25},
      {"200000 100000\n", 2.0},
      {"", 0},
      {"max", 0},
      {"0 100000", 0},
      {"abc 100000", 0},
      {"25000 0", 0},
      {"25000", 0},
  };
  for (const auto& r : rows) {
    CAPTURE(r.text);
    const auto c = util::parse_cpu_max(r.text);
    CHECK(c.value_or(0) == doctest::Approx(r.cores));
  }
  CHECK(util::parse_cfs("-1\n", "100000\n") == std::nullopt);
  CHECK(util::parse_cfs("2500\n", "10000\n").value_or(0) == doctest::Approx(0.25));
  CHECK(util::parse_cfs("", "") == std::nullopt);
}

TEST_CASE("cpu quota: the directories to look in, innermost first") {
  const char* v1_mounts =
      "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
      "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n";
  auto d = util::cpu_cgroup_dirs("4:memory:/x\n3:cpu,cpuacct:/system.slice/hedge.service\n0::/\n", v1_mounts);
  CHECK_FALSE(d.v2);
  REQUIRE(d.dirs.size() == 3);
  CHECK(d.dirs[0] == "/sys/fs/cgroup/cpu,cpuacct/system.slice/hedge.service");
  CHECK(d.dirs[1] == "/sys/fs/cgroup/cpu,cpuacct/system.slice");
  CHECK(d.dirs[2] == "/sys/fs/cgroup/cpu,cpuacct");

  // cgroup v2 (Debian 12 and the box): one hierarchy.
  const char* v2_mounts = "29 22 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
  d = util::cpu_cgroup_dirs("0::/system.slice/hedge.service\n", v2_mounts);
  CHECK(d.v2);
  REQUIRE(d.dirs.size() == 3);
  CHECK(d.dirs[0] == "/sys/fs/cgroup/system.slice/hedge.service");
  CHECK(d.dirs[2] == "/sys/fs/cgroup");

  // In a container the mount's root is the container's own cgroup.
  d = util::cpu_cgroup_dirs("0::/docker/abc/inner\n",
                            "29 22 0:26 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
  REQUIRE(d.dirs.size() == 2);
  CHECK(d.dirs[0] == "/sys/fs/cgroup/inner");
  CHECK(d.dirs[1] == "/sys/fs/cgroup");

  // Nothing usable: no directories, so no quota (never a guess).
  CHECK(util::cpu_cgroup_dirs("", "").dirs.empty());
  CHECK(util::cpu_cgroup_dirs("0::/a\n", "").dirs.empty());
  CHECK(util::cpu_cgroup_dirs("garbage", "more garbage - x").dirs.empty());
}

TEST_CASE("pacer: under a quota of a quarter core, 10% is 2.5% of a core") {
  util::Pacer::set_quota_scale(0.25);
  util::Pacer quarter(10);
  util::Pacer::set_quota_scale(0);  // none: back to whole cores
  util::Pacer whole(10);
  util::Pacer::set_quota_scale(3);  // more than a core: a share of one core is unchanged
  util::Pacer many(10);
  util::Pacer::set_quota_scale(1);
  CHECK(quarter.share() == doctest::Approx(0.025));
  CHECK(whole.share() == doctest::Approx(0.10));
  CHECK(many.share() == doctest::Approx(0.10));
  CHECK(util::Pacer(100).share() == doctest::Approx(1.0));  // tools: never paced
}
