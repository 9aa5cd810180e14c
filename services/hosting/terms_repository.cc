#include "services/hosting/terms_repository.h"

#include "services/hosting/sql_fragments.h"

namespace bizrelay::hosting {
namespace {

constexpr const char* kTerms =
    "SELECT b.business_id::text, b.display_name, b.description, b.website, "
    "  coalesce(t.version, 1), coalesce(t.lifetime_seconds, $2), coalesce(t.no_storage, false), "
    "  coalesce(t.data_use_statement, '') "
    "FROM core.businesses b LEFT JOIN hosting.business_terms t USING (business_id) "
    "WHERE b.business_id = $1::uuid AND b.disabled_at IS NULL";

constexpr const char* kLabels =
    "SELECT label, lifetime_seconds FROM hosting.retention_labels WHERE business_id = $1::uuid "
    "ORDER BY label";

constexpr const char* kSetStatement =
    "INSERT INTO hosting.business_terms AS t (business_id, version, data_use_statement) "
    "VALUES ($1::uuid, 2, $2) "
    "ON CONFLICT (business_id) DO UPDATE SET version = t.version + 1, "
    "  data_use_statement = excluded.data_use_statement, updated_at = now() "
    "RETURNING version";

constexpr const char* kSetRetention =
    "INSERT INTO hosting.business_terms AS t (business_id, version, lifetime_seconds, no_storage) "
    "VALUES ($1::uuid, 2, nullif($2, 0), $3) "
    "ON CONFLICT (business_id) DO UPDATE SET version = t.version + 1, "
    "  lifetime_seconds = excluded.lifetime_seconds, no_storage = excluded.no_storage, "
    "  updated_at = now() "
    "RETURNING version";
constexpr const char* kClearLabels =
    "DELETE FROM hosting.retention_labels WHERE business_id = $1::uuid";
constexpr const char* kInsertLabel =
    "INSERT INTO hosting.retention_labels (business_id, label, lifetime_seconds) "
    "VALUES ($1::uuid, $2, $3)";

// Only ever lowers an expiry: what was stored under a shorter rule the user was shown is
// never kept longer.
constexpr const char* kShorten =
    "UPDATE hosting.messages m SET expires_at = least(m.expires_at, "
    "    m.created_at + make_interval(secs => hosting.lifetime_seconds(c.business_id, c.label, "
    "$3)), "
    "    CASE WHEN t.no_storage AND " HOSTING_SQL_STATUS_OF_M
    " >= 2 "
    "         THEN now() + make_interval(secs => $4) "
    "         ELSE 'infinity'::timestamptz END) "
    "FROM hosting.conversations c LEFT JOIN hosting.business_terms t USING (business_id) "
    "LEFT JOIN hosting.conversation_marks mk ON mk.conversation_id = c.conversation_id "
    "WHERE c.conversation_id = m.conversation_id AND c.business_id = $1::uuid "
    "  AND ($2 = '' OR c.conversation_id = nullif($2, '')::uuid)";

constexpr const char* kSetLabel =
    "UPDATE hosting.conversations SET label = $3 "
    "WHERE conversation_id = $2::uuid AND business_id = $1::uuid";

constexpr const char* kOffboardBusiness =
    "UPDATE core.businesses SET disabled_at = coalesce(disabled_at, now()), "
    "  offboarded_at = coalesce(offboarded_at, now()) WHERE business_id = $1::uuid";
constexpr const char* kExpireAllOf =
    "UPDATE hosting.messages m SET expires_at = least(m.expires_at, now()) "
    "FROM hosting.conversations c "
    "WHERE c.conversation_id = m.conversation_id AND c.business_id = $1::uuid";

constexpr const char* kUpdateProfile =
    "UPDATE core.businesses SET display_name = $2, description = $3, website = $4 "
    "WHERE business_id = $1::uuid";

}  // namespace

std::optional<TermsRow> TermsRepository::Terms(pqxx::transaction_base& tx,
                                               const std::string& business_id,
                                               int64_t default_lifetime) {
  auto rows = tx.exec_params(kTerms, business_id, default_lifetime);
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  TermsRow t{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
             r[3].as<std::string>(), r[4].as<int64_t>(),     r[5].as<int64_t>(),
             r[6].as<bool>(),        r[7].as<std::string>(), {}};
  for (const auto& l : tx.exec_params(kLabels, business_id)) {
    t.label_lifetimes.emplace_back(l[0].as<std::string>(), l[1].as<int64_t>());
  }
  return t;
}

int64_t TermsRepository::SetDataUseStatement(pqxx::transaction_base& tx,
                                             const std::string& business_id,
                                             const std::string& statement) {
  return tx.exec_params1(kSetStatement, business_id, statement)[0].as<int64_t>();
}

int64_t TermsRepository::SetRetention(pqxx::transaction_base& tx, const std::string& business_id,
                                      int64_t lifetime_seconds, bool no_storage,
                                      const std::vector<std::pair<std::string, int64_t>>& labels) {
  int64_t version =
      tx.exec_params1(kSetRetention, business_id, lifetime_seconds, no_storage)[0].as<int64_t>();
  tx.exec_params0(kClearLabels, business_id);
  for (const auto& [label, lifetime] : labels) {
    tx.exec_params0(kInsertLabel, business_id, label, lifetime);
  }
  return version;
}

void TermsRepository::ApplyShorterRules(pqxx::transaction_base& tx, const std::string& business_id,
                                        const std::string& conversation_id,
                                        int64_t default_lifetime, int64_t grace_seconds) {
  tx.exec_params0(kShorten, business_id, conversation_id, default_lifetime, grace_seconds);
}

bool TermsRepository::SetLabel(pqxx::transaction_base& tx, const std::string& business_id,
                               const std::string& conversation_id, const std::string& label) {
  return tx.exec_params0(kSetLabel, business_id, conversation_id, label).affected_rows() == 1;
}

void TermsRepository::Offboard(pqxx::transaction_base& tx, const std::string& business_id) {
  tx.exec_params0(kOffboardBusiness, business_id);
  tx.exec_params0(kExpireAllOf, business_id);
}

void TermsRepository::UpdateBusinessProfile(pqxx::transaction_base& tx,
                                            const std::string& business_id, const std::string& name,
                                            const std::string& description,
                                            const std::string& website) {
  tx.exec_params0(kUpdateProfile, business_id, name, description, website);
}

}  // namespace bizrelay::hosting
