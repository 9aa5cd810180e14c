#pragma once

#include "services/hosting/business_service.h"
#include "services/webhooks/webhook_desk.h"

namespace bizrelay::webhooks {

// gRPC glue for bizrelay.v1.BusinessService: the hosting calls, plus the webhook endpoint
// calls, which it adds here so that the hosting library does not depend on this one.
class BusinessServiceWithWebhooks final : public hosting::BusinessServiceImpl {
 public:
  BusinessServiceWithWebhooks(hosting::HostingEnv env, WebhookOptions options)
      : BusinessServiceImpl(env), desk_(options, env.keys) {}

  grpc::ServerUnaryReactor* CreateWebhookEndpoint(
      grpc::CallbackServerContext* ctx, const v1::CreateWebhookEndpointRequest* request,
      v1::CreateWebhookEndpointResponse* response) override;
  grpc::ServerUnaryReactor* GetWebhookEndpoint(grpc::CallbackServerContext* ctx,
                                               const v1::GetWebhookEndpointRequest* request,
                                               v1::GetWebhookEndpointResponse* response) override;
  grpc::ServerUnaryReactor* ListWebhookEndpoints(
      grpc::CallbackServerContext* ctx, const v1::ListWebhookEndpointsRequest* request,
      v1::ListWebhookEndpointsResponse* response) override;
  grpc::ServerUnaryReactor* UpdateWebhookEndpoint(
      grpc::CallbackServerContext* ctx, const v1::UpdateWebhookEndpointRequest* request,
      v1::UpdateWebhookEndpointResponse* response) override;
  grpc::ServerUnaryReactor* DeleteWebhookEndpoint(
      grpc::CallbackServerContext* ctx, const v1::DeleteWebhookEndpointRequest* request,
      v1::DeleteWebhookEndpointResponse* response) override;
  grpc::ServerUnaryReactor* TestWebhookEndpoint(grpc::CallbackServerContext* ctx,
                                                const v1::TestWebhookEndpointRequest* request,
                                                v1::TestWebhookEndpointResponse* response) override;

 private:
  const WebhookDesk desk_;
};

}  // namespace bizrelay::webhooks
