#include "services/personal/personal_sweeper.h"

#include <pqxx/pqxx>

namespace bizrelay::personal {
namespace {

constexpr const char* kExpired =
    "DELETE FROM personal.envelopes WHERE (mailbox_id, seq) IN ("
    "  SELECT mailbox_id, seq FROM personal.envelopes WHERE expires_day < current_date "
    "  LIMIT $1 FOR UPDATE SKIP LOCKED)";
constexpr const char* kOldTokens =
    "DELETE FROM personal.spent_tokens WHERE token_hash IN ("
    "  SELECT token_hash FROM personal.spent_tokens WHERE NOT (key_id = ANY ($2::text[])) "
    "  LIMIT $1 FOR UPDATE SKIP LOCKED)";

}  // namespace

int SweepPersonal(const std::string& conninfo, int batch,
                  const std::vector<std::string>& accepted_key_ids) {
  std::string keys = "{";
  for (size_t i = 0; i < accepted_key_ids.size(); ++i) {
    keys += (i ? "," : "") + accepted_key_ids[i];  // hex ids: no quoting needed
  }
  keys += "}";
  pqxx::connection conn(conninfo);
  int total = 0;
  auto drain = [&](auto run) {
    while (true) {
      pqxx::work tx(conn);
      int n = static_cast<int>(run(tx).affected_rows());
      tx.commit();
      total += n;
      if (n < batch) break;
    }
  };
  drain([&](pqxx::work& tx) { return tx.exec_params0(kExpired, batch); });
  drain([&](pqxx::work& tx) { return tx.exec_params0(kOldTokens, batch, keys); });
  return total;
}

}  // namespace bizrelay::personal
