#include "services/account/accounts.h"

#include <gtest/gtest.h>

#include "services/auth/authenticator.h"
#include "services/platform/error.h"
#include "services/store/migrator.h"
#include "services/store/testing/test_postgres.h"

namespace bizrelay::account {
namespace {

TEST(AccountsTest, RegisterReturnsATokenForTheNewUser) {
  pqxx::connection conn(store::testing::FreshDatabase());
  store::ApplySchema(conn);
  pqxx::work tx(conn);
  auto reg = Accounts::Register(tx, "Siti");
  EXPECT_TRUE(reg.token.starts_with("bru_"));
  auth::Authenticator auth("");
  auto principal = auth.Require(tx, reg.token, auth::PrincipalKind::kUser);
  EXPECT_EQ(Accounts::Profile(tx, principal.id).display_name, "Siti");
}

TEST(AccountsTest, DisplayNameLimits) {
  EXPECT_THROW(Accounts::ValidateDisplayName(""), Error);
  EXPECT_THROW(Accounts::ValidateDisplayName(std::string(101, 'x')), Error);
  EXPECT_THROW(Accounts::ValidateDisplayName("bad\x01"), Error);
  EXPECT_NO_THROW(Accounts::ValidateDisplayName("Budi Santoso"));
}

}  // namespace
}  // namespace bizrelay::account
