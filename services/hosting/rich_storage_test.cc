// Rich content against a real PostgreSQL: rows written before migration 0005 (plain text
// bodies, the only form there was) read exactly as before once it is applied.
#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "services/account/accounts.h"
#include "services/account/data_rights.h"
#include "services/hosting/chats.h"
#include "services/hosting/message_repository.h"
#include "services/operator/business_admin.h"
#include "services/platform/token.h"
#include "services/store/embedded_sql.h"
#include "services/store/migrator.h"
#include "services/store/testing/test_postgres.h"

namespace bizrelay::hosting {
namespace {

TEST(RichStorageTest, TextRowsWrittenBeforeTheRichContentMigrationStillRead) {
  pqxx::connection conn(store::testing::FreshDatabase());
  std::vector<EmbeddedSql> before;
  for (const auto& m : store::migration_files()) {
    if (std::strcmp(m.name, "0005") < 0) before.push_back(m);
  }
  ASSERT_LT(before.size(), store::migration_files().size());
  store::ApplySchema(conn, before, store::function_files());

  HostingOptions options;
  KeyRing keys(MasterKey::Generate(), {});
  UserChats chats(options, &keys);
  BusinessDesk desk(options, &keys);
  std::string business, user, token, conversation;
  {
    pqxx::work tx(conn);
    business = operator_api::BusinessAdmin::Create(tx, {"Toko", "", ""}).business.business_id;
    auto reg = account::Accounts::Register(tx, "Siti");
    user = reg.user.user_id;
    token = reg.token;
    conversation = chats.StartChat(tx, user, business, 1);
    tx.commit();
  }
  {
    // A user message by the group-commit path and a business reply, both plain text: what
    // every row before 0005 holds (the body sealed as the text itself).
    pqxx::work tx(conn);
    auto posted = MessageRepository::PostUserMessages(
        tx,
        {{Sha256(token), business, "k1", "Halo, kue bolu masih ada?",
          RequestHash({business, "Halo, kue bolu masih ada?"})}},
        keys, 3600);
    ASSERT_EQ(posted[0].outcome, PostOutcome::kStored);
    desk.SendReply(tx, business, {conversation, "Masih, kak!", "", {}, "r1"});
    tx.commit();
  }
  auto changes = store::ApplySchema(conn);
  EXPECT_EQ(changes.migrations, static_cast<int>(store::migration_files().size() - before.size()));

  pqxx::work tx(conn);
  std::string reply_id;
  for (const auto& page : {chats.ListMessages(tx, user, conversation, 0, ""),
                           desk.ListMessages(tx, business, conversation, 0, "")}) {
    ASSERT_EQ(page.items.size(), 2u);
    EXPECT_EQ(page.items[0].text, "Halo, kue bolu masih ada?");
    EXPECT_EQ(page.items[1].text, "Masih, kak!");
    reply_id = page.items[1].message_id;
    for (const auto& m : page.items) {
      EXPECT_TRUE(m.content.empty());
      EXPECT_TRUE(m.reply_to_message_id.empty());
      EXPECT_TRUE(m.reactions.empty());
    }
  }
  auto events = EventRepository::Events(tx, business, 0, 100, 3600);
  OpenBodies(tx, keys, &events);
  ASSERT_EQ(events.size(), 2u);  // chat started, the message
  EXPECT_EQ(events[1].message.text, "Halo, kue bolu masih ada?");
  auto doc = nlohmann::json::parse(account::DataRights::Export(tx, keys, user, 3600));
  EXPECT_EQ(doc["chats"][0]["messages"][0]["text"], "Halo, kue bolu masih ada?");
  EXPECT_TRUE(doc["chats"][0]["messages"][0]["content"].is_null());

  // And an old row takes a reaction like a new one.
  EXPECT_EQ(chats.React(tx, user, conversation, reply_id, "👍").emoji, "👍");
  auto again = chats.ListMessages(tx, user, conversation, 0, "");
  ASSERT_EQ(again.items[1].reactions.size(), 1u);
  EXPECT_EQ(again.items[1].reactions[0].emoji, "👍");
  EXPECT_EQ(again.items[1].reactions[0].party, Party::kUser);
}

}  // namespace
}  // namespace bizrelay::hosting
