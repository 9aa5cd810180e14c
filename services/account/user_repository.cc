#include "services/account/user_repository.h"

namespace bizrelay::account {
namespace {

constexpr const char* kInsert = R"sql(
  INSERT INTO core.users (display_name) VALUES ($1)
  RETURNING user_id::text, display_name, (extract(epoch from created_at) * 1000000)::bigint)sql";

constexpr const char* kGet = R"sql(
  SELECT user_id::text, display_name, (extract(epoch from created_at) * 1000000)::bigint
  FROM core.users WHERE user_id = $1::uuid)sql";

constexpr const char* kCountTokens = R"sql(
  INSERT INTO core.send_token_issuance AS i (user_id, day, issued)
  VALUES ($1::uuid, current_date, $2)
  ON CONFLICT (user_id, day) DO UPDATE SET issued = i.issued + excluded.issued
  RETURNING issued)sql";

UserRecord FromRow(const pqxx::row& r) {
  return {r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<int64_t>()};
}

}  // namespace

UserRecord UserRepository::Insert(pqxx::transaction_base& tx, const std::string& display_name) {
  return FromRow(tx.exec_params1(kInsert, display_name));
}

int UserRepository::CountTokens(pqxx::transaction_base& tx, const std::string& user_id, int n) {
  return tx.exec_params1(kCountTokens, user_id, n)[0].as<int>();
}

std::optional<UserRecord> UserRepository::Get(pqxx::transaction_base& tx,
                                              const std::string& user_id) {
  auto rows = tx.exec_params(kGet, user_id);
  if (rows.empty()) return std::nullopt;
  return FromRow(rows[0]);
}

}  // namespace bizrelay::account
