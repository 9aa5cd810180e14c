#pragma once

#include <string>

#include "services/operator/business_repository.h"

namespace bizrelay::operator_api {

// Limits on what a business says about itself (characters, not bytes).
inline constexpr size_t kMaxDisplayName = 100;
inline constexpr size_t kMaxDescription = 1000;
inline constexpr size_t kMaxWebsite = 200;

// Onboarding rules: a business gets exactly one live API key at a time; a disabled business
// has none and gets no new one. Errors are bizrelay::Error; ids that are malformed or unknown
// are NOT_FOUND alike.
class BusinessAdmin {
 public:
  struct Created {
    BusinessRecord business;
    std::string api_key;
  };

  // Throws INVALID_ARGUMENT naming the field (profile.display_name, ...).
  static void ValidateProfile(const BusinessProfileData& profile);

  static Created Create(pqxx::transaction_base& tx, const BusinessProfileData& profile);
  static BusinessRecord Get(pqxx::transaction_base& tx, const std::string& business_id);
  // Revokes every key and issues a new one. A disabled business: FAILED_PRECONDITION
  // (reason BUSINESS_DISABLED).
  static std::string RotateKey(pqxx::transaction_base& tx, const std::string& business_id);
  // Revokes every key and marks the business disabled. Idempotent.
  static BusinessRecord Disable(pqxx::transaction_base& tx, const std::string& business_id);
};

}  // namespace bizrelay::operator_api
