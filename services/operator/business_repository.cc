#include "services/operator/business_repository.h"

namespace bizrelay::operator_api {
namespace {

#define BUSINESS_COLUMNS                                    \
  "business_id::text, display_name, description, website, " \
  "(extract(epoch from created_at) * 1000000)::bigint, disabled_at IS NOT NULL"

constexpr const char* kInsert =
    "INSERT INTO core.businesses (display_name, description, website) VALUES ($1, $2, $3) "
    "RETURNING " BUSINESS_COLUMNS;

constexpr const char* kGet =
    "SELECT " BUSINESS_COLUMNS " FROM core.businesses WHERE business_id = $1::uuid";

constexpr const char* kDisable =
    "UPDATE core.businesses SET disabled_at = coalesce(disabled_at, now()) "
    "WHERE business_id = $1::uuid RETURNING " BUSINESS_COLUMNS;

#undef BUSINESS_COLUMNS

BusinessRecord FromRow(const pqxx::row& r) {
  return BusinessRecord{
      .business_id = r[0].as<std::string>(),
      .profile = {r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>()},
      .created_unix_micros = r[4].as<int64_t>(),
      .disabled = r[5].as<bool>(),
  };
}

std::optional<BusinessRecord> First(const pqxx::result& rows) {
  if (rows.empty()) return std::nullopt;
  return FromRow(rows[0]);
}

}  // namespace

BusinessRecord BusinessRepository::Insert(pqxx::transaction_base& tx,
                                          const BusinessProfileData& p) {
  return FromRow(tx.exec_params1(kInsert, p.display_name, p.description, p.website));
}

std::optional<BusinessRecord> BusinessRepository::Get(pqxx::transaction_base& tx,
                                                      const std::string& id) {
  return First(tx.exec_params(kGet, id));
}

std::optional<BusinessRecord> BusinessRepository::Disable(pqxx::transaction_base& tx,
                                                          const std::string& id) {
  return First(tx.exec_params(kDisable, id));
}

}  // namespace bizrelay::operator_api
