// net/tls_client: the one TLS client of the box, over mbedTLS 2.28 (the only
// file besides the console's server side, net/tls_context and net/tls_filter,
// that calls mbedtls_ssl_* / mbedtls_x509_*). Used by `hedge update`
// (blocklists/update/https_client: HTTPS GET), and by the alert senders
// (alerts/smtp: SMTP with STARTTLS; alerts/webhook: HTTPS POST through
// update::HttpsClient).
//
// Policy decided here, once: TLS 1.2 or later, no renegotiation; the chain
// must end at a CA in ca_file (a file or a directory of PEM files), name the
// host, and be valid now. Failures say which of these it was, in one line.
//
// A connection is blocking I/O with poll(): a connect timeout per address,
// an idle timeout (no byte for that long), a total deadline, and an optional
// cancel flag checked at least every 200 ms so a shutdown never waits for a
// slow peer. It may start in plain text (SMTP before STARTTLS) and switch to
// TLS with start_tls(). Never used on the DNS loop: `hedge update` is its own
// process and the alert sender has its own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace hedge::net {

enum class ClientError { none, dns, connect, timeout, tls, clock, io };

struct ClientFailure {
  ClientError kind = ClientError::none;
  std::string message;  // one line: what failed and where
  explicit operator bool() const noexcept { return kind != ClientError::none; }
};

struct TlsClientOptions {
  std::string ca_file;
  int64_t connect_timeout_ms = 10'000, idle_timeout_ms = 30'000, total_timeout_ms = 1'800'000;
  const std::atomic<bool>* cancel = nullptr;  // set: stop waiting, fail with a timeout
};

// CA store, DRBG and the client TLS configuration; shared by the connections
// of one thread (mbedTLS contexts are not shared between threads).
class TlsClientConfig {
 public:
  TlsClientConfig();
  ~TlsClientConfig();
  TlsClientConfig(const TlsClientConfig&) = delete;
  TlsClientConfig& operator=(const TlsClientConfig&) = delete;

  // Loads ca_file and seeds the DRBG (pers: a label for the DRBG seed).
  bool init(const TlsClientOptions& opt, const char* pers, ClientFailure& f);
  const TlsClientOptions& options() const noexcept { return m_opt; }

 private:
  friend class ClientConnection;
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  TlsClientOptions m_opt;
};

class ClientConnection {
 public:
  // where: how failures name the peer (e.g. "https://host/path", "smtp://host:587").
  ClientConnection(TlsClientConfig& cfg, std::string where);
  ~ClientConnection();
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  // getaddrinfo (the system resolver), then each address in turn within the
  // connect timeout. Starts the total deadline.
  bool connect(const std::string& host, const std::string& port, ClientFailure& f);
  // TLS handshake on the connected socket, verifying the chain for `host`.
  bool start_tls(const std::string& host, ClientFailure& f);
  bool tls() const noexcept;

  // All of data (through TLS after start_tls).
  bool write(std::string_view data, ClientFailure& f);
  // Some bytes: > 0 read, 0 the peer closed, < 0 failed (f says why).
  long read(char* buf, std::size_t len, ClientFailure& f);
  // Polite TLS close (no-op in plain text).
  void close_notify() noexcept;

  bool timed_out() const noexcept;
  bool total_expired() const noexcept;
  const std::string& where() const noexcept { return m_where; }

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  TlsClientConfig& m_cfg;
  std::string m_where;
};

}  // namespace hedge::net
