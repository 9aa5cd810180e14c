#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>

#include "services/auth/credentials.h"

namespace bizrelay::auth {

// Decides who a bearer token belongs to and whether that principal may use an API.
// Errors (bizrelay::Error):
// - no token, or one that is unknown or revoked: UNAUTHENTICATED (reason UNAUTHENTICATED);
// - a valid token of the wrong kind for the API: PERMISSION_DENIED (reason WRONG_PRINCIPAL).
// Thread-safe (immutable after construction).
class Authenticator {
 public:
  // `operator_token_sha256` is the SHA-256 (raw bytes) of the operator credential; empty
  // disables the operator API.
  explicit Authenticator(std::string operator_token_sha256);

  // True if `token` is the operator credential. Constant time; no database.
  bool IsOperator(const std::optional<std::string>& token) const;

  // For the operator API: passes for the operator; otherwise looks the token up so that a
  // user or business token is told PERMISSION_DENIED and anything else UNAUTHENTICATED.
  void RequireOperator(pqxx::transaction_base& tx, const std::optional<std::string>& token) const;

  Principal Require(pqxx::transaction_base& tx, const std::optional<std::string>& token,
                    PrincipalKind kind) const;

 private:
  const std::string operator_hash_;
};

}  // namespace bizrelay::auth
