#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>

namespace bizrelay::account {

struct UserRecord {
  std::string user_id;
  std::string display_name;
  int64_t created_unix_micros = 0;
};

// The SQL for core.users. Runs inside the caller's transaction.
class UserRepository {
 public:
  static UserRecord Insert(pqxx::transaction_base& tx, const std::string& display_name);
  static std::optional<UserRecord> Get(pqxx::transaction_base& tx, const std::string& user_id);
  // Adds `n` to the user's send tokens of today; returns today's total.
  static int CountTokens(pqxx::transaction_base& tx, const std::string& user_id, int n);
};

}  // namespace bizrelay::account
