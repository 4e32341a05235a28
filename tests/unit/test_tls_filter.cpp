// Unit: the console's TLS filter. A real mbedTLS client talks to TlsFilter
// through memory: generated certificate (SANs verified), TLS 1.2 AEAD only,
// weak suites and old versions refused, plain HTTP detected.
#include <doctest/doctest.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <cstring>
#include <string>

#include "bundle_fixture.hpp"
#include "net/tls_filter.hpp"

using namespace hedge;

namespace {

struct Client {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  mbedtls_ssl_config conf;
  mbedtls_ssl_context ssl;
  std::string to_server, from_server;
  int suites[2] = {0, 0};
  Client(const std::string& ca_path, const char* host, int only_suite = 0, int max_minor = 3) {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    REQUIRE(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0) == 0);
    REQUIRE(mbedtls_x509_crt_parse_file(&ca, ca_path.c_str()) == 0);
    REQUIRE(mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT) == 0);
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&conf, &ca, nullptr);
    mbedtls_ssl_conf_min_version(&conf, 3, 1);
    mbedtls_ssl_conf_max_version(&conf, 3, max_minor);
    if (only_suite) {
      suites[0] = only_suite;
      mbedtls_ssl_conf_ciphersuites(&conf, suites);
    }
    REQUIRE(mbedtls_ssl_setup(&ssl, &conf) == 0);
    mbedtls_ssl_set_hostname(&ssl, host);
    mbedtls_ssl_set_bio(&ssl, this, &Client::send, &Client::recv, nullptr);
  }
  ~Client() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  static int send(void* p, const unsigned char* b, size_t n) {
    static_cast<Client*>(p)->to_server.append(reinterpret_cast<const char*>(b), n);
    return static_cast<int>(n);
  }
  static int recv(void* p, unsigned char* b, size_t n) {
    auto* c = static_cast<Client*>(p);
    if (c->from_server.empty()) return MBEDTLS_ERR_SSL_WANT_READ;
    const size_t k = std::min(n, c->from_server.size());
    std::memcpy(b, c->from_server.data(), k);
    c->from_server.erase(0, k);
    return static_cast<int>(k);
  }
};

// Runs the handshake to completion or failure; returns the client's last rc.
int handshake(Client& c, net::TlsFilter& f, std::string& plain) {
  int rc = 0;
  for (int i = 0; i < 50; ++i) {
    rc = mbedtls_ssl_handshake(&c.ssl);
    if (!c.to_server.empty()) {
      const std::string in = std::move(c.to_server);
      c.to_server.clear();
      const auto st = f.feed({reinterpret_cast<const uint8_t*>(in.data()), in.size()}, plain);
      c.from_server += f.take_output();
      if (st != net::TlsFilter::Status::ok) {
        rc = mbedtls_ssl_handshake(&c.ssl);  // let the client read the alert
        return rc == 0 ? -1 : rc;
      }
    }
    if (rc == 0 && f.handshake_done()) return 0;
    if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE && rc != 0) return rc;
  }
  return rc;
}

}  // namespace

TEST_CASE("tls: generated certificate, handshake, data both ways") {
  test::TempDir tmp;
  net::TlsSettings s;
  s.generate_dir = tmp.path;
  s.dns_names = {"hedge.test", "hedge"};
  s.addresses = {"192.0.2.10", "2001:db8::10"};
  bool generated = false;
  std::string err;
  auto ctx = net::TlsContext::create(s, generated, err);
  REQUIRE_MESSAGE(ctx, err);
  CHECK(generated);
  CHECK(ctx->fingerprint().size() == 95);  // 32 bytes as AB:CD:...
  // A second start reuses the same key and certificate.
  bool again = true;
  auto ctx2 = net::TlsContext::create(s, again, err);
  REQUIRE(ctx2);
  CHECK_FALSE(again);
  CHECK(ctx2->fingerprint() == ctx->fingerprint());

  Client c(ctx->cert_path(), "hedge.test");
  net::TlsFilter f(*ctx);
  std::string plain;
  REQUIRE(handshake(c, f, plain) == 0);
  CHECK(std::string(mbedtls_ssl_get_version(&c.ssl)) == "TLSv1.2");
  CHECK(std::string(mbedtls_ssl_get_ciphersuite(&c.ssl)).find("GCM") != std::string::npos);
  const char req[] = "GET / HTTP/1.1\r\nHost: hedge.test\r\n\r\n";
  REQUIRE(mbedtls_ssl_write(&c.ssl, reinterpret_cast<const unsigned char*>(req), sizeof req - 1) > 0);
  const std::string in = std::move(c.to_server);
  c.to_server.clear();
  REQUIRE(f.feed({reinterpret_cast<const uint8_t*>(in.data()), in.size()}, plain) ==
          net::TlsFilter::Status::ok);
  CHECK(plain == req);
  REQUIRE(f.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  c.from_server += f.take_output();
  unsigned char buf[256];
  const int n = mbedtls_ssl_read(&c.ssl, buf, sizeof buf);
  REQUIRE(n > 0);
  CHECK(std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(n)).ends_with("ok"));
}

TEST_CASE("tls: the certificate names the box's addresses; others fail verification") {
  test::TempDir tmp;
  net::TlsSettings s;
  s.generate_dir = tmp.path;
  s.dns_names = {"hedge.test"};
  bool generated = false;
  std::string err;
  auto ctx = net::TlsContext::create(s, generated, err);
  REQUIRE(ctx);
  Client c(ctx->cert_path(), "other.example");
  net::TlsFilter f(*ctx);
  std::string plain;
  CHECK(handshake(c, f, plain) != 0);
  CHECK((mbedtls_ssl_get_verify_result(&c.ssl) & MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0);
}

TEST_CASE("tls: weak suites and TLS 1.1 are refused") {
  test::TempDir tmp;
  net::TlsSettings s;
  s.generate_dir = tmp.path;
  s.dns_names = {"hedge.test"};
  bool generated = false;
  std::string err;
  auto ctx = net::TlsContext::create(s, generated, err);
  REQUIRE(ctx);
  {
    Client c(ctx->cert_path(), "hedge.test", MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA);
    net::TlsFilter f(*ctx);
    std::string plain;
    CHECK(handshake(c, f, plain) != 0);
    CHECK_FALSE(f.handshake_done());
  }
  {
    Client c(ctx->cert_path(), "hedge.test", 0, 2);  // at most TLS 1.1
    net::TlsFilter f(*ctx);
    std::string plain;
    CHECK(handshake(c, f, plain) != 0);
    CHECK_FALSE(f.handshake_done());
  }
}

TEST_CASE("tls: plain HTTP on the TLS port is recognised") {
  test::TempDir tmp;
  net::TlsSettings s;
  s.generate_dir = tmp.path;
  bool generated = false;
  std::string err;
  auto ctx = net::TlsContext::create(s, generated, err);
  REQUIRE(ctx);
  net::TlsFilter f(*ctx);
  std::string plain;
  const std::string get = "GET / HTTP/1.1\r\n\r\n";
  CHECK(f.feed({reinterpret_cast<const uint8_t*>(get.data()), get.size()}, plain) ==
        net::TlsFilter::Status::plain_http);
  CHECK(plain.empty());
}

TEST_CASE("tls: the school's own certificate and key; mismatched settings") {
  test::TempDir tmp;
  std::string err;
  REQUIRE(net::generate_self_signed(tmp.path + "/own.crt", tmp.path + "/own.key", {"filter.school.example"},
                                    {}, err));
  net::TlsSettings s;
  s.cert_path = tmp.path + "/own.crt";
  s.key_path = tmp.path + "/own.key";
  bool generated = true;
  auto ctx = net::TlsContext::create(s, generated, err);
  REQUIRE_MESSAGE(ctx, err);
  CHECK_FALSE(generated);
  s.key_path.clear();
  CHECK_FALSE(net::TlsContext::create(s, generated, err));
  CHECK(err.find("together") != std::string::npos);
  s.key_path = tmp.path + "/missing.key";
  CHECK_FALSE(net::TlsContext::create(s, generated, err));
  CHECK(err.find("missing.key") != std::string::npos);
}
