#include "services/operator/business_admin.h"

#include <gtest/gtest.h>

#include "services/auth/authenticator.h"
#include "services/platform/error.h"
#include "services/store/migrator.h"
#include "services/store/testing/test_postgres.h"

namespace bizrelay::operator_api {
namespace {

class BusinessAdminTest : public ::testing::Test {
 protected:
  BusinessAdminTest() : conn_(store::testing::FreshDatabase()) { store::ApplySchema(conn_); }
  pqxx::connection conn_;
  auth::Authenticator auth_{""};
};

TEST_F(BusinessAdminTest, CreateIssuesAWorkingKey) {
  pqxx::work tx(conn_);
  auto created = BusinessAdmin::Create(tx, {"Toko Ibu", "Kue dan roti", "https://toko.example"});
  EXPECT_FALSE(created.business.disabled);
  auto p = auth_.Require(tx, created.api_key, auth::PrincipalKind::kBusiness);
  EXPECT_EQ(p.id, created.business.business_id);
  EXPECT_EQ(BusinessAdmin::Get(tx, p.id).profile.display_name, "Toko Ibu");
}

TEST_F(BusinessAdminTest, RotateRevokesTheOldKey) {
  pqxx::work tx(conn_);
  auto created = BusinessAdmin::Create(tx, {"Toko", "", ""});
  std::string fresh = BusinessAdmin::RotateKey(tx, created.business.business_id);
  EXPECT_THROW(auth_.Require(tx, created.api_key, auth::PrincipalKind::kBusiness), Error);
  EXPECT_EQ(auth_.Require(tx, fresh, auth::PrincipalKind::kBusiness).id,
            created.business.business_id);
}

TEST_F(BusinessAdminTest, DisableRevokesKeysAndBlocksRotation) {
  pqxx::work tx(conn_);
  auto created = BusinessAdmin::Create(tx, {"Toko", "", ""});
  const auto& id = created.business.business_id;
  EXPECT_TRUE(BusinessAdmin::Disable(tx, id).disabled);
  EXPECT_TRUE(BusinessAdmin::Disable(tx, id).disabled);  // idempotent
  EXPECT_THROW(auth_.Require(tx, created.api_key, auth::PrincipalKind::kBusiness), Error);
  try {
    BusinessAdmin::RotateKey(tx, id);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.reason(), "BUSINESS_DISABLED");
  }
}

TEST_F(BusinessAdminTest, UnknownAndMalformedIdsAreTheSameNotFound) {
  pqxx::work tx(conn_);
  std::string unknown_msg, malformed_msg;
  try {
    BusinessAdmin::Get(tx, "00000000-0000-4000-8000-000000000000");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    unknown_msg = e.what();
  }
  try {
    BusinessAdmin::Get(tx, "x'; DROP TABLE core.businesses; --");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    malformed_msg = e.what();
  }
  EXPECT_EQ(unknown_msg, malformed_msg);
}

TEST_F(BusinessAdminTest, ProfileLimits) {
  EXPECT_THROW(BusinessAdmin::ValidateProfile({"", "", ""}), Error);
  EXPECT_THROW(BusinessAdmin::ValidateProfile({std::string(101, 'a'), "", ""}), Error);
  EXPECT_THROW(BusinessAdmin::ValidateProfile({"a", std::string(1001, 'a'), ""}), Error);
  EXPECT_THROW(BusinessAdmin::ValidateProfile({"a", "", "ftp://x"}), Error);
  EXPECT_NO_THROW(BusinessAdmin::ValidateProfile({"a", "line one\nline two", ""}));
}

}  // namespace
}  // namespace bizrelay::operator_api
