// util/mpsc_queue: an unbounded multi-producer, single-consumer queue whose
// push never takes a lock (D. Vyukov's node-based design: one atomic exchange
// per push). Used where the DNS loop thread hands work to another thread (the
// store thread) or another thread hands results back to a loop (LoopInbox):
// the loop must never wait on a lock, and a mutex shared with a thread doing
// disk I/O is exactly such a wait.
//
// Any thread may push(); only one thread at a time may pop(). pop() can
// briefly see the queue as empty while a push is half done: every producer
// therefore wakes the consumer *after* push() returns, so nothing is missed.
#pragma once

#include <atomic>
#include <optional>
#include <utility>

namespace hedge::util {

template <class T>
class MpscQueue {
 public:
  MpscQueue() : m_head(new Node), m_tail(m_head.load(std::memory_order_relaxed)) {}
  ~MpscQueue() {
    while (pop()) {
    }
    delete m_tail;
  }
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;

  void push(T value) {
    auto* n = new Node;
    n->value.emplace(std::move(value));
    Node* prev = m_head.exchange(n, std::memory_order_acq_rel);
    prev->next.store(n, std::memory_order_release);
  }

  // Consumer only. Empty optional when nothing (fully) pushed is left.
  std::optional<T> pop() {
    Node* tail = m_tail;
    Node* next = tail->next.load(std::memory_order_acquire);
    if (!next) return std::nullopt;
    std::optional<T> out(std::move(next->value));
    next->value.reset();
    m_tail = next;
    delete tail;
    return out;
  }

 private:
  struct Node {
    std::atomic<Node*> next{nullptr};
    std::optional<T> value;
  };
  std::atomic<Node*> m_head;  // producers: the newest node
  Node* m_tail;               // consumer: the stub before the oldest value
};

}  // namespace hedge::util
