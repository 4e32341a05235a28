// util/crypto: SHA-256 (mbedTLS 2.28 API), hex, and the OS random source.
#include "util/crypto.hpp"

#include <fcntl.h>
#include <mbedtls/sha256.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/pacer.hpp"

namespace hedge::util {

static_assert(sizeof(mbedtls_sha256_context) <= 128);

Sha256Stream::Sha256Stream() {
  auto* c = reinterpret_cast<mbedtls_sha256_context*>(m_ctx);
  mbedtls_sha256_init(c);
  mbedtls_sha256_starts_ret(c, 0);
}

Sha256Stream::~Sha256Stream() {
  mbedtls_sha256_free(reinterpret_cast<mbedtls_sha256_context*>(m_ctx));
}

void Sha256Stream::update(const void* data, std::size_t len) noexcept {
  mbedtls_sha256_update_ret(reinterpret_cast<mbedtls_sha256_context*>(m_ctx),
                            static_cast<const uint8_t*>(data), len);
}

Sha256 Sha256Stream::finish() noexcept {
  Sha256 out{};
  mbedtls_sha256_finish_ret(reinterpret_cast<mbedtls_sha256_context*>(m_ctx), out.data());
  return out;
}

Sha256 sha256(std::span<const uint8_t> data) {
  Sha256 out{};
  mbedtls_sha256_ret(data.data(), data.size(), out.data(), 0);
  return out;
}

Sha256 sha256(std::span<const uint8_t> data, Pacer* pace) {
  if (!pace) return sha256(data);
  constexpr std::size_t kChunk = std::size_t{256} * 1024;  // about a millisecond of hashing
  Sha256Stream s;
  for (std::size_t at = 0; at < data.size(); at += kChunk) {
    s.update(data.data() + at, std::min(kChunk, data.size() - at));
    pace->step();
  }
  return s.finish();
}

std::optional<Sha256> sha256_file(const std::string& path, std::string& err, uint64_t* size, Pacer* pace) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err = path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  mbedtls_sha256_context ctx;
  mbedtls_sha256_init(&ctx);
  mbedtls_sha256_starts_ret(&ctx, 0);
  std::vector<uint8_t> buf(1 << 16);
  uint64_t total = 0;
  bool ok = true;
  while (true) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = path + ": " + std::strerror(errno);
      ok = false;
      break;
    }
    if (n == 0) break;
    mbedtls_sha256_update_ret(&ctx, buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
    if (pace && (total & ((1u << 18) - 1)) == 0) pace->step();  // every 256 KiB
  }
  ::close(fd);
  Sha256 out{};
  mbedtls_sha256_finish_ret(&ctx, out.data());
  mbedtls_sha256_free(&ctx);
  if (!ok) return std::nullopt;
  if (size) *size = total;
  return out;
}

std::string to_hex(std::span<const uint8_t> data) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(data.size() * 2);
  for (uint8_t b : data) {
    s.push_back(digits[b >> 4]);
    s.push_back(digits[b & 15]);
  }
  return s;
}

std::optional<std::vector<uint8_t>> from_hex(std::string_view hex) {
  if (hex.size() % 2) return std::nullopt;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<uint8_t> out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = val(hex[i]), lo = val(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  return out;
}

bool random_bytes(std::span<uint8_t> buf) noexcept {
  std::size_t done = 0;
  while (done < buf.size()) {
    const ssize_t n = ::getrandom(buf.data() + done, buf.size() - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace hedge::util
