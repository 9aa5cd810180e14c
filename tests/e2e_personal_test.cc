// End-to-end: two users exchange sealed messages over the personal relay, then the test reads
// every table and every log line for anything that links them or reveals content.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "services/crypto/blind_rsa.h"
#include "services/crypto/sealed_box.h"
#include "services/platform/token.h"
#include "services/store/testing/test_postgres.h"
#include "tests/harness/clients.h"
#include "tests/harness/daemon_process.h"

namespace bizrelay::e2e {
namespace {

// Every row of every table of the bizrelay schemas, as text.
std::string DumpTables(const std::string& url) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  std::string all;
  for (const auto& t : tx.exec("SELECT schemaname, tablename FROM pg_tables "
                               "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")) {
    std::string name =
        tx.quote_name(t[0].as<std::string>()) + "." + tx.quote_name(t[1].as<std::string>());
    for (const auto& r : tx.exec("SELECT row_to_json(x)::text FROM " + name + " x")) {
      all += name + " " + r[0].as<std::string>() + "\n";
    }
  }
  return all;
}

std::map<std::string, int> HostingRowCounts(const std::string& url) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  std::map<std::string, int> counts;
  for (const auto& t : tx.exec("SELECT schemaname || '.' || tablename FROM pg_tables "
                               "WHERE schemaname IN ('core', 'hosting')")) {
    std::string name = t[0].as<std::string>();
    counts[name] = tx.exec1("SELECT count(*) FROM " + name)[0].as<int>();
  }
  return counts;
}

TEST(PersonalE2E, SealedExchangeLeavesNothingThatLinksTheTwo) {
  std::string url = store::testing::FreshDatabase();
  // Sender and recipient on different instances; logging at its most verbose.
  DaemonProcess a(
      DaemonProcess::Options{.database_url = url, .extra_args = {"--log-level", "trace"}});
  DaemonProcess b(
      DaemonProcess::Options{.database_url = url, .extra_args = {"--log-level", "trace"}});
  Person ani = Join(a, "Ani", 5);
  Person budi = Join(b, "Budi", 5);
  auto hosting_before = HostingRowCounts(url);

  const std::string secret1 = "ketemu di stasiun jam 7, bawa payung";
  const std::string secret2 = "siap, sampai jumpa";
  ASSERT_TRUE(SendTo(a, ani, budi, secret1).ok());
  auto got = Receive(b, budi, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].second, secret1);
  EXPECT_EQ(got[0].first, ani.identity.public_key);  // the sender is known only inside
  ASSERT_TRUE(SendTo(b, budi, ani, secret2).ok());
  EXPECT_EQ(Receive(a, ani, 1)[0].second, secret2);

  // A spent token is refused; a wrong access key looks like no mailbox at all.
  ani.tokens.push_back(ani.tokens.back());
  auto s = SendTo(a, ani, budi, "again", /*reuse_token=*/false);
  EXPECT_TRUE(s.ok());
  s = SendTo(a, ani, budi, "replayed token", /*reuse_token=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(ErrorReason(s), "TOKEN_SPENT");
  Person stranger = budi;
  stranger.access_key = RandomBytes(32);
  s = SendTo(a, ani, stranger, "probe");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

  // The hosting path's tables did not change.
  EXPECT_EQ(HostingRowCounts(url), hosting_before);

  // Every table: no plaintext, no user id, token or key id of either, no sender key next to
  // the recipient's mailbox.
  std::string tables = DumpTables(url);
  std::string logs = a.Log() + b.Log();
  std::vector<std::string> never_in_tables = {secret1,
                                              secret2,
                                              "ketemu",
                                              ToHex(ani.identity.private_key),
                                              ToHex(ani.tokens.back().message()),
                                              ToHex(ani.tokens.back().signature()),
                                              ani.user_token,
                                              budi.user_token,
                                              ani.owner_secret,
                                              budi.owner_secret,
                                              ToHex(ani.access_key),
                                              ToHex(budi.access_key)};
  for (const auto& needle : never_in_tables) {
    EXPECT_EQ(tables.find(needle), std::string::npos) << needle.substr(0, 12);
  }
  // Rows of the personal schema never name a user.
  for (const auto& line : std::vector<std::string>{tables}) {
    size_t at = 0;
    while ((at = line.find("\"personal\".", at)) != std::string::npos) {
      size_t end = line.find('\n', at);
      std::string row = line.substr(at, end - at);
      EXPECT_EQ(row.find(ani.user_id), std::string::npos) << row;
      EXPECT_EQ(row.find(budi.user_id), std::string::npos) << row;
      // Budi's envelopes and mailbox never carry Ani's identity key (and the reverse).
      if (row.find(budi.mailbox_id) != std::string::npos) {
        EXPECT_EQ(row.find(ToHex(ani.identity.public_key)), std::string::npos) << row;
      }
      at = end;
    }
  }
  // The logs name neither mailbox, key, token, user nor text.
  for (const auto& needle :
       {secret1, secret2, ani.mailbox_id, budi.mailbox_id, ani.user_id, budi.user_id,
        ani.owner_secret, budi.owner_secret, ani.tokens.back().key_id(), ani.user_token}) {
    EXPECT_EQ(logs.find(needle), std::string::npos) << "log has: " << needle.substr(0, 16);
  }
  EXPECT_THAT(logs, ::testing::HasSubstr("role=personal"));  // the relay did log, at trace
}

// The personal relay as a process of its own: accounts and tokens on one process, the relay
// (which links nothing of the hosting code) on another.
TEST(PersonalE2E, RunsAsItsOwnProcess) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess accounts(
      DaemonProcess::Options{.database_url = url, .extra_args = {"--roles", "hosting,operator"}});
  DaemonProcess relay(
      DaemonProcess::Options{.database_url = url, .extra_args = {"--roles", "personal"}});
  EXPECT_EQ(accounts.personal_port(), 0);
  EXPECT_EQ(relay.public_port(), 0);
  ASSERT_GT(relay.personal_port(), 0);
  // Tokens come from the accounts process; mailboxes and sends go to the relay process.
  Person ani = Join(accounts, relay, "Ani", 3);
  Person budi = Join(accounts, relay, "Budi", 3);
  ASSERT_TRUE(SendTo(relay, ani, budi, "lewat proses sendiri").ok());
  EXPECT_EQ(Receive(relay, budi, 1)[0].second, "lewat proses sendiri");
}

TEST(PersonalE2E, TokenIssuanceIsLimitedPerUserPerDay) {
  DaemonProcess d(DaemonProcess::Options{.extra_args = {"--tokens-per-day", "3"}});
  Person p = Join(d, "Citra", 3);  // three tokens; one paid for the mailbox
  EXPECT_EQ(p.tokens.size(), 2u);
  auto accounts = v1::AccountService::NewStub(d.PublicChannel());
  v1::GetSendTokenKeyResponse key;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(accounts->GetSendTokenKey(&ctx, v1::GetSendTokenKeyRequest(), &key).ok());
  }
  auto pub = crypto::BlindRsaPublicKey::FromDer(key.public_key());
  grpc::ClientContext ctx;
  Authorize(&ctx, p.user_token);
  v1::IssueSendTokensRequest req;
  req.add_blinded_messages(
      pub.Blind(RandomBytes(32), crypto::BlindRsaVariant::kSha384PssRandomized).blinded_msg);
  v1::IssueSendTokensResponse resp;
  auto s = accounts->IssueSendTokens(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReason(s), "TOKEN_QUOTA_EXCEEDED");
  // Oversized envelopes are refused before anything is stored.
  auto relay = v1::PersonalRelayService::NewStub(d.PersonalChannel());
  grpc::ClientContext sctx;
  v1::SendSealedRequest big;
  big.set_mailbox_id(p.mailbox_id);
  big.set_access_key(p.access_key);
  *big.mutable_token() = p.tokens.back();
  big.set_ciphertext(std::string(65 * 1024, 'x'));
  v1::SendSealedResponse out;
  s = relay->SendSealed(&sctx, big, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReason(s), "ENVELOPE_TOO_LARGE");
}

}  // namespace
}  // namespace bizrelay::e2e
