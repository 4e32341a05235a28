// net/tls_context: the console's TLS server configuration over mbedTLS 2.28:
// key and certificate (the school's own from [http] tls_cert/tls_key, or a
// self-signed P-256 one made at first start for the box's names and
// addresses and kept beside the store), TLS 1.2 only (2.28 has no
// production TLS 1.3) with AEAD ECDHE suites only, and the DRBG.
// Created and used on the console thread only (mbedTLS contexts are not
// shared between threads); one TlsContext serves every connection.
#pragma once

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <memory>
#include <string>
#include <vector>

namespace hedge::net {

struct TlsSettings {
  std::string cert_path, key_path;     // both set: the school's own (PEM); else generated:
  std::string generate_dir;            // where console-tls.crt / console-tls.key are kept
  std::vector<std::string> dns_names;  // subjectAltName dNSName entries
  std::vector<std::string> addresses;  // subjectAltName iPAddress entries (v4/v6 text)
};

class TlsContext {
 public:
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Loads or generates the key and certificate. generated is set when a new
  // pair was written (so the caller prints the fingerprint prominently).
  static std::unique_ptr<TlsContext> create(const TlsSettings& s, bool& generated, std::string& err);

  // SHA-256 of the certificate (DER) as AB:CD:... for the technician to check.
  const std::string& fingerprint() const noexcept { return m_fingerprint; }
  const std::string& cert_path() const noexcept { return m_cert_path; }
  mbedtls_ssl_config* config() noexcept { return &m_conf; }

 private:
  TlsContext();
  mbedtls_entropy_context m_entropy{};
  mbedtls_ctr_drbg_context m_drbg{};
  mbedtls_x509_crt m_crt{};
  mbedtls_pk_context m_key{};
  mbedtls_ssl_config m_conf{};
  std::string m_fingerprint, m_cert_path;
};

// Writes a new P-256 key and a self-signed certificate (10 years) with the
// given subjectAltNames as PEM files (key mode 0600). Exposed for tests.
bool generate_self_signed(const std::string& cert_path, const std::string& key_path,
                          const std::vector<std::string>& dns_names,
                          const std::vector<std::string>& addresses, std::string& err);

}  // namespace hedge::net
