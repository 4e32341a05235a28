// blocklists/signing: ECDSA P-256 keys and signatures over bundle manifests.
// The only file that calls mbedtls_pk_* / mbedtls_ecdsa_* / the DRBG, so the
// crypto policy (curve, hash, encoding) is decided in one place:
//   key pair: PEM (private: PKCS#1/SEC1 EC key, mode 0600; public: SPKI)
//   signed message: SHA-256 of manifest.json's exact bytes
//   signature: DER (ECDSA-Sig-Value), stored as manifest.sig
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/crypto.hpp"

namespace hedge::lists::signing {

// Writes PREFIX.key (0600, refuses to overwrite) and PREFIX.pub.
bool generate_key_pair(const std::string& prefix, std::string& err);

// Checks that key_path holds a usable P-256 private key (so compile fails
// before doing any work, not after).
bool check_private_key(const std::string& key_path, std::string& err);

// Signs a SHA-256 digest with the private key in key_path.
std::optional<std::vector<uint8_t>> sign_digest(const std::string& key_path, const util::Sha256& digest,
                                                std::string& err);

// Checks a DER signature over the digest with the public key in pub_path
// (a private key file is accepted too: its public half is used).
bool verify_digest(const std::string& pub_path, const util::Sha256& digest, const std::vector<uint8_t>& sig,
                   std::string& err);

}  // namespace hedge::lists::signing
