#include "services/store/migrator.h"

#include <gtest/gtest.h>

#include <thread>

#include "services/store/durability.h"
#include "services/store/testing/test_postgres.h"

namespace bizrelay::store {
namespace {

TEST(MigratorTest, ConcurrentStartsApplyEachFileOnce) {
  auto conninfo = testing::FreshDatabase();
  std::atomic<int> applied = 0;
  std::vector<std::thread> starters;
  for (int i = 0; i < 4; ++i) {
    starters.emplace_back([&] {
      pqxx::connection c(conninfo);
      applied += ApplyMigrations(c, migration_files());
    });
  }
  for (auto& t : starters) t.join();
  EXPECT_EQ(applied.load(), static_cast<int>(migration_files().size()));

  pqxx::connection c(conninfo);
  {
    pqxx::nontransaction tx(c);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM public.bizrelay_migrations")[0].as<size_t>(),
              migration_files().size());
  }
  // Applying again is a no-op.
  EXPECT_EQ(ApplyMigrations(c, migration_files()), 0);
}

TEST(MigratorTest, FailedMigrationLeavesNothingBehind) {
  auto conninfo = testing::FreshDatabase();
  pqxx::connection c(conninfo);
  std::vector<EmbeddedSql> files = {
      {"0001_ok.sql", "CREATE TABLE a (x int);"},
      {"0002_bad.sql", "CREATE TABLE b (x int); SELECT no_such_function();"}};
  EXPECT_THROW(ApplyMigrations(c, files), pqxx::sql_error);
  pqxx::nontransaction tx(c);
  EXPECT_TRUE(tx.exec("SELECT 1 FROM pg_tables WHERE tablename = 'b'").empty());
  EXPECT_FALSE(tx.exec("SELECT 1 FROM pg_tables WHERE tablename = 'a'").empty());
  // The lock was released: another session can migrate.
  pqxx::connection other(conninfo);
  EXPECT_EQ(ApplyMigrations(other, {files[0]}), 0);
}

// Collects the server's notices (here: auto_explain's plans).
class NoticeLog : public pqxx::errorhandler {
 public:
  explicit NoticeLog(pqxx::connection_base& c) : pqxx::errorhandler(c) {}
  bool operator()(const char msg[]) noexcept override {
    text += msg;
    return true;
  }
  std::string text;
};

TEST(MigratorTest, GroupCommitFunctionsNeverReadAWholeTable) {
  // The group-commit functions may be planned on an empty database (sealed sends keep that
  // plan for the connection): every table must be reached through keys of the batch, never by
  // a sequential scan (harmless while the table is empty, ruinous once it has grown), and no
  // plan may start JIT compilation.
  pqxx::connection c(testing::FreshDatabase());
  ApplyMigrations(c, migration_files());
  NoticeLog log(c);
  pqxx::nontransaction tx(c);
  // As after a sweep that emptied the tables: the statistics say they hold nothing.
  tx.exec0("VACUUM ANALYZE");
  for (const char* setting :
       {"LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_nested_statements = on", "SET auto_explain.log_level = notice",
        "SET client_min_messages = notice"}) {
    tx.exec0(setting);
  }
  auto outcomes = [&](const std::string& query) {
    std::vector<int> out;
    for (const auto& r : tx.exec(query)) out.push_back(r[1].as<int>());
    return out;
  };
  EXPECT_EQ(outcomes("SELECT * FROM hosting.prepare_user_sends("
                     "ARRAY[sha256('token')], ARRAY[gen_random_uuid()])"),
            std::vector<int>{2});  // unauthenticated
  EXPECT_EQ(outcomes("SELECT * FROM hosting.post_user_messages(ARRAY[gen_random_uuid()], "
                     "ARRAY[gen_random_uuid()], ARRAY[gen_random_uuid()], ARRAY['key'], "
                     "ARRAY['00'], ARRAY['00'], 60)"),
            std::vector<int>{5});  // no open conversation
  EXPECT_EQ(outcomes("SELECT * FROM personal.post_envelopes(ARRAY[gen_random_uuid()], "
                     "sha256('token'), ARRAY['key'], '\\x00'::bytea, ARRAY[0], ARRAY[1], 30, "
                     "10)"),
            std::vector<int>{3});  // no such mailbox
  // The plans of the statements inside the functions were logged...
  for (const char* node : {"on credentials", "Insert on messages", "Insert on envelopes"}) {
    EXPECT_NE(log.text.find(node), std::string::npos) << node;
  }
  // ...and none reads a table whole or compiles.
  EXPECT_EQ(log.text.find("Seq Scan on"), std::string::npos) << log.text;
  EXPECT_EQ(log.text.find("JIT:"), std::string::npos) << log.text;
  // Every lookup goes by its own key: earlier sends of an idempotency key, a token by its hash
  // and a chat by its business and user, never by reading through a conversation, the tokens
  // in use or a business's chats.
  for (const char* index : {"messages_idempotency on messages", "credentials_pkey on credentials",
                            "conversations_by_pair on conversations"}) {
    EXPECT_NE(log.text.find(index), std::string::npos) << index << "\n" << log.text;
  }
  for (const char* index : {"messages_conversation_id_seq_key", "credentials_principal",
                            "conversations_by_activity", "conversations_by_user"}) {
    EXPECT_EQ(log.text.find(index), std::string::npos) << index << "\n" << log.text;
  }
}

TEST(DurabilityTest, AcceptsSafeServerAndRefusesUnsafeSession) {
  pqxx::connection c(testing::FreshDatabase());
  EXPECT_NO_THROW(CheckDurability(c, false));
  {
    pqxx::nontransaction tx(c);
    tx.exec0("SET synchronous_commit = off");
  }
  EXPECT_THROW(CheckDurability(c, false), std::runtime_error);
  EXPECT_NO_THROW(CheckDurability(c, true));
}

}  // namespace
}  // namespace bizrelay::store
