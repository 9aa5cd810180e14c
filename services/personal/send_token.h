#pragma once

#include <string>

#include "services/crypto/blind_rsa.h"

namespace bizrelay::personal {

// Size of the message a send token signs: RFC 9474's 32-byte random prefix and the client's
// 32-byte nonce.
inline constexpr size_t kSendTokenMessageBytes = 64;

// Checks anonymous send tokens against the issuer's public key. Spending (refusing a token
// used before) is the repository's job. Thread-safe (immutable).
class SendTokenVerifier {
 public:
  explicit SendTokenVerifier(crypto::BlindRsaPublicKey key);

  // PERMISSION_DENIED, reason INVALID_TOKEN, unless `signature` is the issuer's RSABSSA-SHA384-PSS
  // signature over `message` (of kSendTokenMessageBytes) under key `key_id`.
  void Check(const std::string& message, const std::string& signature,
             const std::string& key_id) const;

  const std::string& key_id() const { return key_id_; }

 private:
  const crypto::BlindRsaPublicKey key_;
  const std::string key_id_;
};

}  // namespace bizrelay::personal
