// net/uv_handle: ownership rules for libuv handles (libuv design.rst).
// A handle's memory may only be freed in its close callback, so objects that
// own handles are heap-allocated and delete themselves once every handle they
// own has reported closed. `CloseGroup` counts those callbacks.
#pragma once

#include <uv.h>

#include <cstdint>

namespace hedge::net {

// Base for heap objects owning N libuv handles. Call close_all() once;
// the object deletes itself after the last close callback.
class CloseGroup {
 public:
  CloseGroup() = default;
  CloseGroup(const CloseGroup&) = delete;
  CloseGroup& operator=(const CloseGroup&) = delete;

 protected:
  virtual ~CloseGroup() = default;
  // Registers h as owned (sets h->data = this). Call after uv_*_init succeeded.
  void own(uv_handle_t* h) noexcept {
    h->data = this;
    ++m_open;
  }
  void close_handle(uv_handle_t* h) noexcept {
    if (!uv_is_closing(h)) uv_close(h, &CloseGroup::on_closed);
  }
  // Subclasses close their handles through close_handle(); once none is
  // open the object is deleted. Safe to call with no handle open.
  void release_if_done() noexcept {
    if (m_open == 0) delete this;
  }
  static CloseGroup* owner(uv_handle_t* h) noexcept { return static_cast<CloseGroup*>(h->data); }

 private:
  static void on_closed(uv_handle_t* h) noexcept {
    auto* self = owner(h);
    if (--self->m_open == 0) delete self;
  }
  uint32_t m_open = 0;
};

inline int64_t now_ms(uv_loop_t* loop) noexcept {
  return static_cast<int64_t>(uv_now(loop));
}

// libuv starts its thread pool on the first uv_queue_work of the process, and
// a new thread inherits its creator's name and scheduling policy. Called on the
// main thread before another thread (the web thread, SCHED_IDLE) can be first, so
// the pool (reload, file reads) runs at the main thread's priority. Blocks
// for one empty job: only at start.
inline void start_thread_pool() noexcept {
  uv_loop_t tmp;
  if (uv_loop_init(&tmp) != 0) return;
  uv_work_t w{};
  if (uv_queue_work(
          &tmp, &w, [](uv_work_t*) {}, [](uv_work_t*, int) {}) == 0)
    uv_run(&tmp, UV_RUN_DEFAULT);
  uv_loop_close(&tmp);
}

}  // namespace hedge::net
