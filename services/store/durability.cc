#include "services/store/durability.h"

#include <stdexcept>

#include "services/platform/log.h"

namespace bizrelay::store {

void CheckDurability(pqxx::connection& conn, bool allow_unsafe) {
  pqxx::nontransaction tx(conn);
  for (const char* setting : {"fsync", "synchronous_commit", "full_page_writes"}) {
    auto value = tx.exec_params1("SELECT current_setting($1)", setting)[0].as<std::string>();
    if (value != "off") continue;
    if (allow_unsafe) {
      spdlog::warn("event=unsafe_durability setting={} value=off", setting);
      continue;
    }
    throw std::runtime_error(std::string("PostgreSQL runs with ") + setting +
                             "=off, which loses acknowledged messages on a crash; fix the "
                             "server or set database.allow_unsafe_durability for development");
  }
}

}  // namespace bizrelay::store
