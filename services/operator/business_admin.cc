#include "services/operator/business_admin.h"

#include "services/auth/credentials.h"
#include "services/platform/error.h"
#include "services/platform/validate.h"

namespace bizrelay::operator_api {

void BusinessAdmin::ValidateProfile(const BusinessProfileData& p) {
  CheckText("profile.display_name", p.display_name, 1, kMaxDisplayName);
  CheckText("profile.description", p.description, 0, kMaxDescription, /*multiline=*/true);
  CheckOptionalUrl("profile.website", p.website, kMaxWebsite);
}

BusinessAdmin::Created BusinessAdmin::Create(pqxx::transaction_base& tx,
                                             const BusinessProfileData& profile) {
  ValidateProfile(profile);
  BusinessRecord record = BusinessRepository::Insert(tx, profile);
  std::string key =
      auth::CredentialRepository::Issue(tx, auth::PrincipalKind::kBusiness, record.business_id);
  return Created{std::move(record), std::move(key)};
}

BusinessRecord BusinessAdmin::Get(pqxx::transaction_base& tx, const std::string& business_id) {
  CheckId("business", business_id);
  auto record = BusinessRepository::Get(tx, business_id);
  if (!record) throw NotFound("business");
  return *record;
}

std::string BusinessAdmin::RotateKey(pqxx::transaction_base& tx, const std::string& business_id) {
  BusinessRecord record = Get(tx, business_id);
  if (record.disabled) {
    throw Error(ErrorCode::kFailedPrecondition, "BUSINESS_DISABLED",
                "a disabled business gets no API key");
  }
  auth::CredentialRepository::RevokeAll(tx, business_id);
  return auth::CredentialRepository::Issue(tx, auth::PrincipalKind::kBusiness, business_id);
}

BusinessRecord BusinessAdmin::Disable(pqxx::transaction_base& tx, const std::string& business_id) {
  CheckId("business", business_id);
  auto record = BusinessRepository::Disable(tx, business_id);
  if (!record) throw NotFound("business");
  auth::CredentialRepository::RevokeAll(tx, business_id);
  return *record;
}

}  // namespace bizrelay::operator_api
