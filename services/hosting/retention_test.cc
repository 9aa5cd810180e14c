// Retention, encryption at rest and crypto-shredding against a real PostgreSQL.
#include <gtest/gtest.h>

#include <thread>

#include "services/account/accounts.h"
#include "services/hosting/chats.h"
#include "services/hosting/event_repository.h"
#include "services/hosting/message_repository.h"
#include "services/hosting/sweeper.h"
#include "services/operator/business_admin.h"
#include "services/platform/error.h"
#include "services/platform/token.h"
#include "services/store/migrator.h"
#include "services/store/testing/test_postgres.h"

namespace bizrelay::hosting {
namespace {

using namespace std::chrono_literals;

class RetentionTest : public ::testing::Test {
 protected:
  RetentionTest() : conninfo_(store::testing::FreshDatabase()), conn_(conninfo_) {
    store::ApplySchema(conn_);
    options_.min_lifetime_seconds = 1;
    options_.max_lifetime_seconds = 86400;
    options_.default_lifetime_seconds = 3600;
    options_.no_storage_grace_seconds = 1;
    biz_ = NewBusiness("Toko");
    user_ = NewUser();
    conv_ = Start(biz_);
  }

  std::string NewBusiness(const std::string& name) {
    pqxx::work tx(conn_);
    auto id = operator_api::BusinessAdmin::Create(tx, {name, "", ""}).business.business_id;
    tx.commit();
    return id;
  }
  std::pair<std::string, std::string> NewUser() {
    pqxx::work tx(conn_);
    auto reg = account::Accounts::Register(tx, "Siti");
    tx.commit();
    return {reg.user.user_id, reg.token};
  }
  std::string Start(const std::string& biz) {
    pqxx::work tx(conn_);
    auto v = chats_.Disclosure(tx, biz).terms.version;
    auto conv = chats_.StartChat(tx, user_.first, biz, v);
    tx.commit();
    return conv;
  }
  std::string Send(const std::string& text, const std::string& biz = "") {
    std::string b = biz.empty() ? biz_ : biz;
    pqxx::work tx(conn_);
    auto r = MessageRepository::PostUserMessages(
        tx, {{Sha256(user_.second), b, ToHex(RandomBytes(8)), text, RequestHash({b, text})}}, keys_,
        options_.default_lifetime_seconds);
    tx.commit();
    EXPECT_EQ(r[0].outcome, PostOutcome::kStored);
    return r[0].message.message_id;
  }
  // Seconds from creation to expiry of a stored message.
  double LifetimeOf(const std::string& message_id) {
    pqxx::read_transaction tx(conn_);
    return tx
        .exec_params1(
            "SELECT extract(epoch from expires_at - created_at)::float8 "
            "FROM hosting.messages WHERE message_id = $1::uuid",
            message_id)[0]
        .as<double>();
  }
  std::vector<std::string> History(const std::string& conv, const std::string& biz = "") {
    pqxx::read_transaction tx(conn_);
    std::vector<std::string> texts;
    for (const auto& m : desk_.ListMessages(tx, biz.empty() ? biz_ : biz, conv, 100, "").items) {
      texts.push_back(m.text);
    }
    return texts;
  }
  int Rows(const char* sql) {
    pqxx::read_transaction tx(conn_);
    return tx.exec1(sql)[0].as<int>();
  }
  std::pair<DisclosureView, int> SetRule(RetentionRule rule) {
    pqxx::work tx(conn_);
    auto r = desk_.SetRetention(tx, biz_, rule);
    tx.commit();
    return r;
  }

  std::string conninfo_;
  pqxx::connection conn_;
  HostingOptions options_;
  KeyRing keys_{MasterKey::Generate(), {}};
  UserChats chats_{options_, &keys_};
  BusinessDesk desk_{options_, &keys_};
  std::string biz_;
  std::pair<std::string, std::string> user_;
  std::string conv_;
};

TEST_F(RetentionTest, RulesOutsideTheOperatorsBoundsAreRefused) {
  for (int64_t bad : {int64_t{0} - 5, int64_t{86401}}) {
    try {
      SetRule({bad, false, {}});
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_EQ(e.reason(), "RETENTION_OUT_OF_BOUNDS");
      EXPECT_EQ(e.metadata().at("min_seconds"), "1");
      EXPECT_EQ(e.metadata().at("max_seconds"), "86400");
    }
  }
  EXPECT_THROW(SetRule({60, false, {{"orders", 999999}}}), Error);
  EXPECT_THROW(SetRule({60, false, {{"Bad Label", 60}}}), Error);
  EXPECT_THROW(SetRule({60, false, {{"a", 60}, {"a", 70}}}), Error);
}

TEST_F(RetentionTest, ExpiryIsFixedAtWriteByDefaultAndLabelRules) {
  EXPECT_NEAR(LifetimeOf(Send("default")), 3600, 1);
  SetRule({7200, false, {{"orders", 600}}});
  EXPECT_NEAR(LifetimeOf(Send("custom default")), 7200, 1);
  {
    pqxx::work tx(conn_);
    desk_.LabelConversation(tx, biz_, conv_, "orders");
    tx.commit();
  }
  EXPECT_NEAR(LifetimeOf(Send("order chat")), 600, 1);
}

TEST_F(RetentionTest, ShorteningAppliesToStoredMessagesLengtheningNever) {
  std::string old_msg = Send("stored under 3600");
  auto [view, notified] = SetRule({120, false, {}});
  EXPECT_EQ(notified, 1);  // the open chat is told
  EXPECT_EQ(view.terms.lifetime_seconds, 120);
  EXPECT_NE(view.summary.find("2 minutes"), std::string::npos);
  EXPECT_NEAR(LifetimeOf(old_msg), 120, 1);
  SetRule({7200, false, {}});
  EXPECT_NEAR(LifetimeOf(old_msg), 120, 1);  // never extended
  EXPECT_NEAR(LifetimeOf(Send("new")), 7200, 1);
  // A label with a shorter rule shortens what the conversation holds.
  SetRule({7200, false, {{"support", 60}}});
  {
    pqxx::work tx(conn_);
    desk_.LabelConversation(tx, biz_, conv_, "support");
    tx.commit();
  }
  EXPECT_NEAR(LifetimeOf(old_msg), 60, 1);
}

TEST_F(RetentionTest, ExpiredMessagesAreInvisibleBeforeTheyAreDeleted) {
  Send("keep");
  SetRule({1, false, {}});
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(Rows("SELECT count(*) FROM hosting.messages"), 1);  // still stored...
  EXPECT_TRUE(History(conv_).empty());                          // ...but never read
  pqxx::read_transaction tx(conn_);
  auto events = EventRepository::Events(tx, biz_, 0, 100, 3600);
  for (const auto& e : events) EXPECT_NE(e.kind, EventKind::kMessage);
}

TEST_F(RetentionTest, NoStorageKeepsMessagesOnlyUntilAcknowledgedPlusGrace) {
  SetRule({3600, true, {}});
  std::string id = Send("ephemeral");
  EXPECT_NEAR(LifetimeOf(id), 3600, 1);
  pqxx::work tx(conn_);
  desk_.Acknowledge(tx, biz_, 1000);
  tx.commit();
  EXPECT_LT(LifetimeOf(id), 5);
  std::this_thread::sleep_for(1200ms);
  EXPECT_TRUE(History(conv_).empty());
}

TEST_F(RetentionTest, SeveralSweepersDeleteEveryExpiredRowOnce) {
  for (int i = 0; i < 300; ++i) Send("m" + std::to_string(i));
  std::string keep = NewBusiness("Keep");
  Start(keep);
  Send("not expired", keep);
  SetRule({1, false, {}});
  std::this_thread::sleep_for(1200ms);
  std::atomic<int64_t> deleted = 0;
  std::vector<std::thread> sweepers;
  for (int i = 0; i < 4; ++i) {
    sweepers.emplace_back(
        [&] { deleted += Sweeper::SweepOnce(conninfo_, 25, 86400).deleted_messages; });
  }
  for (auto& t : sweepers) t.join();
  EXPECT_EQ(deleted.load(), 300);
  EXPECT_EQ(Rows("SELECT count(*) FROM hosting.messages"), 1);
  EXPECT_EQ(Rows("SELECT count(*) FROM hosting.events WHERE kind = 1"), 1);
  auto report = Sweeper::SweepOnce(conninfo_, 25, 86400);
  EXPECT_EQ(report.deleted_messages, 0);
  EXPECT_EQ(report.lag_seconds, 0);
}

// Messages and events carry no foreign keys (writers insert them only for rows they hold);
// deleting a business must still take everything of its chats with it, and nothing else.
TEST_F(RetentionTest, DeletingABusinessTakesItsChatsMessagesAndEventsAlong) {
  std::string other = NewBusiness("Other");
  std::string other_conv = Start(other);
  for (int i = 0; i < 3; ++i) Send("to toko " + std::to_string(i));
  Send("to other", other);
  auto count_of = [&](const std::string& conv) {
    pqxx::read_transaction tx(conn_);
    auto r = tx.exec_params1(
        "SELECT (SELECT count(*) FROM hosting.messages WHERE conversation_id = $1::uuid), "
        "(SELECT count(*) FROM hosting.events WHERE conversation_id = $1::uuid)",
        conv);
    return std::make_tuple(r[0].as<int>(), r[1].as<int>());
  };
  EXPECT_EQ(count_of(conv_), std::make_tuple(3, 4));  // 3 messages; 3 events + chat started
  {
    pqxx::work tx(conn_);
    tx.exec_params0("DELETE FROM core.businesses WHERE business_id = $1::uuid", biz_);
    tx.commit();
  }
  EXPECT_EQ(count_of(conv_), std::make_tuple(0, 0));
  EXPECT_EQ(Rows("SELECT count(*) FROM hosting.conversations"), 1);
  EXPECT_EQ(count_of(other_conv), std::make_tuple(1, 2));
  EXPECT_EQ(History(other_conv, other), (std::vector<std::string>{"to other"}));
}

TEST_F(RetentionTest, BodiesAreSealedAndBoundToTheirRow) {
  std::string a = Send("rahasia dagang");
  std::string b = Send("lainnya");
  EXPECT_EQ(Rows("SELECT count(*) FROM hosting.messages "
                 "WHERE position(convert_to('rahasia', 'UTF8') in body) > 0"),
            0);
  // Moving a sealed body onto another row makes it unreadable there.
  {
    pqxx::work tx(conn_);
    tx.exec_params0(
        "UPDATE hosting.messages SET body = (SELECT body FROM hosting.messages "
        "WHERE message_id = $1::uuid) WHERE message_id = $2::uuid",
        a, b);
    tx.commit();
  }
  EXPECT_EQ(History(conv_), (std::vector<std::string>{"rahasia dagang"}));
}

TEST_F(RetentionTest, MasterKeyRotationRewrapsWithoutRewritingMessages) {
  MasterKey old_master = MasterKey::Generate();
  KeyRing old_ring(old_master, {});
  pqxx::work tx(conn_);
  auto key = old_ring.DataKey(tx, biz_, true);
  std::string sealed = KeyRing::SealBody(*key, biz_, "c", "m", "hello");
  MasterKey new_master = MasterKey::Generate();
  KeyRing rotated(new_master, {old_master});
  EXPECT_EQ(rotated.RewrapAll(tx), 1);
  EXPECT_EQ(rotated.RewrapAll(tx), 0);
  KeyRing only_new(new_master, {});
  EXPECT_EQ(KeyRing::OpenBody(*only_new.DataKey(tx, biz_, false), biz_, "c", "m", sealed), "hello");
  KeyRing only_old(old_master, {});
  EXPECT_THROW(only_old.DataKey(tx, biz_, false), std::runtime_error);
}

TEST_F(RetentionTest, OffboardingShredsAtOnceAndTheSweeperRemovesTheRows) {
  std::string other = NewBusiness("Other");
  std::string other_conv = Start(other);
  Send("to toko");
  Send("to other", other);
  {
    pqxx::work tx(conn_);
    OffboardBusiness(tx, keys_, biz_);
    OffboardBusiness(tx, keys_, biz_);  // idempotent
    tx.commit();
  }
  EXPECT_TRUE(History(conv_).empty());
  EXPECT_EQ(Rows("SELECT count(*) FROM hosting.business_keys"), 1);
  // Even a process that still had the key cached cannot read it: the rows are gated on the key.
  KeyRing fresh(MasterKey::Generate(), {});
  pqxx::read_transaction rtx(conn_);
  EXPECT_FALSE(fresh.DataKey(rtx, biz_, false).has_value());
  rtx.abort();
  Sweeper::SweepOnce(conninfo_, 100, 86400);
  EXPECT_EQ(Rows("SELECT count(*) FROM hosting.messages"), 1);
  EXPECT_EQ(History(other_conv, other), (std::vector<std::string>{"to other"}));
  // The business's key no longer works.
  pqxx::read_transaction t2(conn_);
  EXPECT_EQ(t2.exec_params1("SELECT count(*) FROM core.credentials WHERE principal_id = $1::uuid "
                            "AND revoked_at IS NULL",
                            biz_)[0]
                .as<int>(),
            0);
}

}  // namespace
}  // namespace bizrelay::hosting
