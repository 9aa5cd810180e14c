#pragma once

#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/hosting/keyring.h"
#include "services/rpc/unary.h"

namespace bizrelay::operator_api {

// gRPC glue for bizrelay.v1.OperatorService: proto <-> domain, errors -> status (in
// rpc::RunUnary). Every call runs on a database worker, authenticated as the operator.
class OperatorServiceImpl final : public bizrelay::v1::OperatorService::CallbackService {
 public:
  // `keys` destroys data keys when a business is offboarded and derives export pseudonyms.
  OperatorServiceImpl(rpc::RpcEnv env, const auth::Authenticator* auth, hosting::KeyRing* keys)
      : env_(env), auth_(auth), keys_(keys) {}

  grpc::ServerUnaryReactor* CreateBusiness(grpc::CallbackServerContext* ctx,
                                           const v1::CreateBusinessRequest* request,
                                           v1::CreateBusinessResponse* response) override;
  grpc::ServerUnaryReactor* GetBusiness(grpc::CallbackServerContext* ctx,
                                        const v1::GetBusinessRequest* request,
                                        v1::GetBusinessResponse* response) override;
  grpc::ServerUnaryReactor* RotateBusinessKey(grpc::CallbackServerContext* ctx,
                                              const v1::RotateBusinessKeyRequest* request,
                                              v1::RotateBusinessKeyResponse* response) override;
  grpc::ServerUnaryReactor* DisableBusiness(grpc::CallbackServerContext* ctx,
                                            const v1::DisableBusinessRequest* request,
                                            v1::DisableBusinessResponse* response) override;
  grpc::ServerUnaryReactor* OffboardBusiness(grpc::CallbackServerContext* ctx,
                                             const v1::OffboardBusinessRequest* request,
                                             v1::OffboardBusinessResponse* response) override;
  grpc::ServerUnaryReactor* PublishPolicyVersion(
      grpc::CallbackServerContext* ctx, const v1::PublishPolicyVersionRequest* request,
      v1::PublishPolicyVersionResponse* response) override;
  grpc::ServerUnaryReactor* PostponePolicyDeadline(
      grpc::CallbackServerContext* ctx, const v1::PostponePolicyDeadlineRequest* request,
      v1::PostponePolicyDeadlineResponse* response) override;
  grpc::ServerUnaryReactor* SetOptOutOffer(grpc::CallbackServerContext* ctx,
                                           const v1::SetOptOutOfferRequest* request,
                                           v1::SetOptOutOfferResponse* response) override;
  grpc::ServerWriteReactor<v1::ExportInfrastructureDataResponse>* ExportInfrastructureData(
      grpc::CallbackServerContext* ctx,
      const v1::ExportInfrastructureDataRequest* request) override;

 private:
  const rpc::RpcEnv env_;
  const auth::Authenticator* const auth_;
  hosting::KeyRing* const keys_;
};

}  // namespace bizrelay::operator_api
