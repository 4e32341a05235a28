// util/crypto: SHA-256 and hex helpers over mbedTLS, shared by the bundle
// reader and writer, signatures and the audit hash chain.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hedge::util {

using Sha256 = std::array<uint8_t, 32>;

class Pacer;

Sha256 sha256(std::span<const uint8_t> data);
// The same, in chunks of 256 KiB with pace->step() between them (a reload's
// re-hash of a mapped cdb held to a share of a core; util/pacer.hpp).
Sha256 sha256(std::span<const uint8_t> data, Pacer* pace);
inline Sha256 sha256(std::string_view s) {
  return sha256({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}
// Hashes a whole file in chunks; nullopt (and err) if it cannot be read.
std::optional<Sha256> sha256_file(const std::string& path, std::string& err, uint64_t* size = nullptr,
                                  Pacer* pace = nullptr);

// Incremental SHA-256 (a download hashed as it arrives).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void update(const void* data, std::size_t len) noexcept;
  Sha256 finish() noexcept;

 private:
  alignas(8) unsigned char m_ctx[128];  // mbedtls_sha256_context (checked in crypto.cpp)
};

std::string to_hex(std::span<const uint8_t> data);
std::optional<std::vector<uint8_t>> from_hex(std::string_view hex);

// Fills buf with cryptographically random bytes (getrandom); false on failure.
bool random_bytes(std::span<uint8_t> buf) noexcept;

}  // namespace hedge::util
