#pragma once

// RAII holders and error helpers for the OpenSSL objects this library uses. Internal to
// services/crypto: nothing outside this folder should include it.

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>
#include <string>
#include <string_view>

namespace bizrelay::crypto::internal {

// Frees an OpenSSL object with its own free function.
template <auto kFree>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    kFree(p);
  }
};

using BnPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
// For BIGNUMs that hold secrets (blinding factors, private exponents): zeroed when freed.
using SecretBnPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_clear_free>>;
using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free>>;
using BnCtxPtr = std::unique_ptr<BN_CTX, OpenSslDeleter<BN_CTX_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX_free>>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, OpenSslDeleter<EVP_CIPHER_CTX_free>>;
using KdfPtr = std::unique_ptr<EVP_KDF, OpenSslDeleter<EVP_KDF_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, OpenSslDeleter<EVP_KDF_CTX_free>>;

// Throws std::runtime_error naming `what` and the first queued OpenSSL error, and empties this
// thread's OpenSSL error queue. For failures that are not the caller's fault.
[[noreturn]] void ThrowOpenSslError(std::string_view what);

// Empties this thread's OpenSSL error queue after an expected failure (bad input, a signature
// that does not verify), so stale entries cannot surface in unrelated OpenSSL calls later.
void ClearOpenSslErrors();

// A fresh BN_CTX; throws std::runtime_error if allocation fails.
BnCtxPtr NewBnCtx();

// Big-endian unsigned bytes to a BIGNUM; throws std::runtime_error if allocation fails.
BnPtr BytesToBn(std::string_view bytes);

// The same, for a secret value: the BIGNUM is zeroed when freed.
SecretBnPtr SecretBytesToBn(std::string_view bytes);

// `bn` as exactly `len` big-endian bytes; throws std::runtime_error if it does not fit.
std::string BnToBytes(const BIGNUM* bn, size_t len);

inline const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
inline unsigned char* MutableBytes(std::string& s) {
  return reinterpret_cast<unsigned char*>(s.data());
}

}  // namespace bizrelay::crypto::internal
