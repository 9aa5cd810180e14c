#include "services/platform/evp.h"

#include <stdexcept>
#include <string>

namespace bizrelay {
namespace {

// Never freed: the objects are in use until exit, and freeing them from a static destructor
// could run after OpenSSL's own clean-up.
template <typename T>
const T* Require(T* fetched, const char* name) {
  if (fetched == nullptr) throw std::runtime_error(std::string("OpenSSL has no ") + name);
  return fetched;
}

}  // namespace

const EVP_CIPHER* Aes256GcmCipher() {
  static const EVP_CIPHER* const cipher =
      Require(EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr), "AES-256-GCM");
  return cipher;
}

const EVP_MD* Sha256Digest() {
  static const EVP_MD* const md = Require(EVP_MD_fetch(nullptr, "SHA2-256", nullptr), "SHA2-256");
  return md;
}

const EVP_MD* Sha384Digest() {
  static const EVP_MD* const md = Require(EVP_MD_fetch(nullptr, "SHA2-384", nullptr), "SHA2-384");
  return md;
}

}  // namespace bizrelay
