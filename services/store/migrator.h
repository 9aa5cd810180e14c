#pragma once

#include <pqxx/pqxx>
#include <vector>

#include "services/store/embedded_sql.h"

namespace bizrelay::store {

// What one ApplySchema call changed.
struct SchemaChanges {
  int migrations = 0;  // versioned migrations applied
  int functions = 0;   // function files (re)applied because new or changed
};

// Brings the database to the schema of `migrations` and `functions` (see
// services/store/README.md), holding a session advisory lock throughout, so that instances
// starting together against one database wait for each other:
// 1. each versioned migration not yet recorded in public.bizrelay_migrations is applied, in
//    order, each in its own transaction, exactly once;
// 2. every function file whose SHA-256 differs from the one recorded in
//    public.bizrelay_functions (or that is not recorded) is applied, in order, all in one
//    transaction; unchanged files are skipped.
// A database made by the migrations from before the baseline (legacy history ending at
// kLegacyHead) is recognised and the baseline recorded as applied there. Throws on a failed
// file (nothing of that step is kept; earlier migrations stay), and std::runtime_error when
// the database records a migration this binary does not know (made by a newer binary, or an
// unreleased history other than the legacy one).
SchemaChanges ApplySchema(pqxx::connection& conn, const std::vector<EmbeddedSql>& migrations,
                          const std::vector<EmbeddedSql>& functions);

// ApplySchema with the files compiled into this binary.
SchemaChanges ApplySchema(pqxx::connection& conn);

// The last migration of the history the baseline replaces.
inline constexpr const char* kLegacyHead = "0019_packed_sealed_sends_bounded_by_their_mailbox.sql";

}  // namespace bizrelay::store
