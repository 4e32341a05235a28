// net/loop_inbox: see the header.
#include "net/loop_inbox.hpp"

#include "util/log.hpp"

namespace hedge::net {

LoopInbox::~LoopInbox() {
  // A loop that was never run to close() leaks the state rather than freeing
  // memory libuv may still reference.
  if (State* s = m_state.load()) s->open.store(false);
}

bool LoopInbox::init(uv_loop_t* loop) noexcept {
  if (m_state.load()) return true;
  auto* s = new (std::nothrow) State;
  if (!s) return false;
  if (uv_async_init(loop, &s->async, &LoopInbox::on_async) != 0) {
    delete s;
    return false;
  }
  s->async.data = s;
  s->open.store(true, std::memory_order_release);
  m_state.store(s, std::memory_order_release);
  return true;
}

bool LoopInbox::post(Fn fn) noexcept {
  State* s = m_state.load(std::memory_order_acquire);
  if (!s || !s->open.load(std::memory_order_acquire)) return false;
  try {
    s->queue.push(std::move(fn));
  } catch (...) {
    return false;
  }
  uv_async_send(&s->async);  // coalesces: one callback may drain many posts
  return true;
}

void LoopInbox::on_async(uv_async_t* h) noexcept {
  auto* s = static_cast<State*>(h->data);
  while (auto fn = s->queue.pop()) {
    if (!s->open.load(std::memory_order_acquire)) continue;  // closing: drop
    try {
      (*fn)();
    } catch (const std::exception& e) {
      LOG_ERROR("loop inbox: a posted function failed: %s", e.what());
    } catch (...) {
      LOG_ERROR("loop inbox: a posted function failed");
    }
  }
}

void LoopInbox::close() noexcept {
  State* s = m_state.exchange(nullptr, std::memory_order_acq_rel);
  if (!s) return;
  s->open.store(false, std::memory_order_release);
  uv_close(reinterpret_cast<uv_handle_t*>(&s->async),
           [](uv_handle_t* h) { delete static_cast<State*>(h->data); });
}

}  // namespace hedge::net
