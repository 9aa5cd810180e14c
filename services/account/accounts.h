#pragma once

#include <string>

#include "services/account/user_repository.h"

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
};

}  // namespace bizrelay::account
