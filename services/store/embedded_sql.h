#pragma once

#include <vector>

namespace bizrelay {

// A SQL file compiled into the binary (see cmake/embed_sql.cmake).
struct EmbeddedSql {
  const char* name;
  const char* text;
};

namespace store {

// The versioned migrations in services/store/migrations, in file-name order.
const std::vector<EmbeddedSql>& migration_files();

// The function files in services/store/functions, named by their path below it
// ("hosting/read_events.sql"), in path order.
const std::vector<EmbeddedSql>& function_files();

}  // namespace store
}  // namespace bizrelay
