#include "services/auth/authenticator.h"

#include "services/platform/error.h"
#include "services/platform/token.h"

namespace bizrelay::auth {
namespace {

Error Unauthenticated() {
  return Error(ErrorCode::kUnauthenticated, "UNAUTHENTICATED",
               "missing, unknown or revoked credential");
}

Error WrongPrincipal() {
  return Error(ErrorCode::kPermissionDenied, "WRONG_PRINCIPAL",
               "this credential may not use this API");
}

}  // namespace

Authenticator::Authenticator(std::string operator_token_sha256)
    : operator_hash_(std::move(operator_token_sha256)) {}

bool Authenticator::IsOperator(const std::optional<std::string>& token) const {
  if (!token || operator_hash_.empty()) return false;
  return ConstantTimeEquals(Sha256(*token), operator_hash_);
}

void Authenticator::RequireOperator(pqxx::transaction_base& tx,
                                    const std::optional<std::string>& token) const {
  if (IsOperator(token)) return;
  if (!token) throw Unauthenticated();
  if (CredentialRepository::Resolve(tx, Sha256(*token))) throw WrongPrincipal();
  throw Unauthenticated();
}

Principal Authenticator::Require(pqxx::transaction_base& tx,
                                 const std::optional<std::string>& token,
                                 PrincipalKind kind) const {
  if (!token) throw Unauthenticated();
  if (IsOperator(token)) throw WrongPrincipal();
  auto principal = CredentialRepository::Resolve(tx, Sha256(*token));
  if (!principal) throw Unauthenticated();
  if (principal->kind != kind) throw WrongPrincipal();
  return *principal;
}

}  // namespace bizrelay::auth
