#pragma once

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/crypto/blind_rsa.h"
#include "services/platform/rate_limiter.h"
#include "services/rpc/unary.h"

namespace bizrelay::account {

// gRPC glue for bizrelay.v1.AccountService.
class AccountServiceImpl final : public bizrelay::v1::AccountService::CallbackService {
 public:
  // `registrations` limits RegisterUser across all callers (it needs no credential).
  // `issuer` signs anonymous send tokens, at most `tokens_per_day` per user.
  AccountServiceImpl(rpc::RpcEnv env, const auth::Authenticator* auth, RateLimiter* registrations,
                     const crypto::BlindRsaPrivateKey* issuer, int tokens_per_day)
      : env_(env),
        auth_(auth),
        registrations_(registrations),
        issuer_(issuer),
        issuer_key_id_(crypto::BlindRsaKeyId(issuer->public_key())),
        tokens_per_day_(tokens_per_day) {}

  grpc::ServerUnaryReactor* RegisterUser(grpc::CallbackServerContext* ctx,
                                         const v1::RegisterUserRequest* request,
                                         v1::RegisterUserResponse* response) override;
  grpc::ServerUnaryReactor* GetProfile(grpc::CallbackServerContext* ctx,
                                       const v1::GetProfileRequest* request,
                                       v1::GetProfileResponse* response) override;
  grpc::ServerUnaryReactor* GetSendTokenKey(grpc::CallbackServerContext* ctx,
                                            const v1::GetSendTokenKeyRequest* request,
                                            v1::GetSendTokenKeyResponse* response) override;
  grpc::ServerUnaryReactor* IssueSendTokens(grpc::CallbackServerContext* ctx,
                                            const v1::IssueSendTokensRequest* request,
                                            v1::IssueSendTokensResponse* response) override;

 private:
  const rpc::RpcEnv env_;
  const auth::Authenticator* const auth_;
  RateLimiter* const registrations_;
  const crypto::BlindRsaPrivateKey* const issuer_;
  const std::string issuer_key_id_;
  const int tokens_per_day_;
};

}  // namespace bizrelay::account
