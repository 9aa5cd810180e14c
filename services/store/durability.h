#pragma once

#include <pqxx/pqxx>

namespace bizrelay::store {

// Throws std::runtime_error naming the setting if the server would lose acknowledged commits
// on a crash (fsync=off, synchronous_commit=off, full_page_writes=off), unless
// `allow_unsafe` is set (development only).
void CheckDurability(pqxx::connection& conn, bool allow_unsafe);

}  // namespace bizrelay::store
