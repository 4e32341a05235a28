// util/password: slow password hashing (PBKDF2-HMAC-SHA256 from mbedTLS,
// docs/decisions/0060) and random tokens for sessions and CSRF. The encoded
// form carries its own parameters so the iteration count can be raised later
// without invalidating stored hashes:
//   pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hedge::util {

inline constexpr uint32_t kPasswordIterations = 600000;  // OWASP 2023 for PBKDF2-HMAC-SHA256

// Empty string if the random source or the KDF failed.
std::string hash_password(std::string_view password, uint32_t iterations = kPasswordIterations);
// Constant-time comparison of the derived key; false for a malformed encoding.
bool verify_password(std::string_view password, std::string_view encoded);
// n random bytes as lowercase hex (2n characters); empty on failure.
std::string random_token(std::size_t n = 32);
// Constant-time equality of two strings of the same length (false otherwise).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

}  // namespace hedge::util
