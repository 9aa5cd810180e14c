#include "services/crypto/sealed_box.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <array>
#include <climits>
#include <stdexcept>
#include <utility>

#include "services/crypto/openssl_util.h"
#include "services/platform/error.h"
#include "services/platform/evp.h"

namespace bizrelay::crypto {
namespace {

using internal::Bytes;
using internal::CipherCtxPtr;
using internal::ClearOpenSslErrors;
using internal::KdfCtxPtr;
using internal::KdfPtr;
using internal::MdCtxPtr;
using internal::MutableBytes;
using internal::PkeyCtxPtr;
using internal::PkeyPtr;
using internal::ThrowOpenSslError;

constexpr std::string_view kKdfLabel = "bizrelay/sealed-box/v1";
constexpr std::string_view kSignatureLabel = "bizrelay/sealed-box/v1/sender";
constexpr size_t kHkdfSha256MaxOutput = 255 * 32;
constexpr size_t kHkdfMaxInfo = 1024;

Error InvalidKey(std::string message) {
  return Error(ErrorCode::kInvalidArgument, "INVALID_KEY", std::move(message));
}

Error SealedBoxInvalid() {
  return Error(ErrorCode::kInvalidArgument, "SEALED_BOX_INVALID", "envelope cannot be opened");
}

// Zeroes a secret string when it goes out of scope.
class Wiper {
 public:
  explicit Wiper(std::string& s) : s_(s) {}
  ~Wiper() { OPENSSL_cleanse(s_.data(), s_.size()); }
  Wiper(const Wiper&) = delete;
  Wiper& operator=(const Wiper&) = delete;

 private:
  std::string& s_;
};

PkeyPtr RawPrivateKey(int type, std::string_view key, size_t expected) {
  if (key.size() != expected) throw InvalidKey("private key must be 32 bytes");
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(type, nullptr, Bytes(key), key.size()));
  if (!pkey) ThrowOpenSslError("EVP_PKEY_new_raw_private_key");
  return pkey;
}

PkeyPtr RawPublicKey(int type, std::string_view key, size_t expected) {
  if (key.size() != expected) throw InvalidKey("public key must be 32 bytes");
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(type, nullptr, Bytes(key), key.size()));
  if (!pkey) {
    ClearOpenSslErrors();
    throw InvalidKey("public key does not parse");
  }
  return pkey;
}

std::string RawPublicOf(EVP_PKEY* pkey, size_t len) {
  std::string out(len, '\0');
  size_t out_len = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey, MutableBytes(out), &out_len) != 1 || out_len != len) {
    ThrowOpenSslError("EVP_PKEY_get_raw_public_key");
  }
  return out;
}

KeyPair GenerateRawKeyPair(const char* type, size_t len) {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, type));
  if (!pkey) ThrowOpenSslError("EVP_PKEY_Q_keygen");
  KeyPair pair{.private_key = std::string(len, '\0'), .public_key = RawPublicOf(pkey.get(), len)};
  size_t out_len = len;
  if (EVP_PKEY_get_raw_private_key(pkey.get(), MutableBytes(pair.private_key), &out_len) != 1 ||
      out_len != len) {
    ThrowOpenSslError("EVP_PKEY_get_raw_private_key");
  }
  return pair;
}

// True if all bytes of `s` are zero, in time independent of the contents.
bool AllZero(std::string_view s) {
  unsigned char acc = 0;
  for (char c : s) acc |= static_cast<unsigned char>(c);
  return acc == 0;
}

// The message the sender signs; see the header for the layout.
std::string SignedPart(std::string_view recipient_public, std::string_view ephemeral_public,
                       std::string_view plaintext) {
  std::string out;
  out.reserve(kSignatureLabel.size() + 2 * kX25519KeyBytes + plaintext.size());
  out.append(kSignatureLabel).append(recipient_public).append(ephemeral_public).append(plaintext);
  return out;
}

// key (32) || nonce (12) for one envelope.
std::string EnvelopeKeys(std::string_view shared, std::string_view ephemeral_public,
                         std::string_view recipient_public) {
  std::string info;
  info.append(kKdfLabel).append(ephemeral_public).append(recipient_public);
  return HkdfSha256(shared, "", info, kAes256GcmKeyBytes + kAes256GcmNonceBytes);
}

}  // namespace

KeyPair GenerateX25519KeyPair() { return GenerateRawKeyPair("X25519", kX25519KeyBytes); }

KeyPair GenerateEd25519KeyPair() { return GenerateRawKeyPair("ED25519", kEd25519KeyBytes); }

std::string X25519PublicKey(std::string_view private_key) {
  PkeyPtr pkey = RawPrivateKey(EVP_PKEY_X25519, private_key, kX25519KeyBytes);
  return RawPublicOf(pkey.get(), kX25519KeyBytes);
}

std::string Ed25519PublicKey(std::string_view private_key) {
  PkeyPtr pkey = RawPrivateKey(EVP_PKEY_ED25519, private_key, kEd25519KeyBytes);
  return RawPublicOf(pkey.get(), kEd25519KeyBytes);
}

std::string X25519Agree(std::string_view private_key, std::string_view peer_public_key) {
  PkeyPtr priv = RawPrivateKey(EVP_PKEY_X25519, private_key, kX25519KeyBytes);
  PkeyPtr peer = RawPublicKey(EVP_PKEY_X25519, peer_public_key, kX25519KeyBytes);
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(priv.get(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1) {
    ThrowOpenSslError("X25519 setup");
  }
  std::string shared(kX25519KeyBytes, '\0');
  size_t len = shared.size();
  // OpenSSL itself fails the derivation when the result is all zero (a small-order peer key).
  if (EVP_PKEY_derive(ctx.get(), MutableBytes(shared), &len) != 1 || len != kX25519KeyBytes ||
      AllZero(shared)) {
    ClearOpenSslErrors();
    OPENSSL_cleanse(shared.data(), shared.size());
    throw InvalidKey("X25519 peer key is of small order");
  }
  return shared;
}

std::string Ed25519Sign(std::string_view private_key, std::string_view message) {
  PkeyPtr pkey = RawPrivateKey(EVP_PKEY_ED25519, private_key, kEd25519KeyBytes);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string sig(kEd25519SignatureBytes, '\0');
  size_t len = sig.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), MutableBytes(sig), &len, Bytes(message), message.size()) != 1 ||
      len != kEd25519SignatureBytes) {
    ThrowOpenSslError("Ed25519 sign");
  }
  return sig;
}

bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature) {
  if (public_key.size() != kEd25519KeyBytes || signature.size() != kEd25519SignatureBytes) {
    return false;
  }
  PkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(public_key), public_key.size()));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = pkey && ctx &&
            EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
            EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(message),
                             message.size()) == 1;
  ClearOpenSslErrors();
  return ok;
}

std::string HkdfSha256(std::string_view ikm, std::string_view salt, std::string_view info,
                       size_t length) {
  if (ikm.empty() || length == 0 || length > kHkdfSha256MaxOutput || info.size() > kHkdfMaxInfo) {
    throw Error(ErrorCode::kInvalidArgument, "INVALID_HKDF_INPUT",
                "HKDF needs non-empty ikm, 1..8160 output bytes and at most 1024 info bytes");
  }
  KdfPtr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) ThrowOpenSslError("EVP_KDF_fetch(HKDF)");
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) ThrowOpenSslError("EVP_KDF_CTX_new");
  // OSSL_PARAM takes non-const pointers but only reads these buffers.
  char digest[] = "SHA256";
  std::array<OSSL_PARAM, 5> params{};
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()),
                                                  ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<char*>(salt.data()), salt.size());
  }
  if (!info.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                    const_cast<char*>(info.data()), info.size());
  }
  params[n] = OSSL_PARAM_construct_end();
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), MutableBytes(out), out.size(), params.data()) != 1) {
    ThrowOpenSslError("EVP_KDF_derive(HKDF)");
  }
  return out;
}

std::string Aes256GcmSeal(std::string_view key, std::string_view nonce, std::string_view aad,
                          std::string_view plaintext) {
  if (key.size() != kAes256GcmKeyBytes || nonce.size() != kAes256GcmNonceBytes) {
    throw InvalidKey("AES-256-GCM needs a 32-byte key and a 12-byte nonce");
  }
  if (plaintext.size() > INT_MAX / 2 || aad.size() > INT_MAX / 2) {
    throw Error(ErrorCode::kInvalidArgument, "MESSAGE_TOO_LARGE", "AES-GCM input too large");
  }
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), Aes256GcmCipher(), nullptr, Bytes(key), Bytes(nonce)) != 1) {
    ThrowOpenSslError("AES-256-GCM init");
  }
  int len = 0;
  if (!aad.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1) {
    ThrowOpenSslError("AES-256-GCM aad");
  }
  std::string out(plaintext.size() + kAes256GcmTagBytes, '\0');
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), MutableBytes(out), &len, Bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1) {
      ThrowOpenSslError("AES-256-GCM encrypt");
    }
    written = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), MutableBytes(out) + written, &len) != 1) {
    ThrowOpenSslError("AES-256-GCM final");
  }
  written += len;
  if (static_cast<size_t>(written) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAes256GcmTagBytes),
                          MutableBytes(out) + written) != 1) {
    ThrowOpenSslError("AES-256-GCM tag");
  }
  return out;
}

std::optional<std::string> Aes256GcmOpen(std::string_view key, std::string_view nonce,
                                         std::string_view aad, std::string_view sealed) {
  if (key.size() != kAes256GcmKeyBytes || nonce.size() != kAes256GcmNonceBytes) {
    throw InvalidKey("AES-256-GCM needs a 32-byte key and a 12-byte nonce");
  }
  if (sealed.size() < kAes256GcmTagBytes || sealed.size() > INT_MAX / 2 ||
      aad.size() > INT_MAX / 2) {
    return std::nullopt;
  }
  std::string_view ciphertext = sealed.substr(0, sealed.size() - kAes256GcmTagBytes);
  std::string tag(sealed.substr(ciphertext.size()));
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), Aes256GcmCipher(), nullptr, Bytes(key), Bytes(nonce)) != 1) {
    ThrowOpenSslError("AES-256-GCM init");
  }
  int len = 0;
  if (!aad.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(aad), static_cast<int>(aad.size())) != 1) {
    ThrowOpenSslError("AES-256-GCM aad");
  }
  std::string out(ciphertext.size(), '\0');
  int written = 0;
  if (!ciphertext.empty()) {
    if (EVP_DecryptUpdate(ctx.get(), MutableBytes(out), &len, Bytes(ciphertext),
                          static_cast<int>(ciphertext.size())) != 1) {
      ThrowOpenSslError("AES-256-GCM decrypt");
    }
    written = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag.size()),
                          MutableBytes(tag)) != 1) {
    ThrowOpenSslError("AES-256-GCM set tag");
  }
  // The buffer was decrypted before the tag was checked: wipe it unless the tag holds.
  if (EVP_DecryptFinal_ex(ctx.get(), MutableBytes(out) + written, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    ClearOpenSslErrors();
    return std::nullopt;
  }
  return out;
}

std::string Seal(std::string_view recipient_public_key, std::string_view sender_identity_private,
                 std::string_view plaintext) {
  if (recipient_public_key.size() != kX25519KeyBytes) {
    throw InvalidKey("recipient key must be 32 bytes");
  }
  if (plaintext.size() > kSealedBoxMaxPlaintextBytes) {
    throw Error(ErrorCode::kInvalidArgument, "MESSAGE_TOO_LARGE", "plaintext too large to seal");
  }
  std::string sender_public = Ed25519PublicKey(sender_identity_private);

  KeyPair ephemeral = GenerateX25519KeyPair();
  Wiper wipe_ephemeral(ephemeral.private_key);
  std::string shared = X25519Agree(ephemeral.private_key, recipient_public_key);
  Wiper wipe_shared(shared);
  std::string keys = EnvelopeKeys(shared, ephemeral.public_key, recipient_public_key);
  Wiper wipe_keys(keys);

  std::string inner;
  inner.reserve(kEd25519KeyBytes + kEd25519SignatureBytes + plaintext.size());
  Wiper wipe_inner(inner);
  std::string signed_part = SignedPart(recipient_public_key, ephemeral.public_key, plaintext);
  Wiper wipe_signed_part(signed_part);
  inner.append(sender_public)
      .append(Ed25519Sign(sender_identity_private, signed_part))
      .append(plaintext);

  std::string envelope(1, static_cast<char>(kSealedBoxVersion));
  envelope.append(ephemeral.public_key);
  std::string_view key = std::string_view(keys).substr(0, kAes256GcmKeyBytes);
  std::string_view nonce = std::string_view(keys).substr(kAes256GcmKeyBytes);
  envelope.append(Aes256GcmSeal(key, nonce, envelope, inner));
  return envelope;
}

OpenedMessage Open(std::string_view recipient_private_key, std::string_view envelope) {
  std::string recipient_public = X25519PublicKey(recipient_private_key);
  if (envelope.size() < kSealedBoxOverheadBytes ||
      static_cast<uint8_t>(envelope[0]) != kSealedBoxVersion) {
    throw SealedBoxInvalid();
  }
  std::string_view header = envelope.substr(0, kSealedBoxHeaderBytes);
  std::string_view ephemeral_public = header.substr(1);

  std::string shared;
  try {
    shared = X25519Agree(recipient_private_key, ephemeral_public);
  } catch (const Error&) {
    throw SealedBoxInvalid();
  }
  Wiper wipe_shared(shared);
  std::string keys = EnvelopeKeys(shared, ephemeral_public, recipient_public);
  Wiper wipe_keys(keys);
  std::string_view key = std::string_view(keys).substr(0, kAes256GcmKeyBytes);
  std::string_view nonce = std::string_view(keys).substr(kAes256GcmKeyBytes);

  std::optional<std::string> inner =
      Aes256GcmOpen(key, nonce, header, envelope.substr(kSealedBoxHeaderBytes));
  if (!inner.has_value()) throw SealedBoxInvalid();
  Wiper wipe_inner(*inner);

  std::string_view view(*inner);
  std::string_view sender_public = view.substr(0, kEd25519KeyBytes);
  std::string_view signature = view.substr(kEd25519KeyBytes, kEd25519SignatureBytes);
  std::string_view plaintext = view.substr(kEd25519KeyBytes + kEd25519SignatureBytes);
  std::string signed_part = SignedPart(recipient_public, ephemeral_public, plaintext);
  Wiper wipe_signed_part(signed_part);
  if (!Ed25519Verify(sender_public, signed_part, signature)) {
    throw SealedBoxInvalid();
  }
  return OpenedMessage{.sender_identity_key = std::string(sender_public),
                       .plaintext = std::string(plaintext)};
}

}  // namespace bizrelay::crypto
