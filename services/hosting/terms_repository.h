#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "services/hosting/rows.h"

namespace bizrelay::hosting {

// A business's terms as users see them: profile, data-use statement, retention rules and
// conversation labels, and offboarding. Every function runs in the caller's transaction.
class TermsRepository {
 public:
  // The terms of an active business; `default_lifetime` fills in a lifetime it has not set.
  static std::optional<TermsRow> Terms(pqxx::transaction_base& tx, const std::string& business_id,
                                       int64_t default_lifetime);
  // Each returns the new disclosure version.
  static int64_t SetDataUseStatement(pqxx::transaction_base& tx, const std::string& business_id,
                                     const std::string& statement);
  static int64_t SetRetention(pqxx::transaction_base& tx, const std::string& business_id,
                              int64_t lifetime_seconds, bool no_storage,
                              const std::vector<std::pair<std::string, int64_t>>& labels);
  // Lowers (never raises) the expiry of stored messages to what the current rules give:
  // of one conversation, or of every conversation of the business when `conversation_id` is
  // empty. With no-storage on, acknowledged messages expire after `grace_seconds`.
  static void ApplyShorterRules(pqxx::transaction_base& tx, const std::string& business_id,
                                const std::string& conversation_id, int64_t default_lifetime,
                                int64_t grace_seconds);
  static bool SetLabel(pqxx::transaction_base& tx, const std::string& business_id,
                       const std::string& conversation_id, const std::string& label);
  // Offboarding: disables the business and makes every message of it expire now.
  static void Offboard(pqxx::transaction_base& tx, const std::string& business_id);
  static void UpdateBusinessProfile(pqxx::transaction_base& tx, const std::string& business_id,
                                    const std::string& name, const std::string& description,
                                    const std::string& website);
};

}  // namespace bizrelay::hosting
