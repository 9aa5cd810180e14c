#pragma once

#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "services/hosting/keyring.h"
#include "services/webhooks/target.h"
#include "services/webhooks/webhook_repository.h"

namespace bizrelay::webhooks {

struct WebhookOptions {
  TargetPolicy policy;
  // How long a rotated-out secret keeps signing beside the new one.
  int64_t secret_overlap_seconds = 86400;
  int max_endpoints_per_business = 10;
};

// The rules of a business's webhook endpoints: which URLs may be registered, how the signing
// secret is made and kept (sealed under the business's data key, so offboarding shreds it),
// and what a change means for delivery. Every call acts on the caller's own business: another
// business's endpoint answers NOT_FOUND, like an unknown id. Thread-safe (no state of its own).
class WebhookDesk {
 public:
  WebhookDesk(WebhookOptions options, hosting::KeyRing* keys) : options_(options), keys_(keys) {}

  struct Created {
    EndpointRow endpoint;
    std::string secret;
  };
  struct Change {
    std::optional<std::string> url;
    std::optional<int> event_kinds;  // bits of EventKindBit; 0 means all
    std::optional<bool> enabled;
    bool rotate_secret = false;
  };

  // Cheap checks, without a database (the URL's form and scheme; names are resolved later).
  void CheckUrlForm(const std::string& url) const;

  Created Create(pqxx::transaction_base& tx, const std::string& business_id, const std::string& url,
                 int event_kinds, bool enabled) const;
  std::vector<EndpointRow> List(pqxx::transaction_base& tx, const std::string& business_id) const;
  EndpointRow Get(pqxx::transaction_base& tx, const std::string& business_id,
                  const std::string& endpoint_id) const;
  // The endpoint after the change, and the new secret if it was rotated.
  Created Update(pqxx::transaction_base& tx, const std::string& business_id,
                 const std::string& endpoint_id, const Change& change) const;
  void Delete(pqxx::transaction_base& tx, const std::string& business_id,
              const std::string& endpoint_id) const;
  EndpointRow RequestVerification(pqxx::transaction_base& tx, const std::string& business_id,
                                  const std::string& endpoint_id) const;

  // The secret sealed for storage, and opened again; nullopt if the business's data key is
  // gone (offboarded) or the sealed value does not belong to this endpoint.
  static std::string SealSecret(const std::string& data_key, const std::string& business_id,
                                const std::string& endpoint_id, const std::string& secret);
  static std::optional<std::string> OpenSecret(const std::string& data_key,
                                               const std::string& business_id,
                                               const std::string& endpoint_id,
                                               const std::string& sealed);

 private:
  std::string NewSealedSecret(pqxx::transaction_base& tx, const std::string& business_id,
                              const std::string& endpoint_id, std::string* secret) const;

  const WebhookOptions options_;
  hosting::KeyRing* const keys_;
};

}  // namespace bizrelay::webhooks
