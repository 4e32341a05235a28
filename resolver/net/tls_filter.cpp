// net/tls_filter: mbedTLS server session over in-memory BIO callbacks.
#include "net/tls_filter.hpp"

#include <mbedtls/error.h>

#include <cstring>

namespace hedge::net {

namespace {
std::string tls_error(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}
constexpr std::size_t kMaxPending = 1u << 20;  // unread ciphertext from a peer
constexpr std::size_t kMaxOutput = 64u << 20;  // one report page is a few MB at most
}  // namespace

TlsFilter::TlsFilter(TlsContext& ctx) {
  mbedtls_ssl_init(&m_ssl);
  const int rc = mbedtls_ssl_setup(&m_ssl, ctx.config());
  if (rc != 0) {
    m_error = "TLS setup: " + tls_error(rc);
    m_failed = true;
    return;
  }
  mbedtls_ssl_set_bio(&m_ssl, this, &TlsFilter::on_send, &TlsFilter::on_recv, nullptr);
  m_ok = true;
}

TlsFilter::~TlsFilter() {
  mbedtls_ssl_free(&m_ssl);
}

int TlsFilter::on_send(void* self, const unsigned char* buf, size_t len) {
  auto* f = static_cast<TlsFilter*>(self);
  if (f->m_out.size() + len > kMaxOutput) return MBEDTLS_ERR_SSL_WANT_WRITE;
  f->m_out.append(reinterpret_cast<const char*>(buf), len);
  return static_cast<int>(len);
}

int TlsFilter::on_recv(void* self, unsigned char* buf, size_t len) {
  auto* f = static_cast<TlsFilter*>(self);
  const std::size_t avail = f->m_in.size() - f->m_in_off;
  if (avail == 0) return MBEDTLS_ERR_SSL_WANT_READ;
  const std::size_t n = len < avail ? len : avail;
  std::memcpy(buf, f->m_in.data() + f->m_in_off, n);
  f->m_in_off += n;
  if (f->m_in_off == f->m_in.size()) {
    f->m_in.clear();
    f->m_in_off = 0;
  }
  return static_cast<int>(n);
}

TlsFilter::Status TlsFilter::feed(std::span<const uint8_t> cipher, std::string& plain) {
  if (m_failed || !m_ok) return Status::error;
  if (m_first && !cipher.empty()) {
    m_first = false;
    // TLS records start with content type 22 (handshake); HTTP with a letter.
    if (cipher[0] != 0x16) {
      m_failed = true;
      m_error = "plain HTTP on the TLS port";
      return Status::plain_http;
    }
  }
  if (m_in.size() - m_in_off + cipher.size() > kMaxPending) {
    m_failed = true;
    m_error = "too much unread TLS data";
    return Status::error;
  }
  m_in.append(reinterpret_cast<const char*>(cipher.data()), cipher.size());
  return pump(plain);
}

TlsFilter::Status TlsFilter::pump(std::string& plain) {
  if (!m_done) {
    const int rc = mbedtls_ssl_handshake(&m_ssl);
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return Status::ok;
    if (rc != 0) {
      m_failed = true;
      m_error = "TLS handshake: " + tls_error(rc);
      return Status::error;
    }
    m_done = true;
  }
  unsigned char buf[16384];
  while (true) {
    const int n = mbedtls_ssl_read(&m_ssl, buf, sizeof buf);
    if (n > 0) {
      plain.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
      continue;
    }
    if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) return Status::ok;
    if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return Status::closed;
    m_failed = true;
    m_error = "TLS read: " + tls_error(n);
    return Status::error;
  }
}

bool TlsFilter::write(std::string_view plain) {
  if (m_failed || !m_done) return false;
  std::size_t off = 0;
  while (off < plain.size()) {
    const int n = mbedtls_ssl_write(&m_ssl, reinterpret_cast<const unsigned char*>(plain.data() + off),
                                    plain.size() - off);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    m_failed = true;
    m_error = "TLS write: " + tls_error(n);
    return false;
  }
  return true;
}

void TlsFilter::close_notify() {
  if (m_done && !m_failed) mbedtls_ssl_close_notify(&m_ssl);
}

std::string TlsFilter::take_output() {
  std::string out;
  out.swap(m_out);
  return out;
}

}  // namespace hedge::net
