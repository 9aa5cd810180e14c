#include "services/account/accounts.h"

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

UserRecord Accounts::Profile(pqxx::transaction_base& tx, const std::string& user_id) {
  auto user = UserRepository::Get(tx, user_id);
  if (!user) throw NotFound("user");
  return *user;
}

}  // namespace bizrelay::account
