#include "services/personal/personal_sweeper.h"

#include <pqxx/pqxx>

namespace bizrelay::personal {
namespace {

constexpr const char* kExpired =
    "DELETE FROM personal.envelopes WHERE (mailbox_id, seq) IN ("
    "  SELECT mailbox_id, seq FROM personal.envelopes WHERE expires_day < current_date "
    "  LIMIT $1 FOR UPDATE SKIP LOCKED)";

// Keys with spent tokens that are no longer accepted: their tokens can never be spent again,
// so their hashes go, in one statement per key (a key is retired rarely; its tokens are read
// once then).
constexpr const char* kRetiredKeys =
    "SELECT key_id FROM personal.spent_token_keys WHERE NOT (key_id = ANY ($1::text[]))";
constexpr const char* kTokensOfKey = "DELETE FROM personal.spent_tokens WHERE key_id = $1";
constexpr const char* kForgetKey = "DELETE FROM personal.spent_token_keys WHERE key_id = $1";

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
  std::vector<std::string> retired;
  {
    pqxx::read_transaction tx(conn);
    for (const auto& r : tx.exec_params(kRetiredKeys, keys)) retired.push_back(r[0].c_str());
  }
  for (const auto& key_id : retired) {
    pqxx::work tx(conn);
    total += static_cast<int>(tx.exec_params0(kTokensOfKey, key_id).affected_rows());
    tx.exec_params0(kForgetKey, key_id);
    tx.commit();
  }
  return total;
}

}  // namespace bizrelay::personal
