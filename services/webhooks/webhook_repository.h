#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "services/hosting/rows.h"

namespace bizrelay::webhooks {

// Event kinds an endpoint receives, as the bits of hosting.webhook_endpoints.event_kinds.
enum EventKindBit : int { kMessageBit = 1, kStatusBit = 2, kNoticeBit = 4, kAllKinds = 7 };

// An endpoint as its business sees it.
struct EndpointRow {
  std::string endpoint_id;
  std::string url;
  int event_kinds = kAllKinds;
  bool enabled = false;
  bool verified = false;
  std::string disabled_reason;
  int64_t created_micros = 0;
  int64_t last_success_micros = 0;  // 0: none
  std::string last_error;
  int64_t last_error_micros = 0;
  int64_t failing_since_micros = 0;
  int64_t delivered_position = 0;
  int64_t previous_secret_until_micros = 0;  // 0: no previous secret signs
  int64_t backlog = 0;
  int64_t oldest_event_age_seconds = 0;
};

// What the instance holding an endpoint's lease needs to drive it. Secrets still sealed.
struct LeasedEndpoint {
  std::string endpoint_id;
  std::string business_id;
  std::string url;
  int event_kinds = kAllKinds;
  int64_t generation = 0;
  bool verified = false;
  std::string secret;
  std::optional<std::string> previous_secret;
  int64_t delivered_position = 0;
};

// What ReadLogs reads for one endpoint: up to `limit` events of its business's log after
// `after`.
struct LogRead {
  std::string endpoint_id;
  int64_t generation = 0;
  std::string business_id;
  int64_t after = 0;
  int limit = 0;
};

// What ReadLogs found for one endpoint.
struct LogPage {
  // The holder may still send the endpoint's events: it holds a lease that has not run out, the
  // endpoint is enabled and unchanged since (same generation), and its business is neither
  // disabled nor offboarded. If not, nothing was read.
  bool driven = false;
  std::vector<hosting::EventRow> events;  // those whose message is gone left out
  int64_t last_read = 0;                  // the last position read, left out or not
  int read = 0;                           // events read, left out or not
};

// The SQL of webhook endpoints (tables in migrations/0003_webhook_endpoints.sql, functions
// hosting.webhook_claim, hosting.webhook_delivered and hosting.drop_delivered_events). Every
// statement a business makes names its business id, so no business reaches another's rows.
class WebhookRepository {
 public:
  static int Count(pqxx::transaction_base& tx, const std::string& business_id);
  static std::string NewId(pqxx::transaction_base& tx);
  // Starts from the business's acknowledged inbox position: events not yet acknowledged are
  // delivered to the new endpoint too.
  static void Insert(pqxx::transaction_base& tx, const std::string& business_id,
                     const std::string& endpoint_id, const std::string& url, int event_kinds,
                     bool enabled, const std::string& sealed_secret);
  static std::vector<EndpointRow> List(pqxx::transaction_base& tx, const std::string& business_id);
  static std::optional<EndpointRow> Get(pqxx::transaction_base& tx, const std::string& business_id,
                                        const std::string& endpoint_id);
  // Each nullopt keeps its value; a new URL must be verified again. Returns false if the
  // business has no such endpoint.
  static bool Update(pqxx::transaction_base& tx, const std::string& business_id,
                     const std::string& endpoint_id, const std::optional<std::string>& url,
                     std::optional<int> event_kinds, std::optional<bool> enabled);
  static void Rotate(pqxx::transaction_base& tx, const std::string& business_id,
                     const std::string& endpoint_id, const std::string& sealed_secret,
                     int64_t overlap_seconds);
  static bool Delete(pqxx::transaction_base& tx, const std::string& business_id,
                     const std::string& endpoint_id);
  static bool RequestVerification(pqxx::transaction_base& tx, const std::string& business_id,
                                  const std::string& endpoint_id);
  // Drops events of the business's log that no reader needs any more.
  static void DropDeliveredEvents(pqxx::transaction_base& tx, const std::string& business_id);

  // ---- the delivering instance (holder: its instance id) ----
  static std::vector<LeasedEndpoint> Claim(pqxx::transaction_base& tx, const std::string& holder,
                                           int64_t lease_ms, int max);
  static bool Delivered(pqxx::transaction_base& tx, const std::string& endpoint_id,
                        const std::string& holder, int64_t floor,
                        const std::vector<std::string>& message_ids, bool succeeded,
                        int64_t no_storage_grace);
  static void Verified(pqxx::transaction_base& tx, const std::string& endpoint_id,
                       const std::string& holder, int64_t generation);
  // Records a failure; returns for how many seconds the endpoint has been failing (nullopt if
  // the caller no longer holds the lease).
  static std::optional<int64_t> Failed(pqxx::transaction_base& tx, const std::string& endpoint_id,
                                       const std::string& holder, const std::string& error);
  // Disables an endpoint that failed past the retry horizon and tells its business (a
  // WebhookEndpointNotice in its inbox); false if it was disabled already (or the lease is
  // gone).
  static bool DisableFailing(pqxx::transaction_base& tx, const std::string& endpoint_id,
                             const std::string& holder, const std::string& reason);
  static void Release(pqxx::transaction_base& tx, const std::string& holder);
  // For every endpoint of `reads`, in one statement (one snapshot, one round trip): whether
  // `holder` still drives it and, if so, its page of events. In the order of `reads`.
  static std::vector<LogPage> ReadLogs(pqxx::transaction_base& tx, const std::string& holder,
                                       const std::vector<LogRead>& reads, int64_t default_lifetime);
};

}  // namespace bizrelay::webhooks
