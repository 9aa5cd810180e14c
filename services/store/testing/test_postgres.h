#pragma once

#include <string>

#include "services/store/embedded_postgres.h"

namespace bizrelay::store::testing {

// A throwaway PostgreSQL cluster for tests, started on first use in a new directory under
// /tmp and stopped and removed when the process exits. Durability settings stay at their safe
// defaults so the daemon's checks pass against it.
EmbeddedPostgres& TestCluster();

// Creates an empty database in the test cluster and returns its connection string.
std::string FreshDatabase();

}  // namespace bizrelay::store::testing
