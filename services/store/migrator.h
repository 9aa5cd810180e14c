#pragma once

#include <pqxx/pqxx>
#include <vector>

#include "services/store/embedded_sql.h"

namespace bizrelay::store {

// Applies `files` (in order) that are not yet recorded in public.bizrelay_migrations, each in
// its own transaction, while holding a session advisory lock: instances that start together
// against one database wait for each other, and each file is applied exactly once.
// Returns how many files this call applied. Throws on a failed migration (nothing of that
// file is kept).
int ApplyMigrations(pqxx::connection& conn, const std::vector<EmbeddedSql>& files);

}  // namespace bizrelay::store
