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
