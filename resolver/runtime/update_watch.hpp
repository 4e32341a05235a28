// runtime/update_watch: the running resolver's view of `hedge update`'s state
// file (blocklists/update/state.hpp). Every 5 min (10 s without inotify), and as soon as `hedge update`
// renames a new copy into place (a net::DirWatch on its directory), the file is
// read on the libuv thread pool (never on the loop) and the parsed state is swapped in as an
// immutable shared_ptr, for /status, /metrics and /health (update/status.hpp)
// and for the policy clock: the resolver never believes the clock is earlier
// than the newest trusted time (the Pi has no real-time clock). A clock
// found earlier than the trusted time is logged when it starts and ends.
#pragma once

#include <uv.h>

#include <atomic>
#include <memory>
#include <string>

#include "blocklists/update/state.hpp"
#include "net/dir_watch.hpp"

namespace hedge::runtime {

class UpdateWatch {
 public:
  // Null when path is empty. Reads the file at once (off the loop), then every interval_ms.
  // trusted_out (optional, must outlive the watch): each state read stores its trusted
  // time there, for readers on other threads (the web thread's policy clock).
  static UpdateWatch* start(uv_loop_t* loop, const std::string& path, uint64_t interval_ms = 10'000,
                            std::atomic<int64_t>* trusted_out = nullptr);
  void close() noexcept;  // the object frees itself once its timer and any read in flight are done

  // Loop thread. Null until the first read finished (or when the file does not exist yet).
  std::shared_ptr<const update::UpdateState> state() const noexcept { return m_state; }
  int64_t trusted_time() const noexcept { return m_state ? m_state->trusted_time : 0; }

 private:
  UpdateWatch() = default;
  ~UpdateWatch() = default;
  void read_now() noexcept;
  void maybe_free() noexcept;
  static void on_timer(uv_timer_t* t) noexcept;

  uv_loop_t* m_loop = nullptr;
  uv_timer_t m_timer{};
  net::DirWatch* m_dir_watch = nullptr;  // frees itself after close()
  std::string m_path, m_name;            // m_name: the file's basename (events name it)
  std::shared_ptr<const update::UpdateState> m_state;
  std::atomic<int64_t>* m_trusted_out = nullptr;
  bool m_reading = false, m_closing = false, m_timer_closed = false, m_clock_behind = false;
  bool m_again = false;  // the file changed while a read was in flight
};

}  // namespace hedge::runtime
