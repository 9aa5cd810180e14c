#include "services/auth/credentials.h"

#include "services/platform/token.h"

namespace bizrelay::auth {
namespace {

constexpr const char* kInsert = R"sql(
  INSERT INTO core.credentials (token_hash, kind, principal_id) VALUES ($1, $2, $3))sql";

constexpr const char* kResolve = R"sql(
  SELECT kind, principal_id::text FROM core.credentials
  WHERE token_hash = $1 AND revoked_at IS NULL)sql";

constexpr const char* kRevokeAll = R"sql(
  UPDATE core.credentials SET revoked_at = now()
  WHERE principal_id = $1 AND revoked_at IS NULL)sql";

}  // namespace

std::string CredentialRepository::Issue(pqxx::transaction_base& tx, PrincipalKind kind,
                                        const std::string& principal_id) {
  std::string token =
      GenerateToken(kind == PrincipalKind::kUser ? kUserTokenPrefix : kBusinessKeyPrefix);
  std::string hash = Sha256(token);
  tx.exec_params0(kInsert, pqxx::binarystring(hash), static_cast<int>(kind), principal_id);
  return token;
}

std::optional<Principal> CredentialRepository::Resolve(pqxx::transaction_base& tx,
                                                       const std::string& token_hash) {
  auto rows = tx.exec_params(kResolve, pqxx::binarystring(token_hash));
  if (rows.empty()) return std::nullopt;
  return Principal{static_cast<PrincipalKind>(rows[0][0].as<int>()), rows[0][1].as<std::string>()};
}

void CredentialRepository::RevokeAll(pqxx::transaction_base& tx, const std::string& principal_id) {
  tx.exec_params0(kRevokeAll, principal_id);
}

}  // namespace bizrelay::auth
