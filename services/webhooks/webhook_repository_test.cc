// WebhookRepository::ReadLogs against a real PostgreSQL: one statement reads the pages of
// several endpoints, only for the endpoints the caller still drives.
#include "services/webhooks/webhook_repository.h"

#include <gtest/gtest.h>

#include <map>

#include "services/account/accounts.h"
#include "services/hosting/chats.h"
#include "services/hosting/message_repository.h"
#include "services/hosting/rules.h"
#include "services/operator/business_admin.h"
#include "services/platform/token.h"
#include "services/store/migrator.h"
#include "services/store/testing/test_postgres.h"

namespace bizrelay::webhooks {
namespace {

constexpr int64_t kLifetime = 3600;

class ReadLogsTest : public ::testing::Test {
 protected:
  ReadLogsTest() : conn_(store::testing::FreshDatabase()) { store::ApplySchema(conn_); }

  std::string NewBusiness(const std::string& name) {
    pqxx::work tx(conn_);
    auto created = operator_api::BusinessAdmin::Create(tx, {name, "", ""});
    tx.commit();
    return created.business.business_id;
  }
  std::string NewEndpoint(const std::string& business) {
    pqxx::work tx(conn_);
    std::string id = WebhookRepository::NewId(tx);
    WebhookRepository::Insert(tx, business, id, "https://hooks.example/" + id, kAllKinds,
                              /*enabled=*/true, "sealed secret");
    tx.commit();
    return id;
  }
  // A user who started a chat with `business` and sent it `count` messages.
  void Send(const std::string& business, int count) {
    pqxx::work tx(conn_);
    auto user = account::Accounts::Register(tx, "Siti");
    auto version = chats_.Disclosure(tx, business).terms.version;
    chats_.StartChat(tx, user.user.user_id, business, version);
    std::vector<hosting::PostItem> items;
    for (int i = 0; i < count; ++i) {
      std::string text = "message " + std::to_string(i);
      items.push_back({Sha256(user.token), business, "key-" + std::to_string(i), text,
                       hosting::RequestHash({business, text})});
    }
    hosting::MessageRepository::PostUserMessages(tx, items, keys_, kLifetime);
    tx.commit();
  }
  std::vector<LeasedEndpoint> Claim(const std::string& holder) {
    pqxx::work tx(conn_);
    auto held = WebhookRepository::Claim(tx, holder, 60000, 100);
    tx.commit();
    return held;
  }
  std::vector<LogPage> Read(const std::string& holder, const std::vector<LogRead>& reads) {
    pqxx::nontransaction tx(conn_);
    return WebhookRepository::ReadLogs(tx, holder, reads, kLifetime);
  }
  static LogRead ReadOf(const LeasedEndpoint& e, int64_t after, int limit) {
    return {.endpoint_id = e.endpoint_id,
            .generation = e.generation,
            .business_id = e.business_id,
            .after = after,
            .limit = limit};
  }
  // The user messages of a page (a business's log also has the chat's notice).
  static std::vector<const hosting::EventRow*> Messages(const LogPage& page) {
    std::vector<const hosting::EventRow*> out;
    for (const auto& e : page.events) {
      if (e.kind == hosting::EventKind::kMessage) out.push_back(&e);
    }
    return out;
  }
  static std::vector<int64_t> Positions(const LogPage& page) {
    std::vector<int64_t> out;
    for (const auto& e : page.events) out.push_back(e.position);
    return out;
  }

  pqxx::connection conn_;
  hosting::HostingOptions options_;
  hosting::KeyRing keys_{hosting::MasterKey::Generate(), {}};
  hosting::UserChats chats_{options_, &keys_};
};

TEST_F(ReadLogsTest, ReadsEachEndpointsPageInOneStatementAndOnlyWhileDriven) {
  std::string shop = NewBusiness("Toko");
  std::string cafe = NewBusiness("Warung");
  std::string first = NewEndpoint(shop);
  std::string second = NewEndpoint(shop);
  std::string third = NewEndpoint(cafe);
  Send(shop, 3);
  Send(cafe, 2);
  std::string holder = TimeOrderedUuid();
  auto held = Claim(holder);
  ASSERT_EQ(held.size(), 3u);
  std::map<std::string, LeasedEndpoint> by_id;
  for (const auto& e : held) by_id[e.endpoint_id] = e;

  // Two endpoints of one business each get their own page; a page can stop short of the log.
  LeasedEndpoint stranger = by_id[third];
  stranger.endpoint_id = TimeOrderedUuid();  // no such endpoint: not driven, nothing read
  auto pages = Read(holder, {ReadOf(by_id[first], 0, 2), ReadOf(by_id[second], 0, 100),
                             ReadOf(by_id[third], 0, 100), ReadOf(stranger, 0, 100)});
  ASSERT_EQ(pages.size(), 4u);
  EXPECT_TRUE(pages[0].driven);
  EXPECT_EQ(pages[0].read, 2);
  ASSERT_EQ(pages[0].events.size(), 2u);
  EXPECT_EQ(pages[0].last_read, pages[0].events[1].position);
  EXPECT_TRUE(pages[1].driven);
  EXPECT_EQ(pages[1].read, static_cast<int>(pages[1].events.size()));
  auto shop_messages = Messages(pages[1]);
  ASSERT_EQ(shop_messages.size(), 3u);
  EXPECT_EQ(Positions(pages[1])[0], Positions(pages[0])[0]);
  EXPECT_EQ(Positions(pages[1])[1], Positions(pages[0])[1]);
  for (const auto& e : pages[1].events) EXPECT_EQ(e.business_id, shop);
  for (const auto* e : shop_messages) {
    EXPECT_EQ(e->message.direction, hosting::Direction::kUserToBusiness);
    EXPECT_FALSE(e->message.may_have_media);  // so opening them costs no media query
  }
  EXPECT_TRUE(pages[2].driven);
  EXPECT_EQ(Messages(pages[2]).size(), 2u);
  for (const auto& e : pages[2].events) EXPECT_EQ(e.business_id, cafe);
  EXPECT_FALSE(pages[3].driven);
  EXPECT_TRUE(pages[3].events.empty());
  EXPECT_EQ(pages[3].read, 0);
  EXPECT_EQ(pages[3].last_read, 0);

  // After the last event: driven, nothing read, the position kept.
  int64_t end = pages[1].last_read;
  pages = Read(holder, {ReadOf(by_id[second], end, 100)});
  EXPECT_TRUE(pages[0].driven);
  EXPECT_EQ(pages[0].read, 0);
  EXPECT_EQ(pages[0].last_read, end);

  // Another instance, a changed endpoint (new generation) and a disabled one are not driven.
  pages = Read(TimeOrderedUuid(), {ReadOf(by_id[first], 0, 100)});
  EXPECT_FALSE(pages[0].driven);
  EXPECT_TRUE(pages[0].events.empty());
  {
    pqxx::work tx(conn_);
    ASSERT_TRUE(WebhookRepository::Update(tx, shop, first, "https://hooks.example/moved",
                                          std::nullopt, std::nullopt));
    ASSERT_TRUE(WebhookRepository::Update(tx, cafe, third, std::nullopt, std::nullopt, false));
    tx.commit();
  }
  pages = Read(holder, {ReadOf(by_id[first], 0, 100), ReadOf(by_id[second], 0, 100),
                        ReadOf(by_id[third], 0, 100)});
  EXPECT_FALSE(pages[0].driven);
  EXPECT_TRUE(pages[1].driven);
  EXPECT_EQ(Messages(pages[1]).size(), 3u);
  EXPECT_FALSE(pages[2].driven);
  EXPECT_TRUE(pages[2].events.empty());
}

}  // namespace
}  // namespace bizrelay::webhooks
