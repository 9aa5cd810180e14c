#include "services/operator/operator_service.h"

#include <google/protobuf/util/time_util.h>

#include "services/hosting/chats.h"
#include "services/operator/business_admin.h"
#include "services/rpc/bearer.h"

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
  return rpc::RunUnary(
      ctx, env_, nullptr,
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

}  // namespace bizrelay::operator_api
