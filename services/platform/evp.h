#pragma once

#include <openssl/evp.h>

namespace bizrelay {

// OpenSSL 3 implementations of the algorithms on the hot paths, fetched from the default
// library context once per process and kept until exit. Handing OpenSSL the legacy
// EVP_aes_256_gcm() or EVP_sha256() objects instead makes it look the implementation up by
// name again on every init, under a lock: most of what sealing a 100-byte body cost. Each
// throws std::runtime_error if the algorithm is unavailable. Thread-safe.
const EVP_CIPHER* Aes256GcmCipher();
const EVP_MD* Sha256Digest();
const EVP_MD* Sha384Digest();

}  // namespace bizrelay
