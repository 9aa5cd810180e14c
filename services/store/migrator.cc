#include "services/store/migrator.h"

#include <set>
#include <stdexcept>
#include <string>

#include "services/platform/log.h"
#include "services/store/sql_array.h"

namespace bizrelay::store {
namespace {

// Arbitrary, fixed: the advisory lock key that serialises schema changes ("bizrelay" in ASCII).
constexpr long long kMigrationLockKey = 0x62697a72656c6179LL;

constexpr const char* kCreateTables = R"sql(
  CREATE TABLE IF NOT EXISTS public.bizrelay_migrations (
    name       text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE IF NOT EXISTS public.bizrelay_functions (
    name       text PRIMARY KEY,
    sha256     text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  ))sql";

constexpr const char* kRecordedMigrations = "SELECT name FROM public.bizrelay_migrations";
constexpr const char* kRecordMigration =
    "INSERT INTO public.bizrelay_migrations (name) VALUES ($1)";
// The legacy history's rows make way for the baseline's one.
constexpr const char* kForgetMigration = "DELETE FROM public.bizrelay_migrations WHERE name = $1";

// Files whose text's SHA-256 is not the one recorded; PostgreSQL computes the digest.
constexpr const char* kChangedFunctions = R"sql(
  SELECT f.name
  FROM unnest($1::text[], $2::text[]) AS f(name, body)
  LEFT JOIN public.bizrelay_functions r ON r.name = f.name
  WHERE r.sha256 IS DISTINCT FROM encode(sha256(convert_to(f.body, 'UTF8')), 'hex'))sql";
constexpr const char* kRecordFunction = R"sql(
  INSERT INTO public.bizrelay_functions AS r (name, sha256)
  VALUES ($1, encode(sha256(convert_to($2, 'UTF8')), 'hex'))
  ON CONFLICT (name) DO UPDATE SET sha256 = excluded.sha256, applied_at = now())sql";

std::vector<std::string> Names(const std::vector<EmbeddedSql>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.emplace_back(f.name);
  return out;
}

std::vector<std::string> Texts(const std::vector<EmbeddedSql>& files) {
  std::vector<std::string> out;
  for (const auto& f : files) out.emplace_back(f.text);
  return out;
}

// Recognises a database made by the legacy history (its rows name files that are no longer
// migrations) and records the baseline, which it already matches, in their place.
void AdoptLegacyHistory(pqxx::connection& conn, const std::vector<EmbeddedSql>& migrations) {
  pqxx::work tx(conn);
  std::set<std::string> known;
  for (const auto& f : migrations) known.insert(f.name);
  std::set<std::string> unknown;
  for (const auto& r : tx.exec(kRecordedMigrations)) {
    auto name = r[0].as<std::string>();
    if (!known.count(name)) unknown.insert(name);
  }
  if (unknown.empty()) return;
  if (!unknown.count(kLegacyHead) || migrations.empty()) {
    throw std::runtime_error("database records migration " + *unknown.begin() +
                             ", which this bizrelayd does not know (a newer release, or an "
                             "unreleased history); refusing to change its schema");
  }
  for (const auto& name : unknown) tx.exec_params0(kForgetMigration, name);
  tx.exec_params0(kRecordMigration, migrations.front().name);
  tx.commit();
  spdlog::info("event=migration_baseline_adopted name={} replaced={}", migrations.front().name,
               unknown.size());
}

int ApplyMigrations(pqxx::connection& conn, const std::vector<EmbeddedSql>& migrations) {
  int applied = 0;
  for (const auto& file : migrations) {
    pqxx::work tx(conn);
    auto done =
        tx.exec_params("SELECT 1 FROM public.bizrelay_migrations WHERE name = $1", file.name);
    if (!done.empty()) continue;
    tx.exec0(file.text);
    tx.exec_params0(kRecordMigration, file.name);
    tx.commit();
    spdlog::info("event=migration_applied name={}", file.name);
    ++applied;
  }
  return applied;
}

// All changed files in one transaction: a failure keeps the previous set whole. Files are
// applied in path order with function bodies checked, so a SQL-language function may only call
// functions of files sorted before it (PL/pgSQL bodies are not resolved until run).
int ApplyFunctions(pqxx::connection& conn, const std::vector<EmbeddedSql>& functions) {
  pqxx::work tx(conn);
  std::set<std::string> changed;
  for (const auto& r :
       tx.exec_params(kChangedFunctions, SqlArray(Names(functions)), SqlArray(Texts(functions)))) {
    changed.insert(r[0].as<std::string>());
  }
  if (changed.empty()) return 0;
  for (const auto& file : functions) {
    if (!changed.count(file.name)) continue;
    tx.exec0(file.text);
    tx.exec_params0(kRecordFunction, file.name, file.text);
  }
  tx.commit();
  for (const auto& name : changed) spdlog::info("event=function_applied name={}", name);
  return static_cast<int>(changed.size());
}

}  // namespace

SchemaChanges ApplySchema(pqxx::connection& conn, const std::vector<EmbeddedSql>& migrations,
                          const std::vector<EmbeddedSql>& functions) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
  }
  SchemaChanges changes;
  try {
    {
      pqxx::work tx(conn);
      tx.exec0(kCreateTables);
      tx.commit();
    }
    AdoptLegacyHistory(conn, migrations);
    changes.migrations = ApplyMigrations(conn, migrations);
    changes.functions = ApplyFunctions(conn, functions);
  } catch (...) {
    pqxx::nontransaction tx(conn);
    tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    throw;
  }
  pqxx::nontransaction tx(conn);
  tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
  return changes;
}

SchemaChanges ApplySchema(pqxx::connection& conn) {
  return ApplySchema(conn, migration_files(), function_files());
}

}  // namespace bizrelay::store
