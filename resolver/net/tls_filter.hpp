// net/tls_filter: one TLS server session over a byte stream, with no socket
// of its own: ciphertext from the socket goes in through feed(), plaintext
// for the HTTP parser comes out; plaintext from the handler goes in through
// write(), ciphertext for the socket comes out of take_output(). This is the
// StreamFilter under the HTTP listener's parser on the console thread.
//
// A client that speaks plain HTTP to the TLS port is detected from its first
// byte (a TLS record starts with 0x16) so the caller can answer with a short
// plain-text "use https" response instead of a TLS alert.
#pragma once

#include <mbedtls/ssl.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "net/tls_context.hpp"

namespace hedge::net {

class TlsFilter {
 public:
  explicit TlsFilter(TlsContext& ctx);
  ~TlsFilter();
  TlsFilter(const TlsFilter&) = delete;
  TlsFilter& operator=(const TlsFilter&) = delete;

  enum class Status : uint8_t { ok, closed, error, plain_http };
  // Ciphertext in; decrypted application data appended to `plain`. Drives
  // the handshake as needed; output (handshake records) is queued.
  Status feed(std::span<const uint8_t> cipher, std::string& plain);
  // Plaintext out; false once the session failed or closed.
  bool write(std::string_view plain);
  // Queues a close_notify alert.
  void close_notify();
  // Ciphertext to send (moves it out).
  std::string take_output();
  bool handshake_done() const noexcept { return m_done; }
  const std::string& error() const noexcept { return m_error; }

 private:
  static int on_send(void* self, const unsigned char* buf, size_t len);
  static int on_recv(void* self, unsigned char* buf, size_t len);
  Status pump(std::string& plain);

  mbedtls_ssl_context m_ssl{};
  std::string m_in;  // ciphertext not yet consumed by mbedTLS
  std::size_t m_in_off = 0;
  std::string m_out;  // ciphertext for the socket
  bool m_ok = false, m_done = false, m_first = true, m_failed = false;
  std::string m_error;
};

}  // namespace hedge::net
