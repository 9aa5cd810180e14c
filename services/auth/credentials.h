#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>

namespace bizrelay::auth {

enum class PrincipalKind : int { kUser = 1, kBusiness = 2 };

struct Principal {
  PrincipalKind kind;
  std::string id;
};

// Token prefixes, so a leaked token's kind is recognisable (for secret scanners).
inline constexpr std::string_view kUserTokenPrefix = "bru_";
inline constexpr std::string_view kBusinessKeyPrefix = "brb_";

// The SQL behind credentials (table core.credentials). Tokens are never stored: only their
// SHA-256. Every function runs inside the caller's transaction.
class CredentialRepository {
 public:
  // Creates a new token for the principal, stores its hash and returns the token. The token
  // exists in memory only until the caller hands it to the client.
  static std::string Issue(pqxx::transaction_base& tx, PrincipalKind kind,
                           const std::string& principal_id);
  // The principal of a live (not revoked) credential with this hash.
  static std::optional<Principal> Resolve(pqxx::transaction_base& tx,
                                          const std::string& token_hash);
  // Revokes every live credential of the principal.
  static void RevokeAll(pqxx::transaction_base& tx, const std::string& principal_id);
};

}  // namespace bizrelay::auth
