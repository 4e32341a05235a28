// cache/answer_cache: hash map + intrusive LRU list over owned entries.
#include "cache/answer_cache.hpp"

#include <algorithm>

#include <cstring>

namespace hedge::cache {

std::string_view make_key(std::span<const uint8_t> qwire, std::size_t qname_len, bool do_bit, bool cd_bit,
                          uint8_t* buf) noexcept {
  const std::size_t n = qwire.size();  // name + type + class
  for (std::size_t i = 0; i < n; ++i) {
    uint8_t c = qwire[i];
    if (i < qname_len && c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + 32);
    buf[i] = c;
  }
  buf[n] = static_cast<uint8_t>((do_bit ? 1 : 0) | (cd_bit ? 2 : 0));
  return {reinterpret_cast<const char*>(buf), n + 1};
}

namespace {
// What one heap block of n bytes really costs with glibc malloc: an 8-byte
// header, rounded up to 16-byte granules, 32 bytes at least.
constexpr std::size_t heap(std::size_t n) noexcept {
  return n == 0 ? 0 : std::max<std::size_t>(32, (n + 8 + 15) & ~std::size_t{15});
}
std::size_t string_heap(const std::string& s) noexcept {
  return s.capacity() > 15 ? heap(s.capacity() + 1) : 0;  // libstdc++ keeps up to 15 chars inline
}
}  // namespace

// Real memory, not payload: every block's capacity and malloc overhead, the
// map's node and its share of the bucket array. (Counting size() alone
// under-counted about 4x: the scrubbed wire buffer is sized for the worst case.)
std::size_t Entry::cost() const noexcept {
  constexpr std::size_t kMapNode = sizeof(void*) + sizeof(std::string_view) + sizeof(std::unique_ptr<Entry>) +
                                   sizeof(std::size_t);  // next, key, value, cached hash
  std::size_t c = heap(sizeof(Entry)) + string_heap(key) + heap(wire.capacity()) +
                  heap(ttl_offsets.capacity() * sizeof(uint16_t)) +
                  heap(chain.capacity() * sizeof(std::string)) + heap(kMapNode) +
                  2 * sizeof(void*);  // buckets: load factor <= 1, grown 2x
  for (const auto& s : chain) c += string_heap(s);
  return c;
}

AnswerCache::AnswerCache(std::size_t max_bytes, uint32_t stale_seconds)
    : m_max_bytes(max_bytes), m_stale_s(stale_seconds) {}

AnswerCache::~AnswerCache() {
  clear();
}

void AnswerCache::clear() noexcept {
  m_map.clear();
  m_head = m_tail = nullptr;
  m_bytes = 0;
}

void AnswerCache::set_limits(std::size_t max_bytes, uint32_t stale_seconds) noexcept {
  m_max_bytes = max_bytes;
  m_stale_s = stale_seconds;
  while (m_bytes > m_max_bytes && m_tail) {
    erase(m_tail);
    ++m_evictions;
  }
}

void AnswerCache::unlink(Entry* e) noexcept {
  (e->prev ? e->prev->next : m_head) = e->next;
  (e->next ? e->next->prev : m_tail) = e->prev;
  e->prev = e->next = nullptr;
}

void AnswerCache::push_front(Entry* e) noexcept {
  e->prev = nullptr;
  e->next = m_head;
  if (m_head) m_head->prev = e;
  m_head = e;
  if (!m_tail) m_tail = e;
}

void AnswerCache::erase(Entry* e) noexcept {
  unlink(e);
  m_bytes -= e->cost();
  m_map.erase(std::string_view(e->key));
}

Hit AnswerCache::lookup(std::string_view key, int64_t now_ms, bool allow_stale) noexcept {
  auto it = m_map.find(key);
  if (it == m_map.end()) return {};
  Entry* e = it->second.get();
  const int64_t age_ms = now_ms - e->stored_ms;
  const uint32_t age = age_ms > 0 ? static_cast<uint32_t>(age_ms / 1000) : 0;
  const bool expired = age_ms >= int64_t{e->ttl} * 1000;
  if (expired) {
    if (age_ms >= (int64_t{e->ttl} + m_stale_s) * 1000) {
      erase(e);  // past the stale window: gone for good
      return {};
    }
    if (!allow_stale) return {};
  }
  if (e != m_head) {
    unlink(e);
    push_front(e);
  }
  return {e, age, expired};
}

void AnswerCache::insert(std::string_view key, dns::ScrubbedReply&& r, int64_t now_ms) {
  if (r.ttl == 0 || key.size() > kKeyMax) return;
  if (auto it = m_map.find(key); it != m_map.end()) erase(it->second.get());
  auto e = std::make_unique<Entry>();
  e->key.assign(key);
  // Exact-size copies: the scrubbed reply's buffers are sized for the worst case.
  e->wire.assign(r.wire.begin(), r.wire.end());
  e->ttl_offsets.assign(r.ttl_offsets.begin(), r.ttl_offsets.end());
  e->chain.reserve(r.chain.size());
  for (auto& c : r.chain) e->chain.emplace_back(c);
  e->stored_ms = now_ms;
  e->ttl = r.ttl;
  e->rcode = r.rcode;
  const std::size_t cost = e->cost();
  if (cost > m_max_bytes) return;
  while (m_bytes + cost > m_max_bytes && m_tail) {
    erase(m_tail);
    ++m_evictions;
  }
  Entry* raw = e.get();
  m_map.emplace(std::string_view(raw->key), std::move(e));
  push_front(raw);
  m_bytes += cost;
}

}  // namespace hedge::cache
