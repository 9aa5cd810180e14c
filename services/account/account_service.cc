#include "services/account/account_service.h"

#include <google/protobuf/util/time_util.h>

#include "services/account/accounts.h"
#include "services/account/data_rights.h"
#include "services/account/policies.h"
#include "services/platform/error.h"
#include "services/rpc/bearer.h"

namespace bizrelay::account {
namespace {

void ToProto(const UserRecord& u, v1::UserProfile* out) {
  out->set_user_id(u.user_id);
  out->set_display_name(u.display_name);
  *out->mutable_create_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(u.created_unix_micros);
}

}  // namespace

grpc::ServerUnaryReactor* AccountServiceImpl::RegisterUser(grpc::CallbackServerContext* ctx,
                                                           const v1::RegisterUserRequest* request,
                                                           v1::RegisterUserResponse* response) {
  const std::string name = request->display_name();
  return rpc::RunUnary(
      ctx, env_,
      [&] {
        Accounts::ValidateDisplayName(name);
        std::chrono::milliseconds retry{0};
        if (!registrations_->TryAcquire("", &retry)) {
          throw Error(ErrorCode::kResourceExhausted, "RATE_LIMITED", "too many registrations",
                      {{"retry_delay_ms", std::to_string(retry.count())}});
        }
      },
      [name, response](pqxx::connection& conn) {
        pqxx::work tx(conn);
        auto registered = Accounts::Register(tx, name);
        tx.commit();
        ToProto(registered.user, response->mutable_profile());
        response->set_token(registered.token);
      });
}

grpc::ServerUnaryReactor* AccountServiceImpl::GetProfile(grpc::CallbackServerContext* ctx,
                                                         const v1::GetProfileRequest*,
                                                         v1::GetProfileResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(ctx, env_, nullptr, [this, token, response](pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    auto user = auth_->Require(tx, token, auth::PrincipalKind::kUser);
    ToProto(Accounts::Profile(tx, user.id), response->mutable_profile());
  });
}

grpc::ServerUnaryReactor* AccountServiceImpl::GetSendTokenKey(
    grpc::CallbackServerContext* ctx, const v1::GetSendTokenKeyRequest*,
    v1::GetSendTokenKeyResponse* response) {
  response->set_key_id(issuer_key_id_);
  response->set_public_key(issuer_->public_key().ToDer());
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AccountServiceImpl::IssueSendTokens(
    grpc::CallbackServerContext* ctx, const v1::IssueSendTokensRequest* request,
    v1::IssueSendTokensResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  std::vector<std::string> blinded(request->blinded_messages().begin(),
                                   request->blinded_messages().end());
  return rpc::RunUnary(
      ctx, env_, [&] { Accounts::CheckBlinded(blinded, issuer_->public_key()); },
      [this, token, blinded, response](pqxx::connection& conn) {
        pqxx::work tx(conn);
        auto user = auth_->Require(tx, token, auth::PrincipalKind::kUser);
        auto signatures =
            Accounts::IssueSendTokens(tx, user.id, blinded, *issuer_, tokens_per_day_);
        tx.commit();
        if (tokens_issued_) tokens_issued_->Add(signatures.size());
        response->set_key_id(issuer_key_id_);
        for (auto& s : signatures) response->add_blind_signatures(std::move(s));
      });
}

grpc::ServerUnaryReactor* AccountServiceImpl::AsUser(
    grpc::CallbackServerContext* ctx,
    std::function<void(pqxx::transaction_base&, const std::string&)> work) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(ctx, env_, nullptr,
                       [this, token, work = std::move(work)](pqxx::connection& conn) {
                         pqxx::work tx(conn);
                         auto user = auth_->Require(tx, token, auth::PrincipalKind::kUser);
                         work(tx, user.id);
                         tx.commit();
                       });
}

grpc::ServerUnaryReactor* AccountServiceImpl::GetPolicyStatus(
    grpc::CallbackServerContext* ctx, const v1::GetPolicyStatusRequest*,
    v1::GetPolicyStatusResponse* response) {
  using google::protobuf::util::TimeUtil;
  return AsUser(ctx, [response](auto& tx, const std::string& user) {
    PolicyStatusView view = Policies::Status(tx, user);
    for (const auto& v : view.versions) {
      auto* out = response->add_versions();
      out->set_version(v.version);
      *out->mutable_effective_time() = TimeUtil::MicrosecondsToTimestamp(v.effective_micros);
      *out->mutable_accept_by_time() = TimeUtil::MicrosecondsToTimestamp(v.accept_by_micros);
      if (v.accepted_micros) {
        *out->mutable_accepted_time() = TimeUtil::MicrosecondsToTimestamp(*v.accepted_micros);
      }
    }
    response->set_required_version(view.required_version);
    response->set_limited(!view.required_version.empty());
    response->set_opted_out_of_data_sharing(view.opted_out_micros.has_value());
    if (view.opted_out_micros) {
      *response->mutable_opted_out_time() =
          TimeUtil::MicrosecondsToTimestamp(*view.opted_out_micros);
    }
  });
}

grpc::ServerUnaryReactor* AccountServiceImpl::AcceptPolicy(grpc::CallbackServerContext* ctx,
                                                           const v1::AcceptPolicyRequest* request,
                                                           v1::AcceptPolicyResponse* response) {
  return AsUser(ctx, [version = request->version(), response](auto& tx, const std::string& user) {
    Policies::Accept(tx, user, version);
    response->set_limited(!Policies::Status(tx, user).required_version.empty());
  });
}

grpc::ServerUnaryReactor* AccountServiceImpl::OptOutOfDataSharing(
    grpc::CallbackServerContext* ctx, const v1::OptOutOfDataSharingRequest*,
    v1::OptOutOfDataSharingResponse* response) {
  return AsUser(ctx, [response](auto& tx, const std::string& user) {
    *response->mutable_opted_out_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(Policies::OptOut(tx, user));
  });
}

grpc::ServerUnaryReactor* AccountServiceImpl::ExportMyData(grpc::CallbackServerContext* ctx,
                                                           const v1::ExportMyDataRequest*,
                                                           v1::ExportMyDataResponse* response) {
  return AsUser(ctx, [this, response](auto& tx, const std::string& user) {
    response->set_json(DataRights::Export(tx, *keys_, user, 0));
  });
}

grpc::ServerUnaryReactor* AccountServiceImpl::DeleteAccount(grpc::CallbackServerContext* ctx,
                                                            const v1::DeleteAccountRequest*,
                                                            v1::DeleteAccountResponse*) {
  return AsUser(ctx, [](auto& tx, const std::string& user) { DataRights::Erase(tx, user); });
}

}  // namespace bizrelay::account
