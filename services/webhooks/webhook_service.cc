#include "services/webhooks/webhook_service.h"

#include <google/protobuf/util/time_util.h>

namespace bizrelay::webhooks {
namespace {

using google::protobuf::util::TimeUtil;

int KindsFromProto(const google::protobuf::RepeatedField<int>& kinds) {
  int bits = 0;
  for (int k : kinds) {
    switch (k) {
      case v1::WEBHOOK_EVENT_KIND_MESSAGE:
        bits |= kMessageBit;
        break;
      case v1::WEBHOOK_EVENT_KIND_STATUS_CHANGE:
        bits |= kStatusBit;
        break;
      case v1::WEBHOOK_EVENT_KIND_NOTICE:
        bits |= kNoticeBit;
        break;
      default:
        throw InvalidField("event_kinds", "unknown webhook event kind " + std::to_string(k));
    }
  }
  return bits;
}

void SetTime(int64_t micros, google::protobuf::Timestamp* out) {
  *out = TimeUtil::MicrosecondsToTimestamp(micros);
}

void ToProto(const EndpointRow& row, v1::WebhookEndpoint* out) {
  out->set_endpoint_id(row.endpoint_id);
  out->set_url(row.url);
  if (row.event_kinds & kMessageBit) out->add_event_kinds(v1::WEBHOOK_EVENT_KIND_MESSAGE);
  if (row.event_kinds & kStatusBit) out->add_event_kinds(v1::WEBHOOK_EVENT_KIND_STATUS_CHANGE);
  if (row.event_kinds & kNoticeBit) out->add_event_kinds(v1::WEBHOOK_EVENT_KIND_NOTICE);
  out->set_enabled(row.enabled);
  out->set_state(!row.enabled   ? v1::WEBHOOK_ENDPOINT_STATE_DISABLED
                 : row.verified ? v1::WEBHOOK_ENDPOINT_STATE_ACTIVE
                                : v1::WEBHOOK_ENDPOINT_STATE_VERIFYING);
  out->set_disabled_reason(row.disabled_reason);
  SetTime(row.created_micros, out->mutable_create_time());
  if (row.last_success_micros != 0) {
    SetTime(row.last_success_micros, out->mutable_last_success_time());
  }
  out->set_last_error(row.last_error);
  if (row.last_error_micros != 0) SetTime(row.last_error_micros, out->mutable_last_error_time());
  if (row.failing_since_micros != 0) {
    SetTime(row.failing_since_micros, out->mutable_failing_since_time());
  }
  out->set_backlog(row.backlog);
  out->set_oldest_event_age_seconds(row.oldest_event_age_seconds);
  out->set_delivered_position(row.delivered_position);
  if (row.previous_secret_until_micros != 0) {
    SetTime(row.previous_secret_until_micros, out->mutable_previous_secret_expire_time());
  }
}

}  // namespace

grpc::ServerUnaryReactor* BusinessServiceWithWebhooks::CreateWebhookEndpoint(
    grpc::CallbackServerContext* ctx, const v1::CreateWebhookEndpointRequest* request,
    v1::CreateWebhookEndpointResponse* response) {
  std::string url = request->url();
  // Set by the check on the gRPC thread, read by the work on a database worker.
  auto kinds = std::make_shared<int>(0);
  return AsBusiness(
      ctx,
      [&] {
        desk_.CheckUrlForm(url);
        *kinds = KindsFromProto(request->event_kinds());
      },
      [this, url, kinds, enabled = !request->disabled(), response](auto& tx, const auto& business) {
        auto created = desk_.Create(tx, business, url, *kinds, enabled);
        ToProto(created.endpoint, response->mutable_endpoint());
        response->set_signing_secret(created.secret);
      });
}

grpc::ServerUnaryReactor* BusinessServiceWithWebhooks::GetWebhookEndpoint(
    grpc::CallbackServerContext* ctx, const v1::GetWebhookEndpointRequest* request,
    v1::GetWebhookEndpointResponse* response) {
  return AsBusiness(ctx, nullptr,
                    [this, id = request->endpoint_id(), response](auto& tx, const auto& business) {
                      ToProto(desk_.Get(tx, business, id), response->mutable_endpoint());
                    });
}

grpc::ServerUnaryReactor* BusinessServiceWithWebhooks::ListWebhookEndpoints(
    grpc::CallbackServerContext* ctx, const v1::ListWebhookEndpointsRequest*,
    v1::ListWebhookEndpointsResponse* response) {
  return AsBusiness(ctx, nullptr, [this, response](auto& tx, const auto& business) {
    for (const auto& row : desk_.List(tx, business)) ToProto(row, response->add_endpoints());
  });
}

grpc::ServerUnaryReactor* BusinessServiceWithWebhooks::UpdateWebhookEndpoint(
    grpc::CallbackServerContext* ctx, const v1::UpdateWebhookEndpointRequest* request,
    v1::UpdateWebhookEndpointResponse* response) {
  // Completed by the check on the gRPC thread, read by the work on a database worker.
  auto change = std::make_shared<WebhookDesk::Change>();
  if (request->has_url()) change->url = request->url();
  if (request->has_enabled()) change->enabled = request->enabled();
  change->rotate_secret = request->rotate_secret();
  return AsBusiness(
      ctx,
      [&] {
        if (change->url) desk_.CheckUrlForm(*change->url);
        if (request->has_event_kinds()) {
          change->event_kinds = KindsFromProto(request->event_kinds().kinds());
        }
      },
      [this, id = request->endpoint_id(), change, response](auto& tx, const auto& business) {
        auto updated = desk_.Update(tx, business, id, *change);
        ToProto(updated.endpoint, response->mutable_endpoint());
        response->set_signing_secret(updated.secret);
      });
}

grpc::ServerUnaryReactor* BusinessServiceWithWebhooks::DeleteWebhookEndpoint(
    grpc::CallbackServerContext* ctx, const v1::DeleteWebhookEndpointRequest* request,
    v1::DeleteWebhookEndpointResponse*) {
  return AsBusiness(ctx, nullptr,
                    [this, id = request->endpoint_id()](auto& tx, const auto& business) {
                      desk_.Delete(tx, business, id);
                    });
}

grpc::ServerUnaryReactor* BusinessServiceWithWebhooks::TestWebhookEndpoint(
    grpc::CallbackServerContext* ctx, const v1::TestWebhookEndpointRequest* request,
    v1::TestWebhookEndpointResponse* response) {
  return AsBusiness(
      ctx, nullptr, [this, id = request->endpoint_id(), response](auto& tx, const auto& business) {
        ToProto(desk_.RequestVerification(tx, business, id), response->mutable_endpoint());
      });
}

}  // namespace bizrelay::webhooks
