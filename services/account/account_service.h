#pragma once

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/crypto/blind_rsa.h"
#include "services/hosting/keyring.h"
#include "services/metrics/metrics.h"
#include "services/platform/rate_limiter.h"
#include "services/rpc/unary.h"

namespace bizrelay::account {

// gRPC glue for bizrelay.v1.AccountService.
class AccountServiceImpl final : public bizrelay::v1::AccountService::CallbackService {
 public:
  // `registrations` limits RegisterUser across all callers (it needs no credential).
  // `issuer` signs anonymous send tokens, at most `tokens_per_day` per user.
  // `keys` opens hosted messages for "download your data".
  AccountServiceImpl(rpc::RpcEnv env, const auth::Authenticator* auth, RateLimiter* registrations,
                     const crypto::BlindRsaPrivateKey* issuer, int tokens_per_day,
                     hosting::KeyRing* keys, metrics::Counter* tokens_issued = nullptr)
      : env_(env),
        keys_(keys),
        auth_(auth),
        registrations_(registrations),
        issuer_(issuer),
        issuer_key_id_(crypto::BlindRsaKeyId(issuer->public_key())),
        tokens_per_day_(tokens_per_day),
        tokens_issued_(tokens_issued) {}

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
  grpc::ServerUnaryReactor* GetPolicyStatus(grpc::CallbackServerContext* ctx,
                                            const v1::GetPolicyStatusRequest* request,
                                            v1::GetPolicyStatusResponse* response) override;
  grpc::ServerUnaryReactor* AcceptPolicy(grpc::CallbackServerContext* ctx,
                                         const v1::AcceptPolicyRequest* request,
                                         v1::AcceptPolicyResponse* response) override;
  grpc::ServerUnaryReactor* OptOutOfDataSharing(grpc::CallbackServerContext* ctx,
                                                const v1::OptOutOfDataSharingRequest* request,
                                                v1::OptOutOfDataSharingResponse* response) override;
  grpc::ServerUnaryReactor* ExportMyData(grpc::CallbackServerContext* ctx,
                                         const v1::ExportMyDataRequest* request,
                                         v1::ExportMyDataResponse* response) override;
  grpc::ServerUnaryReactor* DeleteAccount(grpc::CallbackServerContext* ctx,
                                          const v1::DeleteAccountRequest* request,
                                          v1::DeleteAccountResponse* response) override;

 private:
  // Runs `work(tx, user_id)` in a transaction for the authenticated user.
  grpc::ServerUnaryReactor* AsUser(
      grpc::CallbackServerContext* ctx,
      std::function<void(pqxx::transaction_base&, const std::string&)> work);

  const rpc::RpcEnv env_;
  hosting::KeyRing* const keys_;
  const auth::Authenticator* const auth_;
  RateLimiter* const registrations_;
  const crypto::BlindRsaPrivateKey* const issuer_;
  const std::string issuer_key_id_;
  const int tokens_per_day_;
  // Blind signatures committed (send tokens issued); may be null.
  metrics::Counter* const tokens_issued_;
};

}  // namespace bizrelay::account
