// The hosting rules against a real PostgreSQL: consent, idempotency, the service window,
// statuses, notices, history and isolation.
#include "services/hosting/chats.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "services/account/accounts.h"
#include "services/hosting/conversation_repository.h"
#include "services/hosting/event_repository.h"
#include "services/hosting/message_repository.h"
#include "services/operator/business_admin.h"
#include "services/platform/error.h"
#include "services/platform/token.h"
#include "services/store/migrator.h"
#include "services/store/testing/test_postgres.h"

namespace bizrelay::hosting {
namespace {

struct User {
  std::string id, token;
};

class ChatsTest : public ::testing::Test {
 protected:
  ChatsTest() : conninfo_(store::testing::FreshDatabase()), conn_(conninfo_) {
    store::ApplySchema(conn_);
    options_.service_window = std::chrono::seconds(2);
  }

  std::string NewBusiness(const std::string& name = "Toko") {
    pqxx::work tx(conn_);
    auto created = operator_api::BusinessAdmin::Create(tx, {name, "", ""});
    tx.commit();
    return created.business.business_id;
  }
  User NewUser(const std::string& name = "Siti") {
    pqxx::work tx(conn_);
    auto reg = account::Accounts::Register(tx, name);
    tx.commit();
    return {reg.user.user_id, reg.token};
  }
  std::string Start(const User& u, const std::string& business) {
    pqxx::work tx(conn_);
    auto version = user_chats_.Disclosure(tx, business).terms.version;
    auto conv = user_chats_.StartChat(tx, u.id, business, version);
    tx.commit();
    return conv;
  }
  std::vector<PostResult> Post(const std::vector<PostItem>& items) {
    pqxx::work tx(conn_);
    auto r = MessageRepository::PostUserMessages(tx, items, keys_, 3600);
    tx.commit();
    return r;
  }
  PostItem Item(const User& u, const std::string& business, const std::string& text,
                const std::string& key) {
    return {Sha256(u.token), business, key, text, RequestHash({business, text})};
  }
  std::vector<EventRow> EventsOf(const std::string& owner, int64_t after = 0) {
    pqxx::read_transaction tx(conn_);
    auto events = EventRepository::Events(tx, owner, after, 1000, 3600);
    OpenBodies(tx, keys_, &events);
    return events;
  }
  template <typename F>
  Error ErrorOf(F fn) {
    try {
      pqxx::work tx(conn_);
      fn(tx);
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "expected an error";
    return Error(ErrorCode::kInternal, "NONE", "none");
  }

  std::string conninfo_;
  pqxx::connection conn_;
  HostingOptions options_;
  KeyRing keys_{MasterKey::Generate(), {}};
  UserChats user_chats_{options_, &keys_};
  BusinessDesk desk_{options_, &keys_};
};

TEST_F(ChatsTest, SendingNeedsAStartedChatAndConsentRecordsTheVersionSeen) {
  auto biz = NewBusiness();
  auto u = NewUser();
  EXPECT_EQ(Post({Item(u, biz, "hi", "k1")})[0].outcome, PostOutcome::kNotStarted);

  auto e = ErrorOf([&](auto& tx) { user_chats_.StartChat(tx, u.id, biz, 7); });
  EXPECT_EQ(e.reason(), "DISCLOSURE_CHANGED");
  EXPECT_EQ(e.metadata().at("current_version"), "1");

  std::string conv = Start(u, biz);
  auto r = Post({Item(u, biz, "hi", "k1")});
  ASSERT_EQ(r[0].outcome, PostOutcome::kStored);
  EXPECT_EQ(r[0].message.conversation_id, conv);
  pqxx::read_transaction tx(conn_);
  auto chat = ConversationRepository::ChatOfUserWithBusiness(tx, u.id, biz);
  EXPECT_EQ(chat->consent_version, 1);
  // The business was told the chat started, then got the message.
  tx.abort();
  auto events = EventsOf(biz);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, EventKind::kNotice);
  EXPECT_EQ(events[0].notice, NoticeKind::kChatStarted);
  EXPECT_EQ(events[1].kind, EventKind::kMessage);
  EXPECT_EQ(events[1].message.text, "hi");
}

TEST_F(ChatsTest, RetriesWithTheSameKeyStoreNothingNew) {
  auto biz = NewBusiness();
  auto u = NewUser();
  Start(u, biz);
  auto first = Post({Item(u, biz, "order 1", "key-a"), Item(u, biz, "order 1", "key-a")});
  ASSERT_EQ(first[0].outcome, PostOutcome::kStored);
  ASSERT_EQ(first[1].outcome, PostOutcome::kReplayed);
  EXPECT_EQ(first[1].message.message_id, first[0].message.message_id);
  auto again = Post({Item(u, biz, "order 1", "key-a")});
  EXPECT_EQ(again[0].outcome, PostOutcome::kReplayed);
  EXPECT_EQ(again[0].message.message_id, first[0].message.message_id);
  EXPECT_EQ(Post({Item(u, biz, "order 2", "key-a")})[0].outcome, PostOutcome::kKeyReused);
  pqxx::read_transaction tx(conn_);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM hosting.messages")[0].as<int>(), 1);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM hosting.events WHERE kind = 1")[0].as<int>(), 1);
}

TEST_F(ChatsTest, SendingRecordsTheSendersDayOfActivity) {
  auto biz = NewBusiness();
  auto active = NewUser("Siti");
  auto idle = NewUser("Budi");
  Start(active, biz);
  Start(idle, biz);
  auto day_of = [&](const User& u) {
    pqxx::read_transaction tx(conn_);
    return tx
        .exec_params1(
            "SELECT (current_date - last_active_day) FROM core.users "
            "WHERE user_id = $1::uuid",
            u.id)[0]
        .as<int>();
  };
  {
    pqxx::work tx(conn_);
    tx.exec0("UPDATE core.users SET last_active_day = current_date - 3");
    tx.commit();
  }
  auto r = Post({Item(active, biz, "hi", "k1"), Item(active, biz, "again", "k2")});
  ASSERT_EQ(r[1].outcome, PostOutcome::kStored);
  EXPECT_EQ(day_of(active), 0);
  EXPECT_EQ(day_of(idle), 3);
}

TEST_F(ChatsTest, RevokedTokenAndDisabledBusinessAreRefusedInsideTheBatch) {
  auto biz = NewBusiness();
  auto u = NewUser();
  Start(u, biz);
  PostItem forged = Item(u, biz, "x", "k");
  forged.token_hash = Sha256("bru_forged");
  auto disabled = NewBusiness("Other");
  Start(u, disabled);
  {
    pqxx::work tx(conn_);
    operator_api::BusinessAdmin::Disable(tx, disabled);
    tx.commit();
  }
  auto r = Post({forged, Item(u, biz, "ok", "k2"),
                 Item(u, "00000000-0000-4000-8000-000000000000", "x", "k3"),
                 Item(u, disabled, "x", "k4")});
  EXPECT_EQ(r[0].outcome, PostOutcome::kUnauthenticated);
  EXPECT_EQ(r[1].outcome, PostOutcome::kStored);
  EXPECT_EQ(r[2].outcome, PostOutcome::kUnknownBusiness);
  EXPECT_EQ(r[3].outcome, PostOutcome::kUnknownBusiness);
}

TEST_F(ChatsTest, BusinessCannotReachUsersWhoLeftBlockedOrAreNotItsOwn) {
  auto biz = NewBusiness();
  auto other_biz = NewBusiness("Other");
  auto u = NewUser();
  auto conv = Start(u, biz);
  Post({Item(u, biz, "hello", "k1")});
  BusinessDesk::Reply reply{conv, "thanks", "", {}, "r1"};
  {
    pqxx::work tx(conn_);
    EXPECT_FALSE(desk_.SendReply(tx, biz, reply).replayed);
    tx.commit();
  }
  auto unknown = ErrorOf([&](auto& tx) {
    desk_.SendReply(tx, biz, {"00000000-0000-4000-8000-000000000000", "x", "", {}, "r2"});
  });
  auto foreign = ErrorOf([&](auto& tx) {
    desk_.SendReply(tx, other_biz, {conv, "x", "", {}, "r2"});
  });
  EXPECT_EQ(unknown.code(), ErrorCode::kNotFound);
  EXPECT_EQ(foreign.code(), unknown.code());
  EXPECT_STREQ(foreign.what(), unknown.what());

  {
    pqxx::work tx(conn_);
    EXPECT_EQ(user_chats_.Block(tx, u.id, biz), ChatState::kBlocked);
    tx.commit();
  }
  auto blocked = ErrorOf([&](auto& tx) { desk_.SendReply(tx, biz, {conv, "x", "", {}, "r3"}); });
  EXPECT_EQ(blocked.code(), unknown.code());
  EXPECT_STREQ(blocked.what(), unknown.what());
  // Blocked: the user cannot write either until unblocking.
  EXPECT_EQ(Post({Item(u, biz, "again", "k2")})[0].outcome, PostOutcome::kNotOpen);
  {
    pqxx::work tx(conn_);
    EXPECT_EQ(user_chats_.Unblock(tx, u.id, biz), ChatState::kOpen);
    EXPECT_EQ(user_chats_.Leave(tx, u.id, biz), ChatState::kLeft);
    tx.commit();
  }
  auto left = ErrorOf([&](auto& tx) { desk_.SendReply(tx, biz, {conv, "x", "", {}, "r4"}); });
  EXPECT_EQ(left.code(), unknown.code());
  // Block without a chat: NOT_FOUND.
  EXPECT_EQ(ErrorOf([&](auto& tx) { user_chats_.Block(tx, u.id, other_biz); }).code(),
            ErrorCode::kNotFound);
}

TEST_F(ChatsTest, FreeTextOnlyInsideTheServiceWindowTemplatesAlways) {
  auto biz = NewBusiness();
  auto u = NewUser();
  auto conv = Start(u, biz);
  // The user never wrote: the window is closed.
  EXPECT_EQ(ErrorOf([&](auto& tx) {
              desk_.SendReply(tx, biz, {conv, "hi", "", {}, "r0"});
            }).reason(),
            "OUTSIDE_SERVICE_WINDOW");
  Post({Item(u, biz, "hello", "k1")});
  {
    pqxx::work tx(conn_);
    desk_.SendReply(tx, biz, {conv, "inside", "", {}, "r1"});
    desk_.CreateTemplate(tx, biz, "order_ready", "Order {{order}} is ready");
    tx.commit();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(ErrorOf([&](auto& tx) {
              desk_.SendReply(tx, biz, {conv, "late", "", {}, "r2"});
            }).reason(),
            "OUTSIDE_SERVICE_WINDOW");
  pqxx::work tx(conn_);
  auto sent = desk_.SendReply(tx, biz, {conv, "", "order_ready", {{"order", "42"}}, "r3"});
  EXPECT_EQ(sent.message.text, "Order 42 is ready");
  EXPECT_EQ(sent.message.template_name, "order_ready");
  tx.commit();
  EXPECT_EQ(ErrorOf([&](auto& tx) {
              desk_.SendReply(tx, biz, {conv, "", "no_such_template", {}, "r4"});
            }).code(),
            ErrorCode::kNotFound);
}

TEST_F(ChatsTest, EachAcknowledgementDropsTheEventsUpToItsPosition) {
  auto biz = NewBusiness();
  auto u = NewUser();
  Start(u, biz);
  Post({Item(u, biz, "one", "k1"), Item(u, biz, "two", "k2"), Item(u, biz, "three", "k3")});
  auto events = EventsOf(biz);
  ASSERT_EQ(events.size(), 4u);  // the chat-started notice, then the three messages
  auto stored = [&] {
    pqxx::read_transaction tx(conn_);
    return tx.exec_params1("SELECT count(*) FROM hosting.events WHERE owner_id = $1::uuid", biz)[0]
        .as<int>();
  };
  auto ack = [&](int64_t position) {
    pqxx::work tx(conn_);
    int64_t acked = desk_.Acknowledge(tx, biz, position);
    tx.commit();
    return acked;
  };
  EXPECT_EQ(ack(events[1].position), events[1].position);
  EXPECT_EQ(stored(), 2);
  EXPECT_EQ(ack(events[3].position), events[3].position);
  EXPECT_EQ(stored(), 0);
  // Acknowledging an earlier position again moves nothing and drops nothing.
  Post({Item(u, biz, "four", "k4")});
  EXPECT_EQ(ack(events[1].position), events[3].position);
  EXPECT_EQ(stored(), 1);
}

TEST_F(ChatsTest, AcknowledgeAndReadReachTheSender) {
  auto biz = NewBusiness();
  auto u = NewUser();
  auto conv = Start(u, biz);
  auto sent = Post({Item(u, biz, "one", "k1"), Item(u, biz, "two", "k2")});
  auto biz_events = EventsOf(biz);
  int64_t last = biz_events.back().position;
  {
    pqxx::work tx(conn_);
    EXPECT_EQ(desk_.Acknowledge(tx, biz, last), last);
    tx.commit();
  }
  EXPECT_TRUE(EventsOf(biz).empty());  // acknowledged events are dropped
  // One status change per conversation: its latest message, and every earlier one, delivered.
  auto user_events = EventsOf(u.id);
  ASSERT_EQ(user_events.size(), 1u);
  EXPECT_EQ(user_events[0].kind, EventKind::kStatus);
  EXPECT_EQ(user_events[0].status, MessageStatus::kDelivered);
  EXPECT_EQ(user_events[0].message_id, sent[1].message.message_id);
  {
    pqxx::read_transaction tx(conn_);
    for (const auto& m : desk_.ListMessages(tx, biz, conv, 10, "").items) {
      EXPECT_EQ(m.status, MessageStatus::kDelivered) << m.text;
    }
  }
  {
    pqxx::work tx(conn_);
    EXPECT_EQ(desk_.MarkRead(tx, biz, conv, sent[1].message.message_id), 2);
    EXPECT_EQ(desk_.MarkRead(tx, biz, conv, sent[1].message.message_id), 0);
    tx.commit();
  }
  auto after = EventsOf(u.id, user_events.back().position);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].status, MessageStatus::kRead);

  // The business's reply, acknowledged and read by the user, reaches the business.
  pqxx::work tx(conn_);
  auto reply = desk_.SendReply(tx, biz, {conv, "thanks", "", {}, "r1"});
  tx.commit();
  auto mine = EventsOf(u.id);
  {
    pqxx::work t2(conn_);
    user_chats_.Acknowledge(t2, u.id, mine.back().position);
    EXPECT_EQ(user_chats_.MarkRead(t2, u.id, conv, reply.message.message_id), 1);
    t2.commit();
  }
  auto statuses = EventsOf(biz);
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].status, MessageStatus::kDelivered);
  EXPECT_EQ(statuses[1].status, MessageStatus::kRead);
  EXPECT_EQ(statuses[1].message_id, reply.message.message_id);
}

TEST_F(ChatsTest, ChangedTermsAreAnnouncedAndNeedFreshConsent) {
  auto biz = NewBusiness();
  auto u1 = NewUser("A"), u2 = NewUser("B"), u3 = NewUser("C");
  Start(u1, biz);
  Start(u2, biz);
  {
    pqxx::work tx(conn_);
    user_chats_.Leave(tx, u2.id, biz);
    tx.commit();
  }
  pqxx::work tx(conn_);
  auto [view, notified] =
      desk_.UpdateProfile(tx, biz, {"", "", "", "We share order data with our courier."});
  tx.commit();
  EXPECT_EQ(view.terms.version, 2);
  EXPECT_EQ(notified, 1);
  auto events = EventsOf(u1.id);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].notice, NoticeKind::kTermsChanged);
  EXPECT_EQ(events[0].terms.data_use_statement, "We share order data with our courier.");
  EXPECT_TRUE(EventsOf(u2.id).empty());
  EXPECT_EQ(ErrorOf([&](auto& t) { user_chats_.StartChat(t, u3.id, biz, 1); }).reason(),
            "DISCLOSURE_CHANGED");
  Start(u3, biz);
}

TEST_F(ChatsTest, HistoryPagesInOrderAndIsOwnersOnly) {
  auto biz = NewBusiness();
  auto u = NewUser();
  auto stranger = NewUser("Stranger");
  auto conv = Start(u, biz);
  std::vector<PostItem> items;
  for (int i = 0; i < 7; ++i)
    items.push_back(Item(u, biz, "m" + std::to_string(i), "k" + std::to_string(i)));
  Post(items);
  std::vector<std::string> texts;
  std::string token;
  int pages = 0;
  do {
    pqxx::read_transaction tx(conn_);
    auto page = desk_.ListMessages(tx, biz, conv, 3, token);
    for (const auto& m : page.items) texts.push_back(m.text);
    token = page.next_page_token;
    ++pages;
  } while (!token.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(texts, (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4", "m5", "m6"}));
  EXPECT_EQ(
      ErrorOf([&](auto& tx) { user_chats_.ListMessages(tx, stranger.id, conv, 10, ""); }).code(),
      ErrorCode::kNotFound);
  pqxx::read_transaction tx(conn_);
  EXPECT_EQ(user_chats_.ListMessages(tx, u.id, conv, 0, "").items.size(), 7u);
}

TEST_F(ChatsTest, ConcurrentBatchesKeepPerOwnerOrderWithoutDeadlock) {
  std::vector<std::string> businesses = {NewBusiness("A"), NewBusiness("B"), NewBusiness("C")};
  std::vector<User> users;
  for (int i = 0; i < 12; ++i) {
    users.push_back(NewUser("u" + std::to_string(i)));
    Start(users.back(), businesses[i % 3]);
  }
  std::vector<std::thread> writers;
  std::atomic<int> stored = 0;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      pqxx::connection conn(conninfo_);
      for (int round = 0; round < 20; ++round) {
        std::vector<PostItem> batch;
        for (int i = 0; i < 12; ++i) {
          int k = (i + w) % 12;
          batch.push_back(Item(
              users[k], businesses[k % 3], "x",
              "w" + std::to_string(w) + "r" + std::to_string(round) + "i" + std::to_string(i)));
        }
        pqxx::work tx(conn);
        for (const auto& r : MessageRepository::PostUserMessages(tx, batch, keys_, 3600)) {
          if (r.outcome == PostOutcome::kStored) ++stored;
        }
        tx.commit();
      }
    });
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(stored.load(), 4 * 20 * 12);
  for (const auto& b : businesses) {
    auto events = EventsOf(b);
    ASSERT_EQ(events.size(), 4u + 4 * 20 * 4);  // 4 chat-started notices + messages
    for (size_t i = 0; i < events.size(); ++i) {
      EXPECT_EQ(events[i].position, static_cast<int64_t>(i + 1));
    }
  }
}

}  // namespace
}  // namespace bizrelay::hosting
