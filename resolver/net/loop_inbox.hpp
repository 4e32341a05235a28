// net/loop_inbox: how another thread (the store thread, the thread pool, the
// console thread) hands a result back to a libuv loop: post(fn) from any
// thread pushes onto a lock-free queue and calls uv_async_send; fn then runs
// on the loop's own thread. The loop never takes a lock to receive.
//
//   net::LoopInbox inbox;  inbox.init(loop);            // on the loop thread
//   store.post([&] { auto set = load(); inbox.post([set] { apply(set); }); });
//   inbox.close();                                       // on the loop thread, before the loop ends
//
// Lifetime: the owner stops every producer before close(); posts after close()
// are refused. Functions still queued at close() are destroyed without running.
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>

#include "util/mpsc_queue.hpp"

namespace hedge::net {

class LoopInbox {
 public:
  using Fn = std::function<void()>;
  LoopInbox() = default;
  ~LoopInbox();
  LoopInbox(const LoopInbox&) = delete;
  LoopInbox& operator=(const LoopInbox&) = delete;

  bool init(uv_loop_t* loop) noexcept;
  // Any thread. False before init() or after close().
  bool post(Fn fn) noexcept;
  // Loop thread. Closes the async handle (its memory is freed in the close callback).
  void close() noexcept;

 private:
  struct State {
    uv_async_t async{};
    util::MpscQueue<Fn> queue;
    std::atomic<bool> open{false};
  };
  static void on_async(uv_async_t* h) noexcept;
  std::atomic<State*> m_state{nullptr};  // freed by the close callback
};

}  // namespace hedge::net
