// blocklists/signing: mbedTLS 2.28 keygen, sign and verify (see header).
#include "blocklists/signing.hpp"

#include <fcntl.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace hedge::lists::signing {

namespace {

std::string mbed_error(int rc) {
  char buf[160];
  mbedtls_strerror(rc, buf, sizeof buf);
  return std::string(buf) + " (-0x" + [&] {
    char h[16];
    std::snprintf(h, sizeof h, "%04x", static_cast<unsigned>(-rc));
    return std::string(h);
  }() + ")";
}

// RAII owners: each context is freed exactly once, whatever path returns.
struct Pk {
  mbedtls_pk_context ctx;
  Pk() { mbedtls_pk_init(&ctx); }
  ~Pk() { mbedtls_pk_free(&ctx); }
  Pk(const Pk&) = delete;
  Pk& operator=(const Pk&) = delete;
};

struct Rng {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  Rng() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
  }
  ~Rng() {
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  Rng(const Rng&) = delete;
  Rng& operator=(const Rng&) = delete;
  bool seed(std::string& err) {
    static const char pers[] = "hedge-signing";
    const int rc = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                         reinterpret_cast<const unsigned char*>(pers), sizeof pers - 1);
    if (rc != 0) err = "random generator: " + mbed_error(rc);
    return rc == 0;
  }
};

bool is_p256(const mbedtls_pk_context& pk) {
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY && mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECDSA)
    return false;
  return mbedtls_pk_ec(pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

bool write_file(const std::string& path, const unsigned char* data, std::size_t len, mode_t mode,
                std::string& err) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    err = path + ": " + std::strerror(errno) + (errno == EEXIST ? " (refusing to overwrite a key)" : "");
    return false;
  }
  std::size_t done = 0;
  while (done < len) {
    const ssize_t n = ::write(fd, data + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = path + ": write: " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) err = path + ": fsync: " + std::strerror(errno);
  return ok;
}

}  // namespace

bool generate_key_pair(const std::string& prefix, std::string& err) {
  Rng rng;
  if (!rng.seed(err)) return false;
  Pk pk;
  int rc = mbedtls_pk_setup(&pk.ctx, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (rc == 0)
    rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk.ctx), mbedtls_ctr_drbg_random,
                             &rng.drbg);
  if (rc != 0) {
    err = "key generation: " + mbed_error(rc);
    return false;
  }
  std::vector<unsigned char> priv(4096, 0), pub(4096, 0);
  rc = mbedtls_pk_write_key_pem(&pk.ctx, priv.data(), priv.size());
  if (rc == 0) rc = mbedtls_pk_write_pubkey_pem(&pk.ctx, pub.data(), pub.size());
  if (rc != 0) {
    err = "key encoding: " + mbed_error(rc);
    return false;
  }
  const std::string pub_path = prefix + ".pub", key_path = prefix + ".key";
  struct stat st {};
  if (::stat(pub_path.c_str(), &st) == 0) {
    err = pub_path + ": exists (refusing to overwrite a key)";
    return false;
  }
  if (!write_file(key_path, priv.data(), std::strlen(reinterpret_cast<char*>(priv.data())), 0600, err))
    return false;
  mbedtls_platform_zeroize(priv.data(), priv.size());
  return write_file(pub_path, pub.data(), std::strlen(reinterpret_cast<char*>(pub.data())), 0644, err);
}

bool check_private_key(const std::string& key_path, std::string& err) {
  Pk pk;
  const int rc = mbedtls_pk_parse_keyfile(&pk.ctx, key_path.c_str(), nullptr);
  if (rc != 0) {
    err = key_path + ": not a private key: " + mbed_error(rc);
    return false;
  }
  if (!is_p256(pk.ctx)) {
    err = key_path + ": not an ECDSA P-256 key";
    return false;
  }
  return true;
}

std::optional<std::vector<uint8_t>> sign_digest(const std::string& key_path, const util::Sha256& digest,
                                                std::string& err) {
  Pk pk;
  int rc = mbedtls_pk_parse_keyfile(&pk.ctx, key_path.c_str(), nullptr);
  if (rc != 0) {
    err = key_path + ": not a private key: " + mbed_error(rc);
    return std::nullopt;
  }
  if (!is_p256(pk.ctx)) {
    err = key_path + ": not an ECDSA P-256 key";
    return std::nullopt;
  }
  Rng rng;
  if (!rng.seed(err)) return std::nullopt;
  std::vector<uint8_t> sig(MBEDTLS_ECDSA_MAX_LEN);
  std::size_t len = 0;
  rc = mbedtls_pk_sign(&pk.ctx, MBEDTLS_MD_SHA256, digest.data(), digest.size(), sig.data(), &len,
                       mbedtls_ctr_drbg_random, &rng.drbg);
  if (rc != 0) {
    err = "signing: " + mbed_error(rc);
    return std::nullopt;
  }
  sig.resize(len);
  return sig;
}

bool verify_digest(const std::string& pub_path, const util::Sha256& digest, const std::vector<uint8_t>& sig,
                   std::string& err) {
  Pk pk;
  int rc = mbedtls_pk_parse_public_keyfile(&pk.ctx, pub_path.c_str());
  if (rc != 0) {
    Pk priv;
    if (mbedtls_pk_parse_keyfile(&priv.ctx, pub_path.c_str(), nullptr) != 0) {
      err = pub_path + ": not a public key: " + mbed_error(rc);
      return false;
    }
    // Re-encode the public half so verification never touches the secret.
    std::vector<unsigned char> der(512);
    const int n = mbedtls_pk_write_pubkey_der(&priv.ctx, der.data(), der.size());
    if (n <= 0 ||
        mbedtls_pk_parse_public_key(&pk.ctx, der.data() + der.size() - n, static_cast<size_t>(n)) != 0) {
      err = pub_path + ": cannot use key";
      return false;
    }
  }
  if (!is_p256(pk.ctx)) {
    err = pub_path + ": not an ECDSA P-256 key";
    return false;
  }
  rc = mbedtls_pk_verify(&pk.ctx, MBEDTLS_MD_SHA256, digest.data(), digest.size(), sig.data(), sig.size());
  if (rc != 0) {
    err = "manifest.sig: signature does not match manifest.json with this key (" + mbed_error(rc) + ")";
    return false;
  }
  return true;
}

}  // namespace hedge::lists::signing
