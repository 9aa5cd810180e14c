#pragma once

#include <string>
#include <vector>

#include "services/store/embedded_postgres.h"
#include "services/store/embedded_sql.h"

namespace bizrelay::store::testing {

// A throwaway PostgreSQL cluster for tests, started on first use in a new directory under
// /tmp and stopped and removed when the process exits. Durability settings stay at their safe
// defaults so the daemon's checks pass against it.
EmbeddedPostgres& TestCluster();

// Creates an empty database in the test cluster and returns its connection string.
std::string FreshDatabase();

// The migrations the baseline replaced (services/store/testing/legacy_migrations), as every
// database made before the baseline has them applied: the schema an old data directory holds.
const std::vector<EmbeddedSql>& legacy_migration_files();

}  // namespace bizrelay::store::testing
