// net/dir_watch: inotify on one directory with a chosen event mask, polled
// by the DNS loop (uv_poll_t on the inotify descriptor; reading it never
// touches a disk). libuv's uv_fs_event always asks for IN_MODIFY, so a watch
// on a busy directory wakes the loop for every write to any file in it: the
// nightly download's chunks, a log appended beside the lists, a benchmark's
// output (seen as one extra wake per query, docs/decisions/0075). A DirWatch
// asks only for the events its owner acts on, e.g. IN_MOVED_TO | IN_CLOSE_WRITE
// for a state file that is replaced by rename.
//
// Threads: the loop thread only. The object is heap-allocated and frees
// itself after close() once libuv has closed its handle.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "net/uv_handle.hpp"

namespace hedge::net {

class DirWatch final : public CloseGroup {
 public:
  // fn(name) for each event on an entry of `dir` (name is the entry's
  // basename; empty for an event on the directory itself). Null, with err
  // set, when inotify or the watch cannot be had (the caller falls back to
  // a timer).
  using Fn = std::function<void(const std::string& name)>;
  static DirWatch* start(uv_loop_t* loop, const std::string& dir, uint32_t mask, Fn fn,
                         std::string& err) noexcept;
  void close() noexcept;

 private:
  DirWatch() = default;
  ~DirWatch() override;
  static void on_readable(uv_poll_t* h, int status, int events) noexcept;
  void drain() noexcept;

  uv_poll_t m_poll{};
  int m_fd = -1;
  Fn m_fn;
  bool m_closing = false;
};

}  // namespace hedge::net
