#include "services/account/accounts.h"

#include "services/account/policies.h"
#include "services/auth/credentials.h"
#include "services/platform/error.h"
#include "services/platform/validate.h"

namespace bizrelay::account {

void Accounts::ValidateDisplayName(const std::string& display_name) {
  CheckText("display_name", display_name, 1, kMaxUserDisplayName);
}

Accounts::Registered Accounts::Register(pqxx::transaction_base& tx,
                                        const std::string& display_name) {
  ValidateDisplayName(display_name);
  UserRecord user = UserRepository::Insert(tx, display_name);
  std::string token =
      auth::CredentialRepository::Issue(tx, auth::PrincipalKind::kUser, user.user_id);
  return {std::move(user), std::move(token)};
}

void Accounts::CheckBlinded(const std::vector<std::string>& blinded,
                            const crypto::BlindRsaPublicKey& key) {
  if (blinded.empty() || blinded.size() > kMaxTokensPerCall) {
    throw InvalidField("blinded_messages",
                       "send 1 to " + std::to_string(kMaxTokensPerCall) + " blinded messages");
  }
  for (const auto& b : blinded) {
    if (b.size() != key.modulus_bytes()) {
      throw InvalidField("blinded_messages", "a blinded message is as long as the key modulus");
    }
  }
}

std::vector<std::string> Accounts::IssueSendTokens(pqxx::transaction_base& tx,
                                                   const std::string& user_id,
                                                   const std::vector<std::string>& blinded,
                                                   const crypto::BlindRsaPrivateKey& issuer,
                                                   int per_day) {
  CheckBlinded(blinded, issuer.public_key());
  // Limited mode: no new send credentials (tokens already held run out).
  Policies::RequireNotLimited(tx, user_id);
  int issued = UserRepository::CountTokens(tx, user_id, static_cast<int>(blinded.size()));
  if (issued > per_day) {
    throw Error(ErrorCode::kResourceExhausted, "TOKEN_QUOTA_EXCEEDED",
                "daily send-token quota reached (" + std::to_string(per_day) + ")",
                {{"retry_delay_ms", "3600000"}});
  }
  std::vector<std::string> out;
  out.reserve(blinded.size());
  for (const auto& b : blinded) out.push_back(issuer.BlindSign(b));
  return out;
}

UserRecord Accounts::Profile(pqxx::transaction_base& tx, const std::string& user_id) {
  auto user = UserRepository::Get(tx, user_id);
  if (!user) throw NotFound("user");
  return *user;
}

}  // namespace bizrelay::account
