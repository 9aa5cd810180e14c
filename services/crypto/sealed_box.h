#pragma once

// Client-side sealed messages for the personal path (P6). A sender seals a message to a
// recipient's X25519 key; the envelope the relay stores and forwards reveals neither the
// content nor the sender, whose Ed25519 identity and signature travel inside the ciphertext.
//
// Envelope, version 1:
//   header     = 0x01 || ephemeral X25519 public key (32)
//   ciphertext = AES-256-GCM(key, nonce, aad = header,
//                            sender Ed25519 public key (32) || signature (64) || plaintext)
//                || tag (16)
// with key (32) || nonce (12) = HKDF-SHA256(ikm = X25519(ephemeral, recipient), salt = "",
// info = "bizrelay/sealed-box/v1" || ephemeral public || recipient public), and the signature
// an Ed25519 signature by the sender over
//   "bizrelay/sealed-box/v1/sender" || recipient public || ephemeral public || plaintext.
// A fresh ephemeral key per message makes every (key, nonce) pair single-use. The signature
// binds the recipient, so a recipient cannot re-seal a message to a third party as if the
// sender had sent it there. An envelope can be replayed verbatim; deduplication is the
// transport's job.
//
// Keys are raw 32-byte strings as RFC 7748 and RFC 8032 define them; private keys are secrets
// the caller keeps on the client.
//
// Errors: malformed keys throw bizrelay::Error INVALID_ARGUMENT, reason INVALID_KEY; an
// envelope that fails to open for any reason throws Error INVALID_ARGUMENT, reason
// SEALED_BOX_INVALID, the same for every cause so failures reveal nothing about which check
// failed. Failures inside OpenSSL that are not the caller's fault throw std::runtime_error.
//
// Thread safety: all functions are free of shared state and may be called concurrently.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bizrelay::crypto {

inline constexpr size_t kX25519KeyBytes = 32;
inline constexpr size_t kEd25519KeyBytes = 32;
inline constexpr size_t kEd25519SignatureBytes = 64;
inline constexpr size_t kAes256GcmKeyBytes = 32;
inline constexpr size_t kAes256GcmNonceBytes = 12;
inline constexpr size_t kAes256GcmTagBytes = 16;

inline constexpr uint8_t kSealedBoxVersion = 1;
inline constexpr size_t kSealedBoxHeaderBytes = 1 + kX25519KeyBytes;
// Envelope size minus plaintext size.
inline constexpr size_t kSealedBoxOverheadBytes =
    kSealedBoxHeaderBytes + kEd25519KeyBytes + kEd25519SignatureBytes + kAes256GcmTagBytes;
// Largest plaintext Seal accepts. OpenSSL's cipher calls take int lengths; the bound keeps every
// length far from that limit. Relay limits on envelopes are much smaller.
inline constexpr size_t kSealedBoxMaxPlaintextBytes = size_t{64} << 20;

struct KeyPair {
  std::string private_key;  // Raw 32 bytes. Secret.
  std::string public_key;   // Raw 32 bytes.
};

KeyPair GenerateX25519KeyPair();
KeyPair GenerateEd25519KeyPair();

// The public key of a raw private key (RFC 7748 X25519(k, 9) / RFC 8032 key derivation).
std::string X25519PublicKey(std::string_view private_key);
std::string Ed25519PublicKey(std::string_view private_key);

// RFC 7748 X25519 agreement: the raw 32-byte shared secret. Throws INVALID_KEY for wrong-length
// keys or a peer key of small order (all-zero result, RFC 7748 section 6.1).
std::string X25519Agree(std::string_view private_key, std::string_view peer_public_key);

// RFC 8032 Ed25519 (pure, no prehash). Ed25519Verify returns false for any malformed input.
// Callers signing different kinds of data (signed prekeys, sealed senders) must prefix their
// own context label so that one kind of signature is never valid as another.
std::string Ed25519Sign(std::string_view private_key, std::string_view message);
bool Ed25519Verify(std::string_view public_key, std::string_view message,
                   std::string_view signature);

// RFC 5869 HKDF with SHA-256. `ikm` must be non-empty, `length` at most 255 * 32 and `info` at
// most 1024 bytes (OpenSSL's limit), else Error INVALID_ARGUMENT, reason INVALID_HKDF_INPUT.
std::string HkdfSha256(std::string_view ikm, std::string_view salt, std::string_view info,
                       size_t length);

// AES-256-GCM with a 96-bit nonce: ciphertext || 16-byte tag. A (key, nonce) pair must never be
// used twice. Wrong key or nonce sizes throw INVALID_ARGUMENT, reason INVALID_KEY.
std::string Aes256GcmSeal(std::string_view key, std::string_view nonce, std::string_view aad,
                          std::string_view plaintext);
// The plaintext, or nullopt if the input is too short or fails authentication (no partial
// plaintext is ever returned).
std::optional<std::string> Aes256GcmOpen(std::string_view key, std::string_view nonce,
                                         std::string_view aad, std::string_view sealed);

// Seals `plaintext` to `recipient_public_key` (X25519), signed by the sender's Ed25519 identity.
// Throws INVALID_KEY for malformed keys, INVALID_ARGUMENT reason MESSAGE_TOO_LARGE above
// kSealedBoxMaxPlaintextBytes.
std::string Seal(std::string_view recipient_public_key, std::string_view sender_identity_private,
                 std::string_view plaintext);

struct OpenedMessage {
  // The sender's Ed25519 identity key, proven by its signature. The caller must still check it
  // is the identity it expects for that contact: Open only proves possession, not who that is.
  std::string sender_identity_key;
  std::string plaintext;
};

// Opens an envelope sealed to the key pair of `recipient_private_key`. Throws SEALED_BOX_INVALID
// if the envelope was altered in any way, was sealed to another key, or its sender signature
// does not verify.
OpenedMessage Open(std::string_view recipient_private_key, std::string_view envelope);

}  // namespace bizrelay::crypto
