#include "services/store/migrator.h"

#include "services/platform/log.h"

namespace bizrelay::store {
namespace {

// Arbitrary, fixed: the advisory lock key that serialises migrations ("bizrelay" in ASCII).
constexpr long long kMigrationLockKey = 0x62697a72656c6179LL;

constexpr const char* kCreateTable = R"sql(
  CREATE TABLE IF NOT EXISTS public.bizrelay_migrations (
    name       text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
  ))sql";

}  // namespace

int ApplyMigrations(pqxx::connection& conn, const std::vector<EmbeddedSql>& files) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
  }
  int applied = 0;
  try {
    {
      pqxx::work tx(conn);
      tx.exec0(kCreateTable);
      tx.commit();
    }
    for (const auto& file : files) {
      pqxx::work tx(conn);
      auto done =
          tx.exec_params("SELECT 1 FROM public.bizrelay_migrations WHERE name = $1", file.name);
      if (!done.empty()) continue;
      tx.exec0(file.text);
      tx.exec_params0("INSERT INTO public.bizrelay_migrations (name) VALUES ($1)", file.name);
      tx.commit();
      spdlog::info("event=migration_applied name={}", file.name);
      ++applied;
    }
  } catch (...) {
    pqxx::nontransaction tx(conn);
    tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    throw;
  }
  pqxx::nontransaction tx(conn);
  tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
  return applied;
}

}  // namespace bizrelay::store
