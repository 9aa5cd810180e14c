#include "services/store/migrator.h"

#include <gtest/gtest.h>

#include <thread>

#include "services/store/durability.h"
#include "services/store/testing/test_postgres.h"

namespace bizrelay::store {
namespace {

TEST(MigratorTest, ConcurrentStartsApplyEachFileOnce) {
  auto conninfo = testing::FreshDatabase();
  std::atomic<int> migrations = 0;
  std::atomic<int> functions = 0;
  std::vector<std::thread> starters;
  for (int i = 0; i < 4; ++i) {
    starters.emplace_back([&] {
      pqxx::connection c(conninfo);
      auto changes = ApplySchema(c);
      migrations += changes.migrations;
      functions += changes.functions;
    });
  }
  for (auto& t : starters) t.join();
  EXPECT_EQ(migrations.load(), static_cast<int>(migration_files().size()));
  EXPECT_EQ(functions.load(), static_cast<int>(function_files().size()));

  pqxx::connection c(conninfo);
  {
    pqxx::nontransaction tx(c);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM public.bizrelay_migrations")[0].as<size_t>(),
              migration_files().size());
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM public.bizrelay_functions")[0].as<size_t>(),
              function_files().size());
  }
  // Applying again is a no-op: no migration runs, no unchanged function is replaced.
  auto again = ApplySchema(c);
  EXPECT_EQ(again.migrations, 0);
  EXPECT_EQ(again.functions, 0);
}

TEST(MigratorTest, FailedMigrationLeavesNothingBehind) {
  auto conninfo = testing::FreshDatabase();
  pqxx::connection c(conninfo);
  std::vector<EmbeddedSql> files = {
      {"0001_ok.sql", "CREATE TABLE a (x int);"},
      {"0002_bad.sql", "CREATE TABLE b (x int); SELECT no_such_function();"}};
  EXPECT_THROW(ApplySchema(c, files, {}), pqxx::sql_error);
  pqxx::nontransaction tx(c);
  EXPECT_TRUE(tx.exec("SELECT 1 FROM pg_tables WHERE tablename = 'b'").empty());
  EXPECT_FALSE(tx.exec("SELECT 1 FROM pg_tables WHERE tablename = 'a'").empty());
  // The lock was released: another session can migrate.
  pqxx::connection other(conninfo);
  EXPECT_EQ(ApplySchema(other, {files[0]}, {}).migrations, 0);
}

std::string FunctionBody(pqxx::connection& c, const std::string& name) {
  pqxx::nontransaction tx(c);
  return tx.exec_params1("SELECT prosrc FROM pg_proc WHERE proname = $1", name)[0]
      .as<std::string>();
}

TEST(MigratorTest, OnlyNewOrChangedFunctionFilesAreApplied) {
  pqxx::connection c(testing::FreshDatabase());
  std::vector<EmbeddedSql> migrations = {{"0001_t.sql", "CREATE TABLE t (x int);"}};
  std::vector<EmbeddedSql> v1 = {
      {"a/one.sql", "CREATE OR REPLACE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 1';"},
      {"a/two.sql", "CREATE OR REPLACE FUNCTION two() RETURNS int LANGUAGE sql AS 'SELECT 2';"}};
  EXPECT_EQ(ApplySchema(c, migrations, v1).functions, 2);
  EXPECT_EQ(ApplySchema(c, migrations, v1).functions, 0);

  auto v2 = v1;
  v2[1].text = "CREATE OR REPLACE FUNCTION two() RETURNS int LANGUAGE sql AS 'SELECT 22';";
  EXPECT_EQ(ApplySchema(c, migrations, v2).functions, 1);
  EXPECT_EQ(FunctionBody(c, "two"), "SELECT 22");
  EXPECT_EQ(FunctionBody(c, "one"), "SELECT 1");

  // A bad file keeps the previous set whole, including files that came before it, and the
  // lock is released.
  auto v3 = v2;
  v3[0].text = "CREATE OR REPLACE FUNCTION one() RETURNS int LANGUAGE sql AS 'SELECT 11';";
  v3[1].text = "CREATE OR REPLACE FUNCTION two() RETURNS int LANGUAGE sql AS 'SELECT nope';";
  EXPECT_THROW(ApplySchema(c, migrations, v3), pqxx::sql_error);
  EXPECT_EQ(FunctionBody(c, "one"), "SELECT 1");
  EXPECT_EQ(FunctionBody(c, "two"), "SELECT 22");
  EXPECT_EQ(ApplySchema(c, migrations, v2).functions, 0);
}

TEST(MigratorTest, UnknownMigrationIsRefused) {
  pqxx::connection c(testing::FreshDatabase());
  ApplySchema(
      c, {{"0001_t.sql", "CREATE TABLE t (x int);"}, {"0002_u.sql", "CREATE TABLE u (x int);"}},
      {});
  // A binary that knows only the first file (an older release) leaves the schema alone.
  EXPECT_THROW(ApplySchema(c, {{"0001_t.sql", "CREATE TABLE t (x int);"}}, {}), std::runtime_error);
}

// Every object of the three schemas as one sorted list of lines: columns, constraints,
// indexes, functions (with their bodies, settings and volatility), triggers and privileges.
std::vector<std::string> SchemaSummary(pqxx::connection& c) {
  constexpr const char* kSummary = R"sql(
    WITH s AS (SELECT oid FROM pg_namespace WHERE nspname IN ('core', 'hosting', 'personal'))
    SELECT line FROM (
      -- Columns in their order (not by attribute number, which counts dropped columns too).
      SELECT format('column %s.%s.%s %s %s %s %s', table_schema, table_name, column_name,
                    data_type, column_default, is_nullable,
                    row_number() OVER (PARTITION BY table_schema, table_name
                                       ORDER BY ordinal_position)) AS line
      FROM information_schema.columns WHERE table_schema IN ('core', 'hosting', 'personal')
      UNION ALL
      SELECT format('constraint %s %s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
      FROM pg_constraint WHERE connamespace IN (SELECT oid FROM s)
      UNION ALL
      SELECT format('index %s', indexdef) FROM pg_indexes
      WHERE schemaname IN ('core', 'hosting', 'personal')
      UNION ALL
      SELECT format('function %s %s %s %s %s %s', oid::regprocedure, md5(prosrc), proconfig,
                    provolatile, prosecdef, proacl)
      FROM pg_proc WHERE pronamespace IN (SELECT oid FROM s)
      UNION ALL
      SELECT format('trigger %s', pg_get_triggerdef(oid)) FROM pg_trigger
      WHERE NOT tgisinternal AND tgrelid IN (SELECT oid FROM pg_class
                                             WHERE relnamespace IN (SELECT oid FROM s))
      UNION ALL
      SELECT format('relation %s %s %s %s', oid::regclass, relkind, relacl, reloptions)
      FROM pg_class WHERE relnamespace IN (SELECT oid FROM s)
      UNION ALL
      SELECT format('schema %s %s', nspname, nspacl) FROM pg_namespace
      WHERE oid IN (SELECT oid FROM s)) lines
    ORDER BY line)sql";
  pqxx::nontransaction tx(c);
  std::vector<std::string> lines;
  for (const auto& r : tx.exec(kSummary)) lines.push_back(r[0].as<std::string>());
  return lines;
}

TEST(MigratorTest, DatabaseOfTheLegacyHistoryKeepsItsDataAndMatchesAFreshOne) {
  // A database as the binaries before the baseline left it: their migrations, recorded by name,
  // and data written through their functions.
  pqxx::connection old_db(testing::FreshDatabase());
  ApplySchema(old_db, testing::legacy_migration_files(), {});
  constexpr const char* kBusiness = "00000000-0000-4000-8000-00000000000b";
  constexpr const char* kUser = "00000000-0000-4000-8000-00000000000a";
  {
    pqxx::work tx(old_db);
    tx.exec_params0("INSERT INTO core.businesses (business_id, display_name) VALUES ($1, 'Shop')",
                    kBusiness);
    tx.exec_params0("INSERT INTO core.users (user_id, display_name) VALUES ($1, 'Ann')", kUser);
    tx.exec_params0(
        "INSERT INTO core.credentials (token_hash, kind, principal_id) "
        "VALUES (sha256('user-token'), 1, $1)",
        kUser);
    tx.exec_params0("INSERT INTO core.data_sharing_opt_outs (user_id) VALUES ($1)", kUser);
    tx.exec_params0(
        "INSERT INTO hosting.conversations (business_id, user_id, state, consent_version) "
        "VALUES ($1, $2, 1, 1)",
        kBusiness, kUser);
    auto conversation = tx.exec_params1(
                              "SELECT conversation_id FROM hosting.prepare_user_sends("
                              "ARRAY[sha256('user-token')], ARRAY[$1::uuid])",
                              kBusiness)[0]
                            .as<std::string>();
    auto stored = tx.exec_params(
        "SELECT outcome FROM hosting.post_user_messages(ARRAY[$1, $1]::uuid[], "
        "ARRAY[$2, $2]::uuid[], ARRAY[gen_random_uuid(), gen_random_uuid()], "
        "ARRAY['k1', 'k2'], ARRAY['0a0b0c', 'ff00ff'], ARRAY['01', '02'], 3600)",
        conversation, kBusiness);
    ASSERT_EQ(stored.size(), 2u);
    for (const auto& r : stored) ASSERT_EQ(r[0].as<int>(), 0);
    tx.commit();
  }

  // The new binary starts on it: the baseline does not run again (only the migrations after
  // it do), every function file is recorded, and the data reads back.
  auto changes = ApplySchema(old_db);
  EXPECT_EQ(changes.migrations, static_cast<int>(migration_files().size()) - 1);
  EXPECT_EQ(changes.functions, static_cast<int>(function_files().size()));
  {
    pqxx::nontransaction tx(old_db);
    std::vector<std::string> bodies;
    for (const auto& r :
         tx.exec_params("SELECT encode(body, 'hex') FROM hosting.read_events($1, 0, 10, 3600) "
                        "ORDER BY event_position",
                        kBusiness)) {
      bodies.push_back(r[0].as<std::string>());
    }
    EXPECT_EQ(bodies, (std::vector<std::string>{"0a0b0c", "ff00ff"}));
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM core.data_sharing_opt_outs")[0].as<int>(), 1);
    auto recorded = tx.exec("SELECT name FROM public.bizrelay_migrations ORDER BY name");
    ASSERT_EQ(recorded.size(), migration_files().size());
    EXPECT_EQ(recorded[0][0].as<std::string>(), migration_files().front().name);
  }
  EXPECT_EQ(ApplySchema(old_db).functions, 0);

  // And its schema is exactly the one a new database gets.
  pqxx::connection new_db(testing::FreshDatabase());
  ApplySchema(new_db);
  auto upgraded = SchemaSummary(old_db);
  auto fresh = SchemaSummary(new_db);
  EXPECT_GT(fresh.size(), 100u);
  EXPECT_EQ(upgraded, fresh);
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
  ApplySchema(c);
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
