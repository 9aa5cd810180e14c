#pragma once

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/platform/rate_limiter.h"
#include "services/rpc/unary.h"

namespace bizrelay::account {

// gRPC glue for bizrelay.v1.AccountService.
class AccountServiceImpl final : public bizrelay::v1::AccountService::CallbackService {
 public:
  // `registrations` limits RegisterUser across all callers (it needs no credential).
  AccountServiceImpl(rpc::RpcEnv env, const auth::Authenticator* auth, RateLimiter* registrations)
      : env_(env), auth_(auth), registrations_(registrations) {}

  grpc::ServerUnaryReactor* RegisterUser(grpc::CallbackServerContext* ctx,
                                         const v1::RegisterUserRequest* request,
                                         v1::RegisterUserResponse* response) override;
  grpc::ServerUnaryReactor* GetProfile(grpc::CallbackServerContext* ctx,
                                       const v1::GetProfileRequest* request,
                                       v1::GetProfileResponse* response) override;

 private:
  const rpc::RpcEnv env_;
  const auth::Authenticator* const auth_;
  RateLimiter* const registrations_;
};

}  // namespace bizrelay::account
