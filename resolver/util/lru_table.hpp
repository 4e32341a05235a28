// util/lru_table: a fixed-capacity hash table with least-recently-used
// eviction, for state kept per client address (rate-limit buckets). All
// memory is allocated once at construction: a flood of random source
// addresses evicts old entries instead of growing the table, and the hot
// path never allocates. The hash is seeded per table from getrandom, so a
// sender cannot choose addresses that collide.
//
// Not thread-safe (the loop thread owns it).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>

#include "util/crypto.hpp"

namespace hedge::util {

using AddrKey = std::array<uint8_t, 17>;  // [0] = kind (family, or a prefix tag), then address bytes

template <typename V>
class LruTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  explicit LruTable(std::size_t capacity)
      : m_cap(static_cast<uint32_t>(capacity < 1 ? 1 : capacity)),
        m_nodes(new Node[m_cap]),
        m_nbuckets(bucket_count(m_cap)),
        m_buckets(new uint32_t[m_nbuckets]) {
    clear();
    std::array<uint8_t, 16> seed{};
    if (random_bytes(seed)) {
      std::memcpy(&m_seed0, seed.data(), 8);
      std::memcpy(&m_seed1, seed.data() + 8, 8);
    }
  }
  LruTable(const LruTable&) = delete;
  LruTable& operator=(const LruTable&) = delete;

  void clear() noexcept {
    for (uint32_t i = 0; i < m_nbuckets; ++i) m_buckets[i] = kNone;
    m_size = 0;
    m_head = m_tail = kNone;
  }
  std::size_t size() const noexcept { return m_size; }
  std::size_t capacity() const noexcept { return m_cap; }
  uint64_t evictions() const noexcept { return m_evictions; }

  // The value for key, marked most recently used; null if absent.
  V* find(const AddrKey& key) noexcept {
    const uint32_t i = lookup(key, hash(key));
    if (i == kNone) return nullptr;
    touch(i);
    return &m_nodes[i].value;
  }
  // The value for key, created with `init` (evicting the least recently used
  // entry when full) if absent; `created` says which.
  V& get(const AddrKey& key, const V& init, bool& created) noexcept {
    const uint64_t h = hash(key);
    uint32_t i = lookup(key, h);
    created = i == kNone;
    if (!created) {
      touch(i);
      return m_nodes[i].value;
    }
    if (m_size < m_cap) {
      i = m_size++;
    } else {
      i = m_tail;  // least recently used
      unlink_bucket(i);
      unlink_lru(i);
      ++m_evictions;
    }
    Node& n = m_nodes[i];
    n.key = key;
    n.hash = h;
    n.value = init;
    const uint32_t b = static_cast<uint32_t>(h % m_nbuckets);
    n.chain = m_buckets[b];
    m_buckets[b] = i;
    push_front(i);
    return n.value;
  }
  // Least recently used first (tests).
  template <typename F>
  void each_oldest_first(F f) const {
    for (uint32_t i = m_tail; i != kNone; i = m_nodes[i].prev) f(m_nodes[i].key, m_nodes[i].value);
  }

 private:
  struct Node {
    AddrKey key{};
    uint64_t hash = 0;
    uint32_t chain = kNone;               // next in the bucket
    uint32_t prev = kNone, next = kNone;  // LRU list: prev = more recent
    V value{};
  };
  static uint32_t bucket_count(uint32_t cap) noexcept {
    uint32_t n = 1;
    while (n < cap) n <<= 1;
    return n * 2 + 1;  // load factor <= 1/2; odd so `% n` uses every bit
  }
  static uint64_t mix(uint64_t x) noexcept {  // murmur3 finaliser
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
  }
  uint64_t hash(const AddrKey& k) const noexcept {
    uint64_t a = 0, b = 0;
    std::memcpy(&a, k.data() + 1, 8);
    std::memcpy(&b, k.data() + 9, 8);
    return mix(mix(a ^ m_seed0) ^ b ^ (uint64_t{k[0]} << 56) ^ m_seed1);
  }
  uint32_t lookup(const AddrKey& key, uint64_t h) const noexcept {
    for (uint32_t i = m_buckets[h % m_nbuckets]; i != kNone; i = m_nodes[i].chain)
      if (m_nodes[i].hash == h && m_nodes[i].key == key) return i;
    return kNone;
  }
  void unlink_bucket(uint32_t i) noexcept {
    uint32_t* p = &m_buckets[m_nodes[i].hash % m_nbuckets];
    while (*p != i) p = &m_nodes[*p].chain;
    *p = m_nodes[i].chain;
  }
  void unlink_lru(uint32_t i) noexcept {
    Node& n = m_nodes[i];
    if (n.prev != kNone)
      m_nodes[n.prev].next = n.next;
    else
      m_head = n.next;
    if (n.next != kNone)
      m_nodes[n.next].prev = n.prev;
    else
      m_tail = n.prev;
    n.prev = n.next = kNone;
  }
  void push_front(uint32_t i) noexcept {
    Node& n = m_nodes[i];
    n.prev = kNone;
    n.next = m_head;
    if (m_head != kNone) m_nodes[m_head].prev = i;
    m_head = i;
    if (m_tail == kNone) m_tail = i;
  }
  void touch(uint32_t i) noexcept {
    if (m_head == i) return;
    unlink_lru(i);
    push_front(i);
  }

  uint32_t m_cap;
  std::unique_ptr<Node[]> m_nodes;
  uint32_t m_nbuckets;
  std::unique_ptr<uint32_t[]> m_buckets;
  uint32_t m_size = 0, m_head = kNone, m_tail = kNone;
  uint64_t m_seed0 = 0x736f6d6570736575ull, m_seed1 = 0x646f72616e646f6dull;
  uint64_t m_evictions = 0;
};

}  // namespace hedge::util
