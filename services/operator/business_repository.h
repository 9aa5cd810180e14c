#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>

namespace bizrelay::operator_api {

struct BusinessProfileData {
  std::string display_name;
  std::string description;
  std::string website;
};

struct BusinessRecord {
  std::string business_id;
  BusinessProfileData profile;
  int64_t created_unix_micros = 0;
  bool disabled = false;
};

// The SQL for core.businesses. Runs inside the caller's transaction.
class BusinessRepository {
 public:
  static BusinessRecord Insert(pqxx::transaction_base& tx, const BusinessProfileData& profile);
  static std::optional<BusinessRecord> Get(pqxx::transaction_base& tx, const std::string& id);
  // Sets disabled_at if unset; returns the record, or nullopt for an unknown id.
  static std::optional<BusinessRecord> Disable(pqxx::transaction_base& tx, const std::string& id);
};

}  // namespace bizrelay::operator_api
