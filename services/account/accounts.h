#pragma once

#include <string>

#include "services/account/user_repository.h"
#include "services/crypto/blind_rsa.h"

namespace bizrelay::account {

inline constexpr size_t kMaxUserDisplayName = 100;

// User account rules. Errors are bizrelay::Error.
class Accounts {
 public:
  struct Registered {
    UserRecord user;
    std::string token;
  };

  // Throws INVALID_ARGUMENT (field display_name).
  static void ValidateDisplayName(const std::string& display_name);
  static Registered Register(pqxx::transaction_base& tx, const std::string& display_name);
  // The profile of an authenticated user (whose account therefore exists).
  static UserRecord Profile(pqxx::transaction_base& tx, const std::string& user_id);

  // Most blinded messages in one IssueSendTokens call.
  static constexpr size_t kMaxTokensPerCall = 100;
  // INVALID_ARGUMENT unless there are 1..kMaxTokensPerCall messages of the modulus size.
  static void CheckBlinded(const std::vector<std::string>& blinded,
                           const crypto::BlindRsaPublicKey& key);
  // Blind-signs for the user, counting against `per_day` (RESOURCE_EXHAUSTED, reason
  // TOKEN_QUOTA_EXCEEDED). The issuer learns nothing that links the tokens to later sends.
  static std::vector<std::string> IssueSendTokens(pqxx::transaction_base& tx,
                                                  const std::string& user_id,
                                                  const std::vector<std::string>& blinded,
                                                  const crypto::BlindRsaPrivateKey& issuer,
                                                  int per_day);
};

}  // namespace bizrelay::account
