#include "services/operator/operator_service.h"

#include <google/protobuf/util/time_util.h>

#include "services/account/policies.h"
#include "services/hosting/chats.h"
#include "services/operator/business_admin.h"
#include "services/rpc/bearer.h"
#include "services/rpc/status.h"

namespace bizrelay::operator_api {
namespace {

using google::protobuf::util::TimeUtil;

BusinessProfileData FromProto(const v1::BusinessProfile& p) {
  return {p.display_name(), p.description(), p.website()};
}

void ToProto(const BusinessRecord& r, v1::Business* out) {
  out->set_business_id(r.business_id);
  out->mutable_profile()->set_display_name(r.profile.display_name);
  out->mutable_profile()->set_description(r.profile.description);
  out->mutable_profile()->set_website(r.profile.website);
  out->set_state(r.disabled ? v1::BUSINESS_STATE_DISABLED : v1::BUSINESS_STATE_ACTIVE);
  *out->mutable_create_time() = TimeUtil::MicrosecondsToTimestamp(r.created_unix_micros);
}

}  // namespace

grpc::ServerUnaryReactor* OperatorServiceImpl::CreateBusiness(
    grpc::CallbackServerContext* ctx, const v1::CreateBusinessRequest* request,
    v1::CreateBusinessResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  auto profile = FromProto(request->profile());
  return rpc::RunUnary(ctx, env_, nullptr,
                       [this, token, profile, response](pqxx::connection& conn) {
                         pqxx::work tx(conn);
                         auth_->RequireOperator(tx, token);
                         auto created = BusinessAdmin::Create(tx, profile);
                         tx.commit();
                         ToProto(created.business, response->mutable_business());
                         response->set_api_key(created.api_key);
                       });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::GetBusiness(grpc::CallbackServerContext* ctx,
                                                           const v1::GetBusinessRequest* request,
                                                           v1::GetBusinessResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(ctx, env_, nullptr,
                       [this, token, id = request->business_id(), response](pqxx::connection& c) {
                         pqxx::read_transaction tx(c);
                         auth_->RequireOperator(tx, token);
                         ToProto(BusinessAdmin::Get(tx, id), response->mutable_business());
                       });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::RotateBusinessKey(
    grpc::CallbackServerContext* ctx, const v1::RotateBusinessKeyRequest* request,
    v1::RotateBusinessKeyResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(ctx, env_, nullptr,
                       [this, token, id = request->business_id(), response](pqxx::connection& c) {
                         pqxx::work tx(c);
                         auth_->RequireOperator(tx, token);
                         std::string key = BusinessAdmin::RotateKey(tx, id);
                         tx.commit();
                         response->set_api_key(key);
                       });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::DisableBusiness(
    grpc::CallbackServerContext* ctx, const v1::DisableBusinessRequest* request,
    v1::DisableBusinessResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(ctx, env_, nullptr,
                       [this, token, id = request->business_id(), response](pqxx::connection& c) {
                         pqxx::work tx(c);
                         auth_->RequireOperator(tx, token);
                         auto record = BusinessAdmin::Disable(tx, id);
                         tx.commit();
                         ToProto(record, response->mutable_business());
                       });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::OffboardBusiness(
    grpc::CallbackServerContext* ctx, const v1::OffboardBusinessRequest* request,
    v1::OffboardBusinessResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(ctx, env_, nullptr,
                       [this, token, id = request->business_id(), response](pqxx::connection& c) {
                         pqxx::work tx(c);
                         auth_->RequireOperator(tx, token);
                         hosting::OffboardBusiness(tx, *keys_, id);
                         auto record = BusinessAdmin::Get(tx, id);
                         tx.commit();
                         ToProto(record, response->mutable_business());
                       });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::PublishPolicyVersion(
    grpc::CallbackServerContext* ctx, const v1::PublishPolicyVersionRequest* request,
    v1::PublishPolicyVersionResponse*) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(ctx, env_, nullptr, [this, token, r = *request](pqxx::connection& c) {
    pqxx::work tx(c);
    auth_->RequireOperator(tx, token);
    account::Policies::Publish(tx, r.version(), r.text_sha256(), r.text_url(),
                               TimeUtil::TimestampToMicroseconds(r.effective_time()),
                               TimeUtil::TimestampToMicroseconds(r.accept_by_time()));
    tx.commit();
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::PostponePolicyDeadline(
    grpc::CallbackServerContext* ctx, const v1::PostponePolicyDeadlineRequest* request,
    v1::PostponePolicyDeadlineResponse*) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(ctx, env_, nullptr, [this, token, r = *request](pqxx::connection& c) {
    pqxx::work tx(c);
    auth_->RequireOperator(tx, token);
    account::Policies::Postpone(tx, r.version(),
                                TimeUtil::TimestampToMicroseconds(r.accept_by_time()));
    tx.commit();
  });
}

grpc::ServerUnaryReactor* OperatorServiceImpl::SetOptOutOffer(
    grpc::CallbackServerContext* ctx, const v1::SetOptOutOfferRequest* request,
    v1::SetOptOutOfferResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(ctx, env_, nullptr,
                       [this, token, open = request->open(), response](pqxx::connection& c) {
                         pqxx::work tx(c);
                         auth_->RequireOperator(tx, token);
                         response->set_open(account::Policies::SetOptOutOffer(tx, open));
                         tx.commit();
                       });
}

namespace {

// Users who have not opted out, a page at a time, pseudonymous: never content, never anything
// of the personal path (which this role cannot read in any case).
constexpr const char* kExportPage =
    "SELECT u.user_id::text, to_char(u.created_at, 'YYYY-MM-DD'), "
    "  to_char(u.last_active_day, 'YYYY-MM-DD'), "
    "  (SELECT count(*) FROM hosting.conversations c WHERE c.user_id = u.user_id AND c.state = 1) "
    "FROM core.users u "
    "WHERE u.user_id > $1::uuid "
    "  AND NOT EXISTS (SELECT 1 FROM core.data_sharing_opt_outs o WHERE o.user_id = u.user_id) "
    "ORDER BY u.user_id LIMIT $2";
constexpr int kExportPageSize = 500;

// The export stream: one write in flight; the next page is read when the last is written.
class ExportStream final : public grpc::ServerWriteReactor<v1::ExportInfrastructureDataResponse> {
 public:
  ExportStream(rpc::RpcEnv env, const auth::Authenticator* auth, hosting::KeyRing* keys,
               std::optional<std::string> token)
      : env_(env), auth_(auth), keys_(keys), token_(std::move(token)) {
    Fetch(/*first=*/true);
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
      return;
    }
    ++next_;
    WriteNextOrFetch();
  }
  void OnDone() override { delete this; }

 private:
  void WriteNextOrFetch() {
    if (next_ < page_.size()) {
      StartWrite(&page_[next_]);
    } else if (page_full_) {
      Fetch(false);
    } else {
      Finish(grpc::Status::OK);
    }
  }

  void Fetch(bool first) {
    env_.pool->Submit(
        [this, first](pqxx::connection& conn) {
          pqxx::read_transaction tx(conn);
          if (first) auth_->RequireOperator(tx, token_);
          std::vector<v1::ExportInfrastructureDataResponse> page;
          for (const auto& r : tx.exec_params(kExportPage, after_, kExportPageSize)) {
            auto& row = page.emplace_back();
            after_ = r[0].as<std::string>();
            row.set_pseudonymous_id(keys_->Pseudonym("infrastructure-export", after_));
            row.set_registration_day(r[1].as<std::string>());
            row.set_last_active_day(r[2].as<std::string>());
            row.set_businesses_chatted_with(r[3].as<int>());
          }
          page_full_ = static_cast<int>(page.size()) == kExportPageSize;
          page_ = std::move(page);
          next_ = 0;
          WriteNextOrFetch();
        },
        [this](const Error& e) { Finish(rpc::ToGrpcStatus(e)); },
        store::DbPool::Clock::now() + env_.call_timeout);
  }

  const rpc::RpcEnv env_;
  const auth::Authenticator* const auth_;
  hosting::KeyRing* const keys_;
  const std::optional<std::string> token_;
  // Touched only by one task or one write completion at a time (strictly alternating).
  std::string after_ = "00000000-0000-0000-0000-000000000000";
  std::vector<v1::ExportInfrastructureDataResponse> page_;
  size_t next_ = 0;
  bool page_full_ = false;
};

}  // namespace

grpc::ServerWriteReactor<v1::ExportInfrastructureDataResponse>*
OperatorServiceImpl::ExportInfrastructureData(grpc::CallbackServerContext* ctx,
                                              const v1::ExportInfrastructureDataRequest*) {
  return new ExportStream(env_, auth_, keys_, rpc::BearerToken(ctx->client_metadata()));
}

}  // namespace bizrelay::operator_api
