// net/tls_context: key/certificate loading or generation, TLS config.
#include "net/tls_context.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace hedge::net {

namespace {

std::string tls_error(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  return buf;
}

// AEAD with forward secrecy only (ECDSA keys from generation, RSA for a
// school's own certificate). Zero-terminated, static: mbedTLS keeps the pointer.
const int kSuites[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                       MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                       MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                       MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                       0};

bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

bool write_file(const std::string& path, const unsigned char* data, std::size_t n, mode_t mode,
                std::string& err) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    err = tmp + ": " + std::strerror(errno);
    return false;
  }
  std::size_t off = 0;
  while (off < n) {
    const ssize_t w = ::write(fd, data + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      err = tmp + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    off += static_cast<std::size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

// DER length octets.
void der_len(std::string& out, std::size_t n) {
  if (n < 128) {
    out += static_cast<char>(n);
  } else if (n < 256) {
    out += static_cast<char>(0x81);
    out += static_cast<char>(n);
  } else {
    out += static_cast<char>(0x82);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xff);
  }
}

// GeneralNames ::= SEQUENCE OF GeneralName; dNSName [2] IA5String, iPAddress [7] OCTET STRING.
std::string subject_alt_names(const std::vector<std::string>& dns, const std::vector<std::string>& addrs) {
  std::string body;
  for (const auto& d : dns) {
    body += static_cast<char>(0x82);
    der_len(body, d.size());
    body += d;
  }
  for (const auto& a : addrs) {
    unsigned char buf[16];
    std::size_t n = 0;
    if (inet_pton(AF_INET, a.c_str(), buf) == 1)
      n = 4;
    else if (inet_pton(AF_INET6, a.c_str(), buf) == 1)
      n = 16;
    if (n == 0) continue;
    body += static_cast<char>(0x87);
    der_len(body, n);
    body.append(reinterpret_cast<const char*>(buf), n);
  }
  std::string seq;
  seq += static_cast<char>(0x30);
  der_len(seq, body.size());
  return seq + body;
}

struct Drbg {
  mbedtls_entropy_context entropy{};
  mbedtls_ctr_drbg_context drbg{};
  Drbg() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
  }
  ~Drbg() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  Drbg(const Drbg&) = delete;
  Drbg& operator=(const Drbg&) = delete;
  int seed(const char* pers) {
    return mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                 reinterpret_cast<const unsigned char*>(pers), std::strlen(pers));
  }
};

}  // namespace

bool generate_self_signed(const std::string& cert_path, const std::string& key_path,
                          const std::vector<std::string>& dns_names,
                          const std::vector<std::string>& addresses, std::string& err) {
  Drbg rng;
  mbedtls_pk_context key;
  mbedtls_pk_init(&key);
  mbedtls_x509write_cert crt;
  mbedtls_x509write_crt_init(&crt);
  mbedtls_mpi serial;
  mbedtls_mpi_init(&serial);
  bool ok = false;
  int rc = 0;
  do {
    if ((rc = rng.seed("hedge-console-cert")) != 0) break;
    if ((rc = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0) break;
    if ((rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), mbedtls_ctr_drbg_random,
                                  &rng.drbg)) != 0)
      break;
    unsigned char sb[16];
    if ((rc = mbedtls_ctr_drbg_random(&rng.drbg, sb, sizeof sb)) != 0) break;
    sb[0] &= 0x7f;  // positive serial
    if ((rc = mbedtls_mpi_read_binary(&serial, sb, sizeof sb)) != 0) break;
    const std::string cn = "CN=" + (dns_names.empty() ? std::string("hedge") : dns_names.front()) +
                           ",O=Hedge filtering appliance";
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, &key);
    mbedtls_x509write_crt_set_issuer_key(&crt, &key);
    if ((rc = mbedtls_x509write_crt_set_serial(&crt, &serial)) != 0) break;
    if ((rc = mbedtls_x509write_crt_set_subject_name(&crt, cn.c_str())) != 0) break;
    if ((rc = mbedtls_x509write_crt_set_issuer_name(&crt, cn.c_str())) != 0) break;
    // Valid from yesterday (clock skew on a box without RTC) for ten years.
    char nb[16], na[16];
    const std::time_t now = std::time(nullptr) - 86400;
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(nb, sizeof nb, "%Y%m%d%H%M%S", &tm);
    tm.tm_year += 10;
    std::strftime(na, sizeof na, "%Y%m%d%H%M%S", &tm);
    if ((rc = mbedtls_x509write_crt_set_validity(&crt, nb, na)) != 0) break;
    if ((rc = mbedtls_x509write_crt_set_basic_constraints(&crt, 0, -1)) != 0) break;
    if ((rc = mbedtls_x509write_crt_set_key_usage(&crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE)) != 0) break;
    if ((rc = mbedtls_x509write_crt_set_subject_key_identifier(&crt)) != 0) break;
    const std::string san = subject_alt_names(dns_names, addresses);
    if ((rc = mbedtls_x509write_crt_set_extension(
             &crt, MBEDTLS_OID_SUBJECT_ALT_NAME, MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
             reinterpret_cast<const unsigned char*>(san.data()), san.size())) != 0)
      break;
    // extKeyUsage = SEQUENCE { id-kp-serverAuth }
    const std::string eku = std::string("\x30\x0a\x06\x08", 4) + std::string(MBEDTLS_OID_SERVER_AUTH, 8);
    if ((rc = mbedtls_x509write_crt_set_extension(
             &crt, MBEDTLS_OID_EXTENDED_KEY_USAGE, MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0,
             reinterpret_cast<const unsigned char*>(eku.data()), eku.size())) != 0)
      break;
    std::vector<unsigned char> pem(8192);
    if ((rc = mbedtls_x509write_crt_pem(&crt, pem.data(), pem.size(), mbedtls_ctr_drbg_random, &rng.drbg)) !=
        0)
      break;
    std::vector<unsigned char> kpem(4096);
    if ((rc = mbedtls_pk_write_key_pem(&key, kpem.data(), kpem.size())) != 0) break;
    if (!write_file(key_path, kpem.data(), std::strlen(reinterpret_cast<char*>(kpem.data())), 0600, err))
      break;
    if (!write_file(cert_path, pem.data(), std::strlen(reinterpret_cast<char*>(pem.data())), 0644, err))
      break;
    ok = true;
  } while (false);
  if (!ok && err.empty()) err = "generating the console certificate: " + tls_error(rc);
  mbedtls_mpi_free(&serial);
  mbedtls_x509write_crt_free(&crt);
  mbedtls_pk_free(&key);
  return ok;
}

TlsContext::TlsContext() {
  mbedtls_entropy_init(&m_entropy);
  mbedtls_ctr_drbg_init(&m_drbg);
  mbedtls_x509_crt_init(&m_crt);
  mbedtls_pk_init(&m_key);
  mbedtls_ssl_config_init(&m_conf);
}

TlsContext::~TlsContext() {
  mbedtls_ssl_config_free(&m_conf);
  mbedtls_pk_free(&m_key);
  mbedtls_x509_crt_free(&m_crt);
  mbedtls_ctr_drbg_free(&m_drbg);
  mbedtls_entropy_free(&m_entropy);
}

std::unique_ptr<TlsContext> TlsContext::create(const TlsSettings& s, bool& generated, std::string& err) {
  generated = false;
  std::unique_ptr<TlsContext> c(new TlsContext());
  std::string cert = s.cert_path, key = s.key_path;
  if (cert.empty() != key.empty()) {
    err = "[http] tls_cert and tls_key must be set together";
    return nullptr;
  }
  if (cert.empty()) {
    const std::string dir = s.generate_dir.empty() ? "." : s.generate_dir;
    cert = dir + "/console-tls.crt";
    key = dir + "/console-tls.key";
    if (!file_exists(cert) || !file_exists(key)) {
      if (!generate_self_signed(cert, key, s.dns_names, s.addresses, err)) return nullptr;
      generated = true;
    }
  }
  int rc = 0;
  static const char kPers[] = "hedge-console-tls";
  if ((rc = mbedtls_ctr_drbg_seed(&c->m_drbg, mbedtls_entropy_func, &c->m_entropy,
                                  reinterpret_cast<const unsigned char*>(kPers), sizeof kPers - 1)) != 0) {
    err = "TLS random generator: " + tls_error(rc);
    return nullptr;
  }
  if ((rc = mbedtls_x509_crt_parse_file(&c->m_crt, cert.c_str())) != 0) {
    err = cert + ": " + tls_error(rc);
    return nullptr;
  }
  if ((rc = mbedtls_pk_parse_keyfile(&c->m_key, key.c_str(), nullptr)) != 0) {
    err = key + ": " + tls_error(rc);
    return nullptr;
  }
  if ((rc = mbedtls_ssl_config_defaults(&c->m_conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
    err = "TLS config: " + tls_error(rc);
    return nullptr;
  }
  mbedtls_ssl_conf_rng(&c->m_conf, mbedtls_ctr_drbg_random, &c->m_drbg);
  mbedtls_ssl_conf_min_version(&c->m_conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                               MBEDTLS_SSL_MINOR_VERSION_3);  // TLS 1.2
  mbedtls_ssl_conf_ciphersuites(&c->m_conf, kSuites);
  mbedtls_ssl_conf_renegotiation(&c->m_conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
  if ((rc = mbedtls_ssl_conf_own_cert(&c->m_conf, &c->m_crt, &c->m_key)) != 0) {
    err = "TLS certificate and key do not match: " + tls_error(rc);
    return nullptr;
  }
  unsigned char h[32];
  mbedtls_sha256_ret(c->m_crt.raw.p, c->m_crt.raw.len, h, 0);
  static const char* hex = "0123456789ABCDEF";
  for (int i = 0; i < 32; ++i) {
    if (i) c->m_fingerprint += ':';
    c->m_fingerprint += hex[h[i] >> 4];
    c->m_fingerprint += hex[h[i] & 15];
  }
  c->m_cert_path = cert;
  return c;
}

}  // namespace hedge::net
