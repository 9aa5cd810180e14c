#include "services/account/policies.h"

#include "services/platform/error.h"
#include "services/platform/validate.h"

namespace bizrelay::account {
namespace {

#define MICROS(col) "(extract(epoch from " col ") * 1000000)::bigint"

constexpr const char* kPublish =
    "INSERT INTO core.policy_versions (version, text_sha256, text_url, effective_at, accept_by) "
    "VALUES ($1, $2, $3, to_timestamp($4 / 1e6), to_timestamp($5 / 1e6)) "
    "ON CONFLICT (version) DO NOTHING";
constexpr const char* kPostpone =
    "UPDATE core.policy_versions SET accept_by = to_timestamp($2 / 1e6) "
    "WHERE version = $1 AND accept_by < to_timestamp($2 / 1e6)";
constexpr const char* kVersionExists = "SELECT 1 FROM core.policy_versions WHERE version = $1";
constexpr const char* kSetOffer =
    "UPDATE core.opt_out_offer SET open = $1, changed_at = now() RETURNING open";
constexpr const char* kVersions =
    "SELECT v.version, " MICROS("v.effective_at") ", " MICROS("v.accept_by") ", "
    MICROS("a.accepted_at") " FROM core.policy_versions v "
    "LEFT JOIN core.policy_acceptances a ON a.version = v.version AND a.user_id = $1::uuid "
    "ORDER BY v.seq";
constexpr const char* kRequired = "SELECT coalesce(core.required_policy($1::uuid), '')";
constexpr const char* kOptOutOf =
    "SELECT " MICROS("opted_out_at") " FROM core.data_sharing_opt_outs WHERE user_id = $1::uuid";
constexpr const char* kAccept =
    "INSERT INTO core.policy_acceptances (user_id, version) VALUES ($1::uuid, $2) "
    "ON CONFLICT DO NOTHING";
constexpr const char* kOfferOpen = "SELECT open FROM core.opt_out_offer";
constexpr const char* kOptOut =
    "INSERT INTO core.data_sharing_opt_outs (user_id) VALUES ($1::uuid) ON CONFLICT DO NOTHING";

#undef MICROS

}  // namespace

void Policies::Publish(pqxx::transaction_base& tx, const std::string& version,
                       const std::string& text_sha256, const std::string& text_url,
                       int64_t effective_micros, int64_t accept_by_micros) {
  CheckText("version", version, 1, 64);
  bool hex = text_sha256.size() == 64;
  for (char c : text_sha256) hex = hex && std::isxdigit(static_cast<unsigned char>(c));
  if (!hex) throw InvalidField("text_sha256", "64 hex characters expected");
  CheckOptionalUrl("text_url", text_url, 500);
  if (accept_by_micros < effective_micros) {
    throw InvalidField("accept_by_time", "the deadline cannot come before the effective time");
  }
  if (tx.exec_params0(kPublish, version, text_sha256, text_url, effective_micros, accept_by_micros)
          .affected_rows() == 0) {
    throw Error(ErrorCode::kAlreadyExists, "POLICY_VERSION_EXISTS",
                "this policy version was published already");
  }
}

void Policies::Postpone(pqxx::transaction_base& tx, const std::string& version,
                        int64_t accept_by_micros) {
  if (tx.exec_params(kVersionExists, version).empty()) throw NotFound("policy version");
  if (tx.exec_params0(kPostpone, version, accept_by_micros).affected_rows() == 0) {
    throw Error(ErrorCode::kFailedPrecondition, "DEADLINE_NOT_LATER",
                "a deadline can only be moved later");
  }
}

bool Policies::SetOptOutOffer(pqxx::transaction_base& tx, bool open) {
  return tx.exec_params1(kSetOffer, open)[0].as<bool>();
}

PolicyStatusView Policies::Status(pqxx::transaction_base& tx, const std::string& user_id) {
  PolicyStatusView view;
  for (const auto& r : tx.exec_params(kVersions, user_id)) {
    PolicyVersionRow v{r[0].as<std::string>(), r[1].as<int64_t>(), r[2].as<int64_t>(), {}};
    if (!r[3].is_null()) v.accepted_micros = r[3].as<int64_t>();
    view.versions.push_back(std::move(v));
  }
  view.required_version = tx.exec_params1(kRequired, user_id)[0].as<std::string>();
  auto opt = tx.exec_params(kOptOutOf, user_id);
  if (!opt.empty()) view.opted_out_micros = opt[0][0].as<int64_t>();
  return view;
}

void Policies::Accept(pqxx::transaction_base& tx, const std::string& user_id,
                      const std::string& version) {
  if (version.empty() || version.size() > 64 || tx.exec_params(kVersionExists, version).empty()) {
    throw NotFound("policy version");
  }
  tx.exec_params0(kAccept, user_id, version);
}

int64_t Policies::OptOut(pqxx::transaction_base& tx, const std::string& user_id) {
  auto existing = tx.exec_params(kOptOutOf, user_id);
  if (!existing.empty()) return existing[0][0].as<int64_t>();
  if (!tx.exec1(kOfferOpen)[0].as<bool>()) {
    throw Error(ErrorCode::kFailedPrecondition, "OPT_OUT_OFFER_CLOSED",
                "the data-sharing opt-out is not on offer now");
  }
  tx.exec_params0(kOptOut, user_id);
  return tx.exec_params1(kOptOutOf, user_id)[0].as<int64_t>();
}

void Policies::RequireNotLimited(pqxx::transaction_base& tx, const std::string& user_id) {
  std::string required = tx.exec_params1(kRequired, user_id)[0].as<std::string>();
  if (!required.empty()) {
    throw Error(ErrorCode::kFailedPrecondition, "POLICY_ACCEPTANCE_REQUIRED",
                "accept policy version " + required + " to send again", {{"version", required}});
  }
}

}  // namespace bizrelay::account
