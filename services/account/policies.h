#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace bizrelay::account {

struct PolicyVersionRow {
  std::string version;
  int64_t effective_micros = 0;
  int64_t accept_by_micros = 0;
  std::optional<int64_t> accepted_micros;  // by the user asked about
};

struct PolicyStatusView {
  std::vector<PolicyVersionRow> versions;
  std::string required_version;  // empty: not limited
  std::optional<int64_t> opted_out_micros;
};

// Policy lifecycle and the legacy opt-out (SQL in policies.cc, schema core). No account is
// ever disabled for not accepting: an overdue acceptance only limits sending (checked where
// sends and send tokens are handled) until the user accepts, at any time.
class Policies {
 public:
  // Operator side. INVALID_ARGUMENT for bad fields; ALREADY_EXISTS for a version published
  // before; FAILED_PRECONDITION DEADLINE_NOT_LATER if a postponement is not later.
  static void Publish(pqxx::transaction_base& tx, const std::string& version,
                      const std::string& text_sha256, const std::string& text_url,
                      int64_t effective_micros, int64_t accept_by_micros);
  static void Postpone(pqxx::transaction_base& tx, const std::string& version,
                       int64_t accept_by_micros);
  static bool SetOptOutOffer(pqxx::transaction_base& tx, bool open);

  // User side.
  static PolicyStatusView Status(pqxx::transaction_base& tx, const std::string& user_id);
  // NOT_FOUND for an unknown version. Never touches the opt-out.
  static void Accept(pqxx::transaction_base& tx, const std::string& user_id,
                     const std::string& version);
  // FAILED_PRECONDITION OPT_OUT_OFFER_CLOSED unless the offer is open (or the user opted out
  // already, which is kept as it is). Returns when the opt-out was set.
  static int64_t OptOut(pqxx::transaction_base& tx, const std::string& user_id);
  // FAILED_PRECONDITION POLICY_ACCEPTANCE_REQUIRED (metadata version) in limited mode.
  static void RequireNotLimited(pqxx::transaction_base& tx, const std::string& user_id);
};

}  // namespace bizrelay::account
