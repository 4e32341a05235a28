// Unit tests for runtime/system_watch: when the system "clearly says" the
// clock is not synchronised (a table), the first-boot status files, and the
// thread-pool reader on temp directories.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "runtime/system_watch.hpp"

using namespace hedge;

TEST_CASE("time sync: only a time service that says so counts") {
  struct Row {
    const char* what;
    bool dir, synced, kernel_unsync, service;
    bool unsync;
    const char* source;
  } rows[] = {
      {"dev machine: nothing installed, kernel unsynced", false, false, true, false, false, ""},
      {"timesyncd running, not yet synchronised", true, false, false, false, true, "systemd-timesyncd"},
      {"timesyncd synchronised (kernel flag ignored)", true, true, true, false, false, "systemd-timesyncd"},
      {"chrony, kernel unsynced", false, false, true, true, true, "kernel"},
      {"chrony, kernel synced", false, false, false, true, false, "kernel"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    const auto f = runtime::decide_time(r.dir, r.synced, r.kernel_unsync, r.service);
    CHECK(f.time_unsynchronised == r.unsync);
    CHECK(f.time_source == r.source);
  }
}

TEST_CASE("boot status: error with built-in settings means not configured") {
  auto b =
      runtime::parse_boot_status(true, "error\n", "the built-in settings\n",
                                 "hedge.toml:3: server.listen: bad address\r\n\r\nhedge.toml:9: x\x01y\n");
  CHECK(b.present);
  CHECK(b.config_error);
  CHECK(b.unconfigured());
  REQUIRE(b.errors.size() == 2);
  CHECK(b.errors[0] == "hedge.toml:3: server.listen: bad address");
  CHECK(b.errors[1] == "hedge.toml:9: x y");
  b = runtime::parse_boot_status(true, "error\n", "the last good settings\n", "hedge.toml:1: oops\n");
  CHECK(b.config_error);
  CHECK_FALSE(b.unconfigured());
  b = runtime::parse_boot_status(true, "ok\n", "the boot partition's hedge.toml\n", "");
  CHECK_FALSE(b.config_error);
  CHECK(b.errors.empty());
  CHECK_FALSE(runtime::parse_boot_status(false, "", "", "").present);
  // A hostile errors file is bounded.
  std::string many;
  for (int i = 0; i < 100; ++i) many += std::string(1000, 'x') + "\n";
  b = runtime::parse_boot_status(true, "error", "x", many);
  CHECK(b.errors.size() == 20);
  CHECK(b.errors[0].size() == 300);
}

TEST_CASE("read_system_facts on temp directories") {
  char tmpl[] = "/tmp/hedge-sysw-XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  const std::string base = tmpl, ts = base + "/timesync", boot = base + "/boot";
  auto write = [](const std::string& p, const char* text) {
    std::FILE* f = std::fopen(p.c_str(), "w");
    REQUIRE(f);
    std::fputs(text, f);
    std::fclose(f);
  };
  auto f = runtime::read_system_facts(ts, boot);
  CHECK_FALSE(f.boot.present);
  REQUIRE(mkdir(ts.c_str(), 0755) == 0);
  f = runtime::read_system_facts(ts, boot);
  CHECK(f.time_unsynchronised);
  CHECK(f.time_source == "systemd-timesyncd");
  write(ts + "/synchronized", "");
  CHECK_FALSE(runtime::read_system_facts(ts, boot).time_unsynchronised);
  REQUIRE(mkdir(boot.c_str(), 0755) == 0);
  write(boot + "/config-status", "error\n");
  write(boot + "/config-source", "the built-in settings\n");
  write(boot + "/errors.txt", "hedge.toml:2: upstream.servers: must be a list\n");
  f = runtime::read_system_facts(ts, boot);
  CHECK(f.boot.unconfigured());
  REQUIRE(f.boot.errors.size() == 1);
  for (const char* p :
       {"/timesync/synchronized", "/boot/config-status", "/boot/config-source", "/boot/errors.txt"})
    unlink((base + p).c_str());
  rmdir(ts.c_str());
  rmdir(boot.c_str());
  rmdir(base.c_str());
}
