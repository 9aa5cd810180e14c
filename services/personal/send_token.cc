#include "services/personal/send_token.h"

#include "services/platform/error.h"
#include "services/platform/token.h"

namespace bizrelay::personal {

SendTokenVerifier::SendTokenVerifier(crypto::BlindRsaPublicKey key)
    : key_(std::move(key)), key_id_(crypto::BlindRsaKeyId(key_)) {}

void SendTokenVerifier::Check(const std::string& message, const std::string& signature,
                              const std::string& key_id) const {
  bool ok = message.size() == kSendTokenMessageBytes && signature.size() == key_.modulus_bytes() &&
            ConstantTimeEquals(key_id, key_id_) && key_.Verify(message, signature);
  if (!ok) {
    throw Error(ErrorCode::kPermissionDenied, "INVALID_TOKEN",
                "the send token is not valid for this relay");
  }
}

}  // namespace bizrelay::personal
