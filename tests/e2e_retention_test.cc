// End-to-end: retention, the sweeper, encryption at rest and offboarding in real processes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <pqxx/pqxx>
#include <thread>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/platform/token.h"
#include "services/store/testing/test_postgres.h"
#include "tests/harness/command.h"
#include "tests/harness/daemon_process.h"

namespace bizrelay::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

struct Chat {
  std::string business_id, api_key, user_token, conversation_id;
};

Chat OpenChat(DaemonProcess& d) {
  Chat c;
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, d.OperatorToken());
    v1::CreateBusinessRequest req;
    req.mutable_profile()->set_display_name("Apotek Sehat");
    v1::CreateBusinessResponse resp;
    EXPECT_TRUE(
        v1::OperatorService::NewStub(d.OperatorChannel())->CreateBusiness(&ctx, req, &resp).ok());
    c.business_id = resp.business().business_id();
    c.api_key = resp.api_key();
  }
  {
    grpc::ClientContext ctx;
    v1::RegisterUserRequest req;
    req.set_display_name("Dewi");
    v1::RegisterUserResponse resp;
    EXPECT_TRUE(
        v1::AccountService::NewStub(d.PublicChannel())->RegisterUser(&ctx, req, &resp).ok());
    c.user_token = resp.token();
  }
  grpc::ClientContext ctx;
  Authorize(&ctx, c.user_token);
  v1::StartChatRequest req;
  req.set_business_id(c.business_id);
  req.set_disclosure_version(1);
  v1::StartChatResponse resp;
  EXPECT_TRUE(v1::UserChatService::NewStub(d.PublicChannel())->StartChat(&ctx, req, &resp).ok());
  c.conversation_id = resp.conversation_id();
  return c;
}

void Send(DaemonProcess& d, const Chat& c, const std::string& text) {
  grpc::ClientContext ctx;
  Authorize(&ctx, c.user_token);
  v1::SendMessageRequest req;
  req.set_business_id(c.business_id);
  req.set_text(text);
  req.set_idempotency_key(ToHex(RandomBytes(8)));
  v1::SendMessageResponse resp;
  auto s = v1::UserChatService::NewStub(d.PublicChannel())->SendMessage(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

int History(DaemonProcess& d, const Chat& c) {
  grpc::ClientContext ctx;
  Authorize(&ctx, c.api_key);
  v1::ListMessagesRequest req;
  req.set_conversation_id(c.conversation_id);
  v1::ListMessagesResponse resp;
  auto s = v1::BusinessService::NewStub(d.PublicChannel())->ListMessages(&ctx, req, &resp);
  return s.ok() ? resp.messages_size() : -1;
}

grpc::Status SetLifetime(DaemonProcess& d, const Chat& c, int64_t seconds) {
  grpc::ClientContext ctx;
  Authorize(&ctx, c.api_key);
  v1::SetRetentionPolicyRequest req;
  req.mutable_policy()->set_default_lifetime_seconds(seconds);
  v1::SetRetentionPolicyResponse resp;
  return v1::BusinessService::NewStub(d.PublicChannel())->SetRetentionPolicy(&ctx, req, &resp);
}

int CountRows(const std::string& url, const char* sql) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  return tx.exec1(sql)[0].as<int>();
}

TEST(RetentionE2E, ExpiredMessagesAreGoneWithinTheSweepIntervalPlusAFewSeconds) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(DaemonProcess::Options{
      .database_url = url,
      .extra_args = {"--retention-min-seconds", "1", "--retention-sweep-interval-ms", "500"}});
  Chat c = OpenChat(d);
  auto bad = SetLifetime(d, c, 0 - 3);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ErrorReason(bad), "RETENTION_OUT_OF_BOUNDS");
  ASSERT_TRUE(SetLifetime(d, c, 2).ok());
  for (int i = 0; i < 50; ++i) Send(d, c, "short-lived " + std::to_string(i));
  EXPECT_EQ(History(d, c), 50);
  auto written = std::chrono::steady_clock::now();
  // Lifetime 2 s + interval 0.5 s + a few seconds of slack for a loaded machine.
  while (CountRows(url, "SELECT count(*) FROM hosting.messages") > 0 &&
         std::chrono::steady_clock::now() - written < 12s) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(CountRows(url, "SELECT count(*) FROM hosting.messages"), 0);
  EXPECT_EQ(History(d, c), 0);
  EXPECT_THAT(d.Log(), HasSubstr("event=sweep deleted_messages="));
}

// Sends `req` as the user of `c`; returns the stored message.
v1::HostedMessage SendRich(DaemonProcess& d, const Chat& c, v1::SendMessageRequest req) {
  grpc::ClientContext ctx;
  Authorize(&ctx, c.user_token);
  req.set_business_id(c.business_id);
  req.set_idempotency_key(ToHex(RandomBytes(8)));
  v1::SendMessageResponse resp;
  auto s = v1::UserChatService::NewStub(d.PublicChannel())->SendMessage(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp.message();
}

void React(DaemonProcess& d, const Chat& c, const std::string& message_id,
           const std::string& emoji) {
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, c.user_token);
    v1::ReactToChatMessageRequest req;
    req.set_conversation_id(c.conversation_id);
    req.set_message_id(message_id);
    req.set_emoji(emoji);
    v1::ReactToChatMessageResponse resp;
    auto s = v1::UserChatService::NewStub(d.PublicChannel())->ReactToChatMessage(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  grpc::ClientContext ctx;
  Authorize(&ctx, c.api_key);
  v1::ReactToMessageRequest req;
  req.set_conversation_id(c.conversation_id);
  req.set_message_id(message_id);
  req.set_emoji(emoji);
  v1::ReactToMessageResponse resp;
  auto s = v1::BusinessService::NewStub(d.PublicChannel())->ReactToMessage(&ctx, req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST(RetentionE2E, ReactionsAndRichContentExpireWithTheirMessage) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(DaemonProcess::Options{
      .database_url = url,
      .extra_args = {"--retention-min-seconds", "1", "--retention-sweep-interval-ms", "500"}});
  Chat c = OpenChat(d);
  ASSERT_TRUE(SetLifetime(d, c, 3).ok());
  v1::SendMessageRequest req;
  req.mutable_content()->mutable_location()->set_latitude(-6.2);
  req.mutable_content()->mutable_location()->set_longitude(106.8);
  auto located = SendRich(d, c, req);
  req.Clear();
  req.set_text("yang itu");
  req.set_reply_to_message_id(located.message_id());
  SendRich(d, c, req);
  React(d, c, located.message_id(), "🎉");
  EXPECT_EQ(CountRows(url, "SELECT count(*) FROM hosting.message_reactions"), 2);
  EXPECT_EQ(CountRows(url, "SELECT count(*) FROM hosting.events WHERE kind = 4"), 2);
  auto written = std::chrono::steady_clock::now();
  while (CountRows(url, "SELECT count(*) FROM hosting.messages") > 0 &&
         std::chrono::steady_clock::now() - written < 15s) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(CountRows(url, "SELECT count(*) FROM hosting.messages"), 0);
  // The reactions and their events went with the message, in the same sweep.
  EXPECT_EQ(CountRows(url, "SELECT count(*) FROM hosting.message_reactions"), 0);
  EXPECT_EQ(CountRows(url, "SELECT count(*) FROM hosting.events WHERE kind = 4"), 0);
  EXPECT_EQ(History(d, c), 0);
  // Reacting to the expired message is like reacting to an unknown one.
  grpc::ClientContext ctx;
  Authorize(&ctx, c.user_token);
  v1::ReactToChatMessageRequest again;
  again.set_conversation_id(c.conversation_id);
  again.set_message_id(located.message_id());
  again.set_emoji("👍");
  v1::ReactToChatMessageResponse resp;
  EXPECT_EQ(v1::UserChatService::NewStub(d.PublicChannel())
                ->ReactToChatMessage(&ctx, again, &resp)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(RetentionE2E, DatabaseDumpHoldsNoPlaintextOfRichContentOrReactions) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(DaemonProcess::Options{.database_url = url});
  Chat c = OpenChat(d);
  const std::string place = "Gudang RAHASIA-LOKASI";
  const std::string person = "Kontak RAHASIA-NAMA";
  v1::SendMessageRequest req;
  req.mutable_content()->mutable_location()->set_latitude(-6.2);
  req.mutable_content()->mutable_location()->set_longitude(106.8);
  req.mutable_content()->mutable_location()->set_name(place);
  auto located = SendRich(d, c, req);
  req.Clear();
  auto* card = req.mutable_content()->mutable_contacts()->add_cards();
  card->set_name(person);
  card->add_emails()->set_address("rahasia@example.com");
  SendRich(d, c, req);
  React(d, c, located.message_id(), "🦄");
  auto dump = RunCommand({"/usr/lib/postgresql/15/bin/pg_dump", "--data-only", url});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_THAT(dump.out, HasSubstr("hosting.message_reactions"));
  // Neither as text nor as the hex pg_dump writes bytea in.
  for (const std::string& secret :
       {place, person, std::string("rahasia@example.com"), std::string("🦄")}) {
    EXPECT_EQ(dump.out.find(secret), std::string::npos) << secret;
    EXPECT_EQ(dump.out.find(ToHex(secret)), std::string::npos) << secret;
  }
}

TEST(RetentionE2E, DatabaseDumpHoldsNoPlaintextAndNoUnwrappedKey) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(DaemonProcess::Options{.database_url = url});
  Chat c = OpenChat(d);
  const std::string secret = "nomor resep 4471-KONFIDENSIAL";
  Send(d, c, secret);
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, c.api_key);
    v1::SendReplyRequest req;
    req.set_conversation_id(c.conversation_id);
    req.set_text("balasan RAHASIA-BISNIS");
    req.set_idempotency_key("r1");
    v1::SendReplyResponse resp;
    ASSERT_TRUE(v1::BusinessService::NewStub(d.PublicChannel())->SendReply(&ctx, req, &resp).ok());
  }
  EXPECT_EQ(History(d, c), 2);
  auto dump = RunCommand({"/usr/lib/postgresql/15/bin/pg_dump", "--data-only", url});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_THAT(dump.out, HasSubstr("hosting.messages"));
  EXPECT_EQ(dump.out.find("KONFIDENSIAL"), std::string::npos);
  EXPECT_EQ(dump.out.find("RAHASIA-BISNIS"), std::string::npos);
  // The master key (in the process's environment, never in the database) is not in the dump.
  EXPECT_EQ(dump.out.find(ToHex(Sha256(url))), std::string::npos);
}

TEST(RetentionE2E, OffboardingMakesEverythingUnreadableAtOnce) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(DaemonProcess::Options{.database_url = url});
  Chat c = OpenChat(d);
  Send(d, c, "hello");
  EXPECT_EQ(History(d, c), 1);
  grpc::ClientContext ctx;
  Authorize(&ctx, d.OperatorToken());
  v1::OffboardBusinessRequest req;
  req.set_business_id(c.business_id);
  v1::OffboardBusinessResponse resp;
  ASSERT_TRUE(
      v1::OperatorService::NewStub(d.OperatorChannel())->OffboardBusiness(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.business().state(), v1::BUSINESS_STATE_DISABLED);
  EXPECT_EQ(History(d, c), -1);  // the API key is revoked
  EXPECT_EQ(CountRows(url, "SELECT count(*) FROM hosting.business_keys"), 0);
  // The user's own view is empty too.
  grpc::ClientContext uctx;
  Authorize(&uctx, c.user_token);
  v1::ListChatMessagesRequest ureq;
  ureq.set_conversation_id(c.conversation_id);
  v1::ListChatMessagesResponse uresp;
  ASSERT_TRUE(
      v1::UserChatService::NewStub(d.PublicChannel())->ListChatMessages(&uctx, ureq, &uresp).ok());
  EXPECT_EQ(uresp.messages_size(), 0);
}

TEST(RetentionE2E, MasterKeyRotationAcrossRestarts) {
  std::string url = store::testing::FreshDatabase();
  char tmpl[] = "/tmp/bizrelay-keys-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string old_key = ToHex(RandomBytes(32)), new_key = ToHex(RandomBytes(32));
  std::ofstream(dir + "/old.key") << old_key << "\n";
  Chat c;
  {
    DaemonProcess d(DaemonProcess::Options{.database_url = url,
                                           .env = {{"BIZRELAY_CRYPTO_MASTER_KEY_HEX", old_key}}});
    c = OpenChat(d);
    Send(d, c, "before rotation");
    EXPECT_EQ(History(d, c), 1);
  }
  {
    DaemonProcess d(DaemonProcess::Options{
        .database_url = url,
        .extra_args = {"--crypto-previous-master-key-files", dir + "/old.key"},
        .env = {{"BIZRELAY_CRYPTO_MASTER_KEY_HEX", new_key}}});
    EXPECT_THAT(d.Log(), HasSubstr("rewrapped_data_keys=1"));
    EXPECT_EQ(History(d, c), 1);
  }
  DaemonProcess d(DaemonProcess::Options{.database_url = url,
                                         .env = {{"BIZRELAY_CRYPTO_MASTER_KEY_HEX", new_key}}});
  EXPECT_EQ(History(d, c), 1);  // the old master key is no longer needed
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bizrelay::e2e
