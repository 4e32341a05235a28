// util/password: PBKDF2-HMAC-SHA256 (mbedTLS 2.28 pkcs5) and random tokens.
#include "util/password.hpp"

#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include <array>
#include <charconv>
#include <vector>

#include "util/crypto.hpp"

namespace hedge::util {

namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr uint32_t kMinIterations = 1000;      // refuse obviously weak stored hashes
constexpr uint32_t kMaxIterations = 10000000;  // and ones that would stall the console

bool derive(std::string_view password, const std::vector<uint8_t>& salt, uint32_t iterations,
            std::array<uint8_t, 32>& out) {
  mbedtls_md_context_t md;
  mbedtls_md_init(&md);
  const mbedtls_md_info_t* info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
  bool ok =
      info && mbedtls_md_setup(&md, info, 1) == 0 &&
      mbedtls_pkcs5_pbkdf2_hmac(&md, reinterpret_cast<const unsigned char*>(password.data()), password.size(),
                                salt.data(), salt.size(), iterations, out.size(), out.data()) == 0;
  mbedtls_md_free(&md);
  return ok;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    d |= static_cast<unsigned char>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
  return d == 0;
}

std::string random_token(std::size_t n) {
  std::vector<uint8_t> b(n);
  if (!random_bytes(b)) return {};
  return to_hex(b);
}

std::string hash_password(std::string_view password, uint32_t iterations) {
  std::vector<uint8_t> salt(16);
  if (!random_bytes(salt)) return {};
  std::array<uint8_t, 32> dk{};
  if (!derive(password, salt, iterations, dk)) return {};
  return std::string(kScheme) + "$" + std::to_string(iterations) + "$" + to_hex(salt) + "$" + to_hex(dk);
}

bool verify_password(std::string_view password, std::string_view encoded) {
  // Split into exactly four '$'-separated fields.
  std::string_view f[4];
  std::size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    const std::size_t end = i == 3 ? encoded.size() : encoded.find('$', start);
    if (end == std::string_view::npos) return false;
    f[i] = encoded.substr(start, end - start);
    start = end + 1;
  }
  if (f[0] != kScheme || f[3].find('$') != std::string_view::npos) return false;
  uint32_t iterations = 0;
  const auto [p, ec] = std::from_chars(f[1].data(), f[1].data() + f[1].size(), iterations);
  if (ec != std::errc() || p != f[1].data() + f[1].size()) return false;
  if (iterations < kMinIterations || iterations > kMaxIterations) return false;
  const auto salt = from_hex(f[2]);
  if (!salt || salt->empty() || f[3].size() != 64) return false;
  std::array<uint8_t, 32> dk{};
  if (!derive(password, *salt, iterations, dk)) return false;
  return constant_time_equal(to_hex(dk), f[3]);
}

}  // namespace hedge::util
