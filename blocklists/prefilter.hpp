// blocklists/prefilter: a keyed Bloom filter in front of the confidential
// cdb. Every confidential probe costs an HMAC-SHA256 (about 1 µs a suffix on
// this class of CPU, more on a Pi); the filter answers "certainly not listed"
// for nearly every suffix with one SipHash-2-4 and a few bit tests, so the
// HMAC runs only for listed names and about 1 in 2,000 others.
//
// The filter is keyed like the HMAC (its key lives in the signed manifest),
// so it reveals no more than the confidential cdb: nobody can read names out
// of it; someone with the card can only test guesses, as with the cdb.
// File: "HDGF" | u8 version=1 | u8 k | u16 0 | u32 log2(bits) | bits (LE u64 words).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hedge::lists {

uint64_t siphash24(const std::array<uint8_t, 16>& key, std::string_view data) noexcept;

class Prefilter {
 public:
  static constexpr unsigned kProbes = 8;  // ~0.05% false positives at 16 bits per name

  // Builder: sized for n names.
  explicit Prefilter(std::size_t n = 0);
  void add(const std::array<uint8_t, 16>& key, std::string_view name) noexcept;
  std::string serialise() const;

  // Reader: parses a file's bytes; false (with err) if malformed.
  bool parse(std::string_view bytes, std::string& err);
  bool maybe_contains(const std::array<uint8_t, 16>& key, std::string_view name) const noexcept;
  bool empty() const noexcept { return m_words.empty(); }

 private:
  std::vector<uint64_t> m_words;
  uint32_t m_log2 = 0;
  unsigned m_k = kProbes;
};

}  // namespace hedge::lists
