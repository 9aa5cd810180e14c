#include "services/webhooks/webhook_repository.h"

#include "services/hosting/event_repository.h"
#include "services/store/sql_array.h"

namespace bizrelay::webhooks {
namespace {

#define MICROS(col) "coalesce((extract(epoch FROM " col ") * 1000000)::bigint, 0)"

constexpr const char* kCount =
    "SELECT count(*) FROM hosting.webhook_endpoints WHERE business_id = $1::uuid";
constexpr const char* kNewId = "SELECT gen_random_uuid()::text";
constexpr const char* kInsert =
    "INSERT INTO hosting.webhook_endpoints "
    "  (endpoint_id, business_id, url, event_kinds, enabled, secret, delivered_position) "
    "VALUES ($2::uuid, $1::uuid, $3, $4, $5, $6, "
    "  coalesce((SELECT acked_position FROM hosting.mailbox_acks WHERE owner_id = $1::uuid), 0))";
// Backlog: events after the endpoint's delivered position still in the log.
constexpr const char* kSelect =
    "SELECT w.endpoint_id::text, w.url, w.event_kinds, w.enabled, w.verified_at IS NOT NULL, "
    "  w.disabled_reason, " MICROS("w.created_at") ", " MICROS("w.last_success_at") ", "
    "  w.last_error, " MICROS("w.last_error_at") ", " MICROS("w.failing_since") ", "
    "  w.delivered_position, "
    MICROS("CASE WHEN w.previous_secret_until > now() THEN w.previous_secret_until END") ", "
    "  (SELECT count(*) FROM hosting.events e "
    "   WHERE e.owner_id = w.business_id AND e.position > w.delivered_position), "
    "  coalesce((SELECT extract(epoch FROM now() - e.created_at)::bigint FROM hosting.events e "
    "            WHERE e.owner_id = w.business_id AND e.position > w.delivered_position "
    "            ORDER BY e.position LIMIT 1), 0) "
    "FROM hosting.webhook_endpoints w "
    "WHERE w.business_id = $1::uuid AND ($2::uuid IS NULL OR w.endpoint_id = $2::uuid) "
    "ORDER BY w.created_at, w.endpoint_id";
constexpr const char* kUpdate =
    "UPDATE hosting.webhook_endpoints w SET "
    "  url = coalesce($3, w.url), "
    "  event_kinds = coalesce($4::smallint, w.event_kinds), "
    "  enabled = coalesce($5::boolean, w.enabled), "
    "  verified_at = CASE WHEN $3 IS NOT NULL AND $3 <> w.url THEN NULL ELSE w.verified_at END, "
    "  disabled_reason = CASE WHEN $5::boolean THEN '' "
    "                         WHEN NOT $5::boolean THEN 'disabled by the business' "
    "                         ELSE w.disabled_reason END, "
    "  failing_since = CASE WHEN $5::boolean THEN NULL ELSE w.failing_since END, "
    "  generation = w.generation + 1 "
    "WHERE w.business_id = $1::uuid AND w.endpoint_id = $2::uuid";
constexpr const char* kRotate =
    "UPDATE hosting.webhook_endpoints w SET previous_secret = w.secret, "
    "  previous_secret_until = now() + make_interval(secs => $4), secret = $3, "
    "  generation = w.generation + 1 "
    "WHERE w.business_id = $1::uuid AND w.endpoint_id = $2::uuid";
constexpr const char* kDelete =
    "DELETE FROM hosting.webhook_endpoints WHERE business_id = $1::uuid AND endpoint_id = $2::uuid";
constexpr const char* kRequestVerification =
    "UPDATE hosting.webhook_endpoints w SET verified_at = NULL, generation = w.generation + 1 "
    "WHERE w.business_id = $1::uuid AND w.endpoint_id = $2::uuid";
constexpr const char* kDropDeliveredEvents = "SELECT hosting.drop_delivered_events($1::uuid)";

constexpr const char* kClaim = "SELECT * FROM hosting.webhook_claim($1::uuid, $2, $3)";
constexpr const char* kDelivered =
    "SELECT hosting.webhook_delivered($1::uuid, $2::uuid, $3, $4::uuid[], $5, $6)";
constexpr const char* kVerified =
    "UPDATE hosting.webhook_endpoints SET verified_at = now(), last_success_at = now(), "
    "  failing_since = NULL "
    "WHERE endpoint_id = $1::uuid AND lease_holder = $2::uuid AND generation = $3";
constexpr const char* kFailed =
    "UPDATE hosting.webhook_endpoints SET last_error = $3, last_error_at = now(), "
    "  failing_since = coalesce(failing_since, now()) "
    "WHERE endpoint_id = $1::uuid AND lease_holder = $2::uuid "
    "RETURNING extract(epoch FROM now() - failing_since)::bigint";
constexpr const char* kDisableFailing =
    "UPDATE hosting.webhook_endpoints SET enabled = false, disabled_reason = $3, "
    "  generation = generation + 1 "
    "WHERE endpoint_id = $1::uuid AND lease_holder = $2::uuid AND enabled "
    "RETURNING business_id::text";
// The business is told in its inbox (and on its endpoints that take notices).
constexpr const char* kDisabledNotice =
    "INSERT INTO hosting.events (owner_id, position, kind, endpoint_id, endpoint_state) "
    "SELECT $1::uuid, hosting.take_positions($1::uuid, 1), 5, w.endpoint_id, "
    "  jsonb_build_object('reason', w.disabled_reason, 'last_error', w.last_error, 'url', w.url) "
    "FROM hosting.webhook_endpoints w WHERE w.endpoint_id = $2::uuid";
constexpr const char* kNotify = "SELECT pg_notify('bizrelay_mailbox', $1)";
constexpr const char* kRelease =
    "UPDATE hosting.webhook_endpoints SET lease_until = NULL WHERE lease_holder = $1::uuid";

// Columns 0-24 are hosting.read_events'; an endpoint whose page is empty (or that is not driven)
// has one row with them NULL. An endpoint not driven is given a limit of 0: nothing is read.
constexpr const char* kReadLogs =
    "SELECT r.*, o.idx, d.driven "
    "FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::bigint[], $5::integer[]) "
    "  WITH ORDINALITY AS o(endpoint_id, generation, owner_id, after, lim, idx) "
    "CROSS JOIN LATERAL (SELECT EXISTS ("
    "  SELECT FROM hosting.webhook_endpoints w "
    "  JOIN core.businesses b ON b.business_id = w.business_id "
    "  WHERE w.endpoint_id = o.endpoint_id AND w.business_id = o.owner_id "
    "    AND w.lease_holder = $6::uuid AND w.lease_until > now() AND w.generation = o.generation "
    "    AND w.enabled AND b.disabled_at IS NULL AND b.offboarded_at IS NULL) AS driven) d "
    "LEFT JOIN LATERAL hosting.read_events(o.owner_id, o.after, "
    "  CASE WHEN d.driven THEN o.lim ELSE 0 END, $7) r ON true "
    "ORDER BY o.idx, r.event_position";
constexpr pqxx::row::size_type kReadLogsIdx = 25;

EndpointRow ReadRow(const pqxx::row& r) {
  return EndpointRow{.endpoint_id = r[0].as<std::string>(),
                     .url = r[1].as<std::string>(),
                     .event_kinds = r[2].as<int>(),
                     .enabled = r[3].as<bool>(),
                     .verified = r[4].as<bool>(),
                     .disabled_reason = r[5].as<std::string>(),
                     .created_micros = r[6].as<int64_t>(),
                     .last_success_micros = r[7].as<int64_t>(),
                     .last_error = r[8].as<std::string>(),
                     .last_error_micros = r[9].as<int64_t>(),
                     .failing_since_micros = r[10].as<int64_t>(),
                     .delivered_position = r[11].as<int64_t>(),
                     .previous_secret_until_micros = r[12].as<int64_t>(),
                     .backlog = r[13].as<int64_t>(),
                     .oldest_event_age_seconds = r[14].as<int64_t>()};
}

}  // namespace

int WebhookRepository::Count(pqxx::transaction_base& tx, const std::string& business_id) {
  return tx.exec_params1(kCount, business_id)[0].as<int>();
}

std::string WebhookRepository::NewId(pqxx::transaction_base& tx) {
  return tx.exec1(kNewId)[0].as<std::string>();
}

void WebhookRepository::Insert(pqxx::transaction_base& tx, const std::string& business_id,
                               const std::string& endpoint_id, const std::string& url,
                               int event_kinds, bool enabled, const std::string& sealed_secret) {
  tx.exec_params0(kInsert, business_id, endpoint_id, url, event_kinds, enabled,
                  pqxx::binarystring(sealed_secret));
}

std::vector<EndpointRow> WebhookRepository::List(pqxx::transaction_base& tx,
                                                 const std::string& business_id) {
  std::vector<EndpointRow> out;
  for (const auto& r : tx.exec_params(kSelect, business_id, nullptr)) out.push_back(ReadRow(r));
  return out;
}

std::optional<EndpointRow> WebhookRepository::Get(pqxx::transaction_base& tx,
                                                  const std::string& business_id,
                                                  const std::string& endpoint_id) {
  auto rows = tx.exec_params(kSelect, business_id, endpoint_id);
  if (rows.empty()) return std::nullopt;
  return ReadRow(rows[0]);
}

bool WebhookRepository::Update(pqxx::transaction_base& tx, const std::string& business_id,
                               const std::string& endpoint_id,
                               const std::optional<std::string>& url,
                               std::optional<int> event_kinds, std::optional<bool> enabled) {
  return tx.exec_params0(kUpdate, business_id, endpoint_id, url, event_kinds, enabled)
             .affected_rows() == 1;
}

void WebhookRepository::Rotate(pqxx::transaction_base& tx, const std::string& business_id,
                               const std::string& endpoint_id, const std::string& sealed_secret,
                               int64_t overlap_seconds) {
  tx.exec_params0(kRotate, business_id, endpoint_id, pqxx::binarystring(sealed_secret),
                  overlap_seconds);
}

bool WebhookRepository::Delete(pqxx::transaction_base& tx, const std::string& business_id,
                               const std::string& endpoint_id) {
  return tx.exec_params0(kDelete, business_id, endpoint_id).affected_rows() == 1;
}

bool WebhookRepository::RequestVerification(pqxx::transaction_base& tx,
                                            const std::string& business_id,
                                            const std::string& endpoint_id) {
  return tx.exec_params0(kRequestVerification, business_id, endpoint_id).affected_rows() == 1;
}

void WebhookRepository::DropDeliveredEvents(pqxx::transaction_base& tx,
                                            const std::string& business_id) {
  tx.exec_params(kDropDeliveredEvents, business_id);
}

std::vector<LeasedEndpoint> WebhookRepository::Claim(pqxx::transaction_base& tx,
                                                     const std::string& holder, int64_t lease_ms,
                                                     int max) {
  std::vector<LeasedEndpoint> out;
  for (const auto& r : tx.exec_params(kClaim, holder, lease_ms, max)) {
    LeasedEndpoint e{.endpoint_id = r[0].as<std::string>(),
                     .business_id = r[1].as<std::string>(),
                     .url = r[2].as<std::string>(),
                     .event_kinds = r[3].as<int>(),
                     .generation = r[4].as<int64_t>(),
                     .verified = r[5].as<bool>(),
                     .secret = pqxx::binarystring(r[6]).str(),
                     .previous_secret = std::nullopt,
                     .delivered_position = r[8].as<int64_t>()};
    if (!r[7].is_null()) e.previous_secret = pqxx::binarystring(r[7]).str();
    out.push_back(std::move(e));
  }
  return out;
}

bool WebhookRepository::Delivered(pqxx::transaction_base& tx, const std::string& endpoint_id,
                                  const std::string& holder, int64_t floor,
                                  const std::vector<std::string>& message_ids, bool succeeded,
                                  int64_t no_storage_grace) {
  return tx
      .exec_params1(kDelivered, endpoint_id, holder, floor, store::SqlArray(message_ids), succeeded,
                    no_storage_grace)[0]
      .as<bool>();
}

void WebhookRepository::Verified(pqxx::transaction_base& tx, const std::string& endpoint_id,
                                 const std::string& holder, int64_t generation) {
  tx.exec_params0(kVerified, endpoint_id, holder, generation);
}

std::optional<int64_t> WebhookRepository::Failed(pqxx::transaction_base& tx,
                                                 const std::string& endpoint_id,
                                                 const std::string& holder,
                                                 const std::string& error) {
  auto rows = tx.exec_params(kFailed, endpoint_id, holder, error);
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<int64_t>();
}

bool WebhookRepository::DisableFailing(pqxx::transaction_base& tx, const std::string& endpoint_id,
                                       const std::string& holder, const std::string& reason) {
  auto rows = tx.exec_params(kDisableFailing, endpoint_id, holder, reason);
  if (rows.empty()) return false;
  const std::string business_id = rows[0][0].as<std::string>();
  DropDeliveredEvents(tx, business_id);
  tx.exec_params0(kDisabledNotice, business_id, endpoint_id);
  tx.exec_params(kNotify, business_id);
  return true;
}

void WebhookRepository::Release(pqxx::transaction_base& tx, const std::string& holder) {
  tx.exec_params0(kRelease, holder);
}

std::vector<LogPage> WebhookRepository::ReadLogs(pqxx::transaction_base& tx,
                                                 const std::string& holder,
                                                 const std::vector<LogRead>& reads,
                                                 int64_t default_lifetime) {
  std::vector<LogPage> pages(reads.size());
  if (reads.empty()) return pages;
  std::vector<std::string> endpoints, generations, owners, afters, limits;
  for (size_t i = 0; i < reads.size(); ++i) {
    endpoints.push_back(reads[i].endpoint_id);
    generations.push_back(std::to_string(reads[i].generation));
    owners.push_back(reads[i].business_id);
    afters.push_back(std::to_string(reads[i].after));
    limits.push_back(std::to_string(reads[i].limit));
    pages[i].last_read = reads[i].after;
  }
  for (const auto& r :
       tx.exec_params(kReadLogs, store::SqlArray(endpoints), store::SqlArray(generations),
                      store::SqlArray(owners), store::SqlArray(afters), store::SqlArray(limits),
                      holder, default_lifetime)) {
    auto i = static_cast<size_t>(r[kReadLogsIdx].as<int64_t>() - 1);
    LogPage& page = pages.at(i);
    page.driven = r[kReadLogsIdx + 1].as<bool>();
    if (r[0].is_null()) continue;
    page.last_read = r[0].as<int64_t>();
    ++page.read;
    if (auto e = hosting::EventRepository::FromRow(r, reads[i].business_id)) {
      page.events.push_back(std::move(*e));
    }
  }
  return pages;
}

}  // namespace bizrelay::webhooks
