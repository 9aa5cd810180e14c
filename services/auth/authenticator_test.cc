#include "services/auth/authenticator.h"

#include <gtest/gtest.h>

#include "services/platform/error.h"
#include "services/platform/token.h"
#include "services/store/migrator.h"
#include "services/store/testing/test_postgres.h"

namespace bizrelay::auth {
namespace {

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() : conn_(store::testing::FreshDatabase()), auth_(Sha256("op-secret")) {
    store::ApplySchema(conn_);
    // A credential must name an existing principal: the tests' user and business.
    pqxx::work tx(conn_);
    tx.exec_params0("INSERT INTO core.users (user_id, display_name) VALUES ($1, 'u')", kId);
    tx.exec_params0("INSERT INTO core.businesses (business_id, display_name) VALUES ($1, 'b')",
                    kId);
    tx.commit();
  }

  static constexpr const char* kId = "0b0c5a53-7a40-4d0e-9d55-1d2a3f4b5c6d";

  ErrorCode CodeOf(auto fn) {
    pqxx::work tx(conn_);
    try {
      fn(tx);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::kInternal;
  }

  pqxx::connection conn_;
  Authenticator auth_;
};

TEST_F(AuthenticatorTest, StoresOnlyTheHash) {
  std::string id = kId;
  pqxx::work tx(conn_);
  std::string token = CredentialRepository::Issue(tx, PrincipalKind::kUser, id);
  auto rows = tx.exec("SELECT encode(token_hash, 'hex') FROM core.credentials");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].as<std::string>(), ToHex(Sha256(token)));
  auto dump = tx.exec1("SELECT string_agg(c::text, ',') FROM core.credentials c");
  EXPECT_EQ(dump[0].as<std::string>().find(token), std::string::npos);
  EXPECT_EQ(auth_.Require(tx, token, PrincipalKind::kUser).id, id);
}

TEST_F(AuthenticatorTest, UnknownMissingAndRevokedAreUnauthenticated) {
  std::string id = kId;
  std::string token;
  {
    pqxx::work tx(conn_);
    token = CredentialRepository::Issue(tx, PrincipalKind::kBusiness, id);
    tx.commit();
  }
  EXPECT_EQ(CodeOf([&](auto& tx) { auth_.Require(tx, std::nullopt, PrincipalKind::kUser); }),
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(CodeOf([&](auto& tx) { auth_.Require(tx, "bru_nope", PrincipalKind::kUser); }),
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(CodeOf([&](auto& tx) { auth_.Require(tx, token, PrincipalKind::kUser); }),
            ErrorCode::kPermissionDenied);
  {
    pqxx::work tx(conn_);
    CredentialRepository::RevokeAll(tx, id);
    tx.commit();
  }
  EXPECT_EQ(CodeOf([&](auto& tx) { auth_.Require(tx, token, PrincipalKind::kBusiness); }),
            ErrorCode::kUnauthenticated);
}

TEST_F(AuthenticatorTest, OperatorApiRefusesOtherPrincipals) {
  std::string token;
  {
    pqxx::work tx(conn_);
    token = CredentialRepository::Issue(tx, PrincipalKind::kUser, kId);
    tx.commit();
  }
  EXPECT_TRUE(auth_.IsOperator(std::string("op-secret")));
  EXPECT_EQ(CodeOf([&](auto& tx) { auth_.RequireOperator(tx, token); }),
            ErrorCode::kPermissionDenied);
  EXPECT_EQ(CodeOf([&](auto& tx) { auth_.RequireOperator(tx, std::string("op-wrong")); }),
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(CodeOf([&](auto& tx) { auth_.RequireOperator(tx, std::nullopt); }),
            ErrorCode::kUnauthenticated);
  Authenticator disabled("");
  EXPECT_FALSE(disabled.IsOperator(std::string("")));
}

}  // namespace
}  // namespace bizrelay::auth
