// blocklists/prefilter: SipHash-2-4 (Aumasson and Bernstein, 2012) and the Bloom filter.
#include "blocklists/prefilter.hpp"

#include <cstring>

namespace hedge::lists {

namespace {
inline uint64_t rotl(uint64_t x, int b) noexcept {
  return (x << b) | (x >> (64 - b));
}
inline uint64_t load64le(const uint8_t* p) noexcept {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline void sipround(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) noexcept {
  v0 += v1;
  v1 = rotl(v1, 13);
  v1 ^= v0;
  v0 = rotl(v0, 32);
  v2 += v3;
  v3 = rotl(v3, 16);
  v3 ^= v2;
  v0 += v3;
  v3 = rotl(v3, 21);
  v3 ^= v0;
  v2 += v1;
  v1 = rotl(v1, 17);
  v1 ^= v2;
  v2 = rotl(v2, 32);
}
}  // namespace

uint64_t siphash24(const std::array<uint8_t, 16>& key, std::string_view data) noexcept {
  const uint64_t k0 = load64le(key.data()), k1 = load64le(key.data() + 8);
  uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
  uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
  const auto* p = reinterpret_cast<const uint8_t*>(data.data());
  const std::size_t n = data.size(), whole = n - n % 8;
  for (std::size_t i = 0; i < whole; i += 8) {
    const uint64_t m = load64le(p + i);
    v3 ^= m;
    sipround(v0, v1, v2, v3);
    sipround(v0, v1, v2, v3);
    v0 ^= m;
  }
  uint64_t b = static_cast<uint64_t>(n) << 56;
  for (std::size_t i = 0; i < n % 8; ++i) b |= static_cast<uint64_t>(p[whole + i]) << (8 * i);
  v3 ^= b;
  sipround(v0, v1, v2, v3);
  sipround(v0, v1, v2, v3);
  v0 ^= b;
  v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) sipround(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

Prefilter::Prefilter(std::size_t n) {
  if (n == 0) return;
  // 16 bits per name, rounded up to a power of two, at least 4096 bits.
  m_log2 = 12;
  while ((uint64_t{1} << m_log2) < n * 16 && m_log2 < 36) ++m_log2;
  m_words.assign((uint64_t{1} << m_log2) / 64, 0);
}

void Prefilter::add(const std::array<uint8_t, 16>& key, std::string_view name) noexcept {
  if (m_words.empty()) return;
  const uint64_t h = siphash24(key, name);
  const uint64_t mask = (uint64_t{1} << m_log2) - 1;
  const uint64_t h1 = h & 0xffffffffu, h2 = (h >> 32) | 1;  // Kirsch-Mitzenmacher double hashing
  for (unsigned i = 0; i < m_k; ++i) {
    const uint64_t bit = (h1 + i * h2) & mask;
    m_words[bit / 64] |= uint64_t{1} << (bit % 64);
  }
}

bool Prefilter::maybe_contains(const std::array<uint8_t, 16>& key, std::string_view name) const noexcept {
  if (m_words.empty()) return true;  // no filter: every probe goes to the cdb
  const uint64_t h = siphash24(key, name);
  const uint64_t mask = (uint64_t{1} << m_log2) - 1;
  const uint64_t h1 = h & 0xffffffffu, h2 = (h >> 32) | 1;
  for (unsigned i = 0; i < m_k; ++i) {
    const uint64_t bit = (h1 + i * h2) & mask;
    if (!(m_words[bit / 64] & (uint64_t{1} << (bit % 64)))) return false;
  }
  return true;
}

std::string Prefilter::serialise() const {
  std::string out = "HDGF";
  out.push_back(1);
  out.push_back(static_cast<char>(m_k));
  out.append(2, '\0');
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((m_log2 >> (8 * i)) & 0xff));
  for (uint64_t w : m_words)
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((w >> (8 * i)) & 0xff));
  return out;
}

bool Prefilter::parse(std::string_view bytes, std::string& err) {
  if (bytes.size() < 12 || bytes.substr(0, 4) != "HDGF" || bytes[4] != 1) {
    err = "not a confidential prefilter (bad header)";
    return false;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  m_k = p[5];
  m_log2 = p[8] | (uint32_t{p[9]} << 8) | (uint32_t{p[10]} << 16) | (uint32_t{p[11]} << 24);
  if (m_k < 1 || m_k > 32 || m_log2 < 6 || m_log2 > 36 || bytes.size() - 12 != (uint64_t{1} << m_log2) / 8) {
    err = "confidential prefilter has an impossible size";
    m_words.clear();
    return false;
  }
  m_words.resize((uint64_t{1} << m_log2) / 64);
  for (std::size_t i = 0; i < m_words.size(); ++i) m_words[i] = load64le(p + 12 + i * 8);
  return true;
}

}  // namespace hedge::lists
