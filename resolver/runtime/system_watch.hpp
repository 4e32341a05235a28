// runtime/system_watch: what the operating system says about the box that
// /health and /status should repeat, read off the loop. Once at start, then
// every minute and whenever a status request finds the facts older than 2 s,
// a libuv thread-pool job looks at:
//   - time synchronisation: systemd-timesyncd creates <timesync dir>/ when it
//     runs and <timesync dir>/synchronized once it has synchronised the clock
//     (systemd >= 239); with the directory present and the file absent the
//     system clearly says "not synchronised". Without timesyncd, the kernel's
//     STA_UNSYNC (adjtimex) counts only when chrony or ntpd is installed to
//     set it, so a dev machine without a time service never reports it.
//   - the image's first-boot status (board/common/sbin/hedge-boot-config):
//     <boot run dir>/config-status ("ok" | "error"), config-source (which
//     settings are in use) and errors.txt (one problem per line).
// The result is an immutable shared_ptr swapped in on the loop thread, like
// runtime/update_watch. Paths come from HEDGE_TIMESYNC_DIR (default
// /run/systemd/timesync) and HEDGE_RUN_DIR (default /run/hedge-boot, the same
// variable hedge-boot-config uses), so tests point them at temp directories.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace hedge::runtime {

struct BootStatus {
  bool present = false;             // config-status exists
  bool config_error = false;        // config-status says "error"
  std::string config_source;        // e.g. "the last good settings", "the built-in settings"
  std::vector<std::string> errors;  // errors.txt, at most 20 lines of at most 300 bytes
  // The technician's settings are not in use at all: the box runs on the image's defaults.
  bool unconfigured() const noexcept { return config_error && config_source == "the built-in settings"; }
};

struct SystemFacts {
  bool time_unsynchronised = false;
  std::string time_source;  // "systemd-timesyncd", "kernel" or "" (nothing says)
  BootStatus boot;
};

// Pure: what the files say. timesync_dir_exists / synchronized_exists are the
// two stat results; kernel_unsync is adjtimex() == TIME_ERROR; time_service is
// "chrony or ntpd is installed".
SystemFacts decide_time(bool timesync_dir_exists, bool synchronized_exists, bool kernel_unsync,
                        bool time_service) noexcept;
// Pure: the boot status from the three files' text (empty when absent).
BootStatus parse_boot_status(bool present, const std::string& status, const std::string& source,
                             const std::string& errors);

// Thread pool: does the file system work (stat, small reads) for both.
SystemFacts read_system_facts(const std::string& timesync_dir, const std::string& boot_dir);

class SystemWatch {
 public:
  // Reads at once (off the loop), then every interval_ms.
  static SystemWatch* start(uv_loop_t* loop, uint64_t interval_ms = 10'000);
  void close() noexcept;  // frees itself once its timer and any read in flight are done

  // Loop thread. Null until the first read finished.
  std::shared_ptr<const SystemFacts> facts() const noexcept { return m_facts; }
  // Loop thread: someone is looking (/health, /status, /metrics): start a
  // fresh read if the facts are older than max_age_ms, so a scrape sees a
  // change by the next scrape while an idle box reads only every interval.
  void refresh(uint64_t max_age_ms) noexcept {
    if (uv_now(m_loop) - m_read_at >= max_age_ms) read_now();
  }

 private:
  SystemWatch() = default;
  ~SystemWatch() = default;
  void read_now() noexcept;
  void maybe_free() noexcept;

  uv_loop_t* m_loop = nullptr;
  uv_timer_t m_timer{};
  std::string m_timesync_dir, m_boot_dir;
  std::shared_ptr<const SystemFacts> m_facts;
  uint64_t m_read_at = 0;  // uv_now of the last read started
  bool m_reading = false, m_closing = false, m_timer_closed = false, m_logged_unsync = false;
};

}  // namespace hedge::runtime
