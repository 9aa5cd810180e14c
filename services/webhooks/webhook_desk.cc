#include "services/webhooks/webhook_desk.h"

#include "services/platform/error.h"
#include "services/platform/token.h"
#include "services/platform/validate.h"

namespace bizrelay::webhooks {
namespace {

// Associated data of a sealed secret: it opens only as the secret of this endpoint.
constexpr const char* kSecretPurpose = "webhook-signing-secret";

Error EndpointNotFound() { return NotFound("webhook endpoint"); }

}  // namespace

std::string WebhookDesk::SealSecret(const std::string& data_key, const std::string& business_id,
                                    const std::string& endpoint_id, const std::string& secret) {
  return hosting::KeyRing::SealBody(data_key, business_id, endpoint_id, kSecretPurpose, secret);
}

std::optional<std::string> WebhookDesk::OpenSecret(const std::string& data_key,
                                                   const std::string& business_id,
                                                   const std::string& endpoint_id,
                                                   const std::string& sealed) {
  return hosting::KeyRing::OpenBody(data_key, business_id, endpoint_id, kSecretPurpose, sealed);
}

void WebhookDesk::CheckUrlForm(const std::string& url) const {
  // Without resolving: the scheme and form only; Create and Update resolve on a worker.
  TargetPolicy no_resolve = options_.policy;
  no_resolve.allow_private_targets = true;
  CheckWebhookUrl(url, no_resolve);
}

std::string WebhookDesk::NewSealedSecret(pqxx::transaction_base& tx, const std::string& business_id,
                                         const std::string& endpoint_id,
                                         std::string* secret) const {
  auto key = keys_->DataKey(tx, business_id, /*create=*/true);
  if (!key) throw NotFound("business");
  *secret = GenerateToken("whsec_");
  return SealSecret(*key, business_id, endpoint_id, *secret);
}

WebhookDesk::Created WebhookDesk::Create(pqxx::transaction_base& tx, const std::string& business_id,
                                         const std::string& url, int event_kinds,
                                         bool enabled) const {
  CheckWebhookUrl(url, options_.policy);
  if (WebhookRepository::Count(tx, business_id) >= options_.max_endpoints_per_business) {
    throw Error(ErrorCode::kResourceExhausted, "TOO_MANY_WEBHOOK_ENDPOINTS",
                "a business has at most " + std::to_string(options_.max_endpoints_per_business) +
                    " webhook endpoints",
                {{"max", std::to_string(options_.max_endpoints_per_business)}});
  }
  Created out;
  std::string id = WebhookRepository::NewId(tx);
  std::string sealed = NewSealedSecret(tx, business_id, id, &out.secret);
  WebhookRepository::Insert(tx, business_id, id, url, event_kinds == 0 ? kAllKinds : event_kinds,
                            enabled, sealed);
  out.endpoint = Get(tx, business_id, id);
  return out;
}

std::vector<EndpointRow> WebhookDesk::List(pqxx::transaction_base& tx,
                                           const std::string& business_id) const {
  return WebhookRepository::List(tx, business_id);
}

EndpointRow WebhookDesk::Get(pqxx::transaction_base& tx, const std::string& business_id,
                             const std::string& endpoint_id) const {
  CheckId("webhook endpoint", endpoint_id);
  auto row = WebhookRepository::Get(tx, business_id, endpoint_id);
  if (!row) throw EndpointNotFound();
  return *row;
}

WebhookDesk::Created WebhookDesk::Update(pqxx::transaction_base& tx, const std::string& business_id,
                                         const std::string& endpoint_id,
                                         const Change& change) const {
  CheckId("webhook endpoint", endpoint_id);
  if (change.url) CheckWebhookUrl(*change.url, options_.policy);
  std::optional<int> kinds = change.event_kinds;
  if (kinds && *kinds == 0) kinds = kAllKinds;
  if (!WebhookRepository::Update(tx, business_id, endpoint_id, change.url, kinds, change.enabled)) {
    throw EndpointNotFound();
  }
  Created out;
  if (change.rotate_secret) {
    std::string sealed = NewSealedSecret(tx, business_id, endpoint_id, &out.secret);
    WebhookRepository::Rotate(tx, business_id, endpoint_id, sealed,
                              options_.secret_overlap_seconds);
  }
  // A disabled endpoint holds no events back any more.
  if (change.enabled && !*change.enabled) {
    WebhookRepository::DropDeliveredEvents(tx, business_id);
  }
  out.endpoint = Get(tx, business_id, endpoint_id);
  return out;
}

void WebhookDesk::Delete(pqxx::transaction_base& tx, const std::string& business_id,
                         const std::string& endpoint_id) const {
  CheckId("webhook endpoint", endpoint_id);
  if (!WebhookRepository::Delete(tx, business_id, endpoint_id)) throw EndpointNotFound();
  WebhookRepository::DropDeliveredEvents(tx, business_id);
}

EndpointRow WebhookDesk::RequestVerification(pqxx::transaction_base& tx,
                                             const std::string& business_id,
                                             const std::string& endpoint_id) const {
  CheckId("webhook endpoint", endpoint_id);
  if (!WebhookRepository::RequestVerification(tx, business_id, endpoint_id)) {
    throw EndpointNotFound();
  }
  return Get(tx, business_id, endpoint_id);
}

}  // namespace bizrelay::webhooks
