#include "services/platform/aead.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

#include "services/platform/evp.h"
#include "services/platform/token.h"

namespace bizrelay {
namespace {

constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

void CheckKey(std::string_view key) {
  if (key.size() != 32) throw std::invalid_argument("AES-256-GCM needs a 32-byte key");
}

}  // namespace

std::string Aes256GcmSeal(std::string_view key, std::string_view plaintext,
                          std::string_view associated_data) {
  CheckKey(key);
  std::string out = PublicRandomBytes(kNonce);
  out.resize(kNonce + plaintext.size() + kTag);
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), Aes256GcmCipher(), nullptr, U(key), dst) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), dst + kNonce, &len, U(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), dst + kNonce + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, dst + kNonce + plaintext.size()) !=
          1) {
    throw std::runtime_error("AES-256-GCM seal failed");
  }
  return out;
}

std::optional<std::string> Aes256GcmOpen(std::string_view key, std::string_view sealed,
                                         std::string_view associated_data) {
  CheckKey(key);
  if (sealed.size() < kNonce + kTag) return std::nullopt;
  size_t n = sealed.size() - kNonce - kTag;
  std::string out(n, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  std::string tag(sealed.substr(kNonce + n));
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), Aes256GcmCipher(), nullptr, U(key), U(sealed)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), dst, &len, U(sealed.substr(kNonce)), static_cast<int>(n)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) != 1) {
    return std::nullopt;
  }
  if (EVP_DecryptFinal_ex(ctx.get(), dst + len, &len) != 1) return std::nullopt;
  return out;
}

}  // namespace bizrelay
