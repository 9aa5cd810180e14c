#include "services/hosting/business_service.h"

#include "services/hosting/convert.h"
#include "services/hosting/event_stream.h"
#include "services/hosting/media_streams.h"
#include "services/hosting/rich_content.h"
#include "services/platform/token.h"
#include "services/rpc/bearer.h"

namespace bizrelay::hosting {

grpc::ServerUnaryReactor* BusinessServiceImpl::AsBusiness(
    grpc::CallbackServerContext* ctx, const std::function<void()>& check,
    std::function<void(pqxx::transaction_base&, const std::string&)> work) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(
      ctx, env_.rpc, check, [this, token, work = std::move(work)](pqxx::connection& conn) {
        pqxx::work tx(conn);
        auto business = env_.auth->Require(tx, token, auth::PrincipalKind::kBusiness);
        work(tx, business.id);
        tx.commit();
      });
}

grpc::ServerWriteReactor<v1::StreamInboxResponse>* BusinessServiceImpl::StreamInbox(
    grpc::CallbackServerContext* ctx, const v1::StreamInboxRequest* request) {
  return StartEventStream<v1::StreamInboxResponse>(ctx, env_, auth::PrincipalKind::kBusiness,
                                                   request->after_position());
}

grpc::ServerUnaryReactor* BusinessServiceImpl::AcknowledgeInbox(
    grpc::CallbackServerContext* ctx, const v1::AcknowledgeInboxRequest* request,
    v1::AcknowledgeInboxResponse* response) {
  return AsBusiness(ctx, nullptr,
                    [this, pos = request->position(), response](auto& tx, const auto& business) {
                      response->set_acknowledged_position(desk_.Acknowledge(tx, business, pos));
                    });
}

grpc::ServerUnaryReactor* BusinessServiceImpl::SendReply(grpc::CallbackServerContext* ctx,
                                                         const v1::SendReplyRequest* request,
                                                         v1::SendReplyResponse* response) {
  BusinessDesk::Reply reply{
      request->conversation_id(),
      request->text(),
      request->template_name(),
      {request->template_parameters().begin(), request->template_parameters().end()},
      request->idempotency_key(),
      request->media_id(),
      request->has_content() ? std::optional<v1::MessageContent>(request->content()) : std::nullopt,
      request->reply_to_message_id()};
  auto token = rpc::BearerToken(ctx->client_metadata());
  return AsBusiness(
      ctx,
      [&] {
        desk_.CheckReply(reply);
        if (token) CheckSendRate(env_, Sha256(*token));
      },
      [this, reply, response](auto& tx, const auto& business) {
        auto sent = desk_.SendReply(tx, business, reply);
        ToProto(sent.message, response->mutable_message());
        response->set_replayed(sent.replayed);
      });
}

grpc::ServerUnaryReactor* BusinessServiceImpl::MarkMessagesRead(
    grpc::CallbackServerContext* ctx, const v1::MarkMessagesReadRequest* request,
    v1::MarkMessagesReadResponse* response) {
  return AsBusiness(ctx, nullptr,
                    [this, conv = request->conversation_id(), msg = request->message_id(),
                     response](auto& tx, const auto& business) {
                      response->set_marked(desk_.MarkRead(tx, business, conv, msg));
                    });
}

grpc::ServerUnaryReactor* BusinessServiceImpl::CreateTemplate(
    grpc::CallbackServerContext* ctx, const v1::CreateTemplateRequest* request,
    v1::CreateTemplateResponse* response) {
  return AsBusiness(
      ctx,
      [&] {
        ParseTemplate(request->name(), request->body(), *env_.options);
        CheckReplyButtons(request->quick_replies(), "quick_replies", /*allow_empty=*/true);
      },
      [this, name = request->name(), body = request->body(), quick = request->quick_replies(),
       response](auto& tx, const auto& business) {
        auto def = desk_.CreateTemplate(tx, business, name, body, quick);
        auto* t = response->mutable_template_();
        t->set_name(def.name);
        t->set_body(def.body);
        for (const auto& p : def.parameters) t->add_parameters(p);
        *t->mutable_quick_replies() = quick;
      });
}

grpc::ServerUnaryReactor* BusinessServiceImpl::ListTemplates(grpc::CallbackServerContext* ctx,
                                                             const v1::ListTemplatesRequest*,
                                                             v1::ListTemplatesResponse* response) {
  return AsBusiness(ctx, nullptr, [this, response](auto& tx, const auto& business) {
    for (const auto& row : desk_.Templates(tx, business)) {
      auto* t = response->add_templates();
      t->set_name(row.name);
      t->set_body(row.body);
      for (const auto& p : row.parameters) t->add_parameters(p);
      v1::ReplyButtons quick;
      if (!row.quick_replies.empty() && quick.ParseFromString(row.quick_replies)) {
        *t->mutable_quick_replies() = quick.buttons();
      }
    }
  });
}

grpc::ServerUnaryReactor* BusinessServiceImpl::ListConversations(
    grpc::CallbackServerContext* ctx, const v1::ListConversationsRequest* request,
    v1::ListConversationsResponse* response) {
  return AsBusiness(
      ctx, nullptr,
      [this, size = request->page_size(), token = request->page_token(), response](
          auto& tx, const auto& business) {
        auto page = desk_.ListConversations(tx, business, size, token);
        for (const auto& c : page.items) {
          auto* out = response->add_conversations();
          out->set_conversation_id(c.conversation_id);
          out->set_user_id(c.user_id);
          out->set_state(ToProto(c.state));
          out->set_service_window_open(c.state == ChatState::kOpen && desk_.WindowOpen(c));
        }
        response->set_next_page_token(page.next_page_token);
      });
}

grpc::ServerUnaryReactor* BusinessServiceImpl::ListMessages(grpc::CallbackServerContext* ctx,
                                                            const v1::ListMessagesRequest* request,
                                                            v1::ListMessagesResponse* response) {
  return AsBusiness(ctx, nullptr,
                    [this, conv = request->conversation_id(), size = request->page_size(),
                     token = request->page_token(), response](auto& tx, const auto& business) {
                      auto page = desk_.ListMessages(tx, business, conv, size, token);
                      for (const auto& m : page.items) ToProto(m, response->add_messages());
                      response->set_next_page_token(page.next_page_token);
                    });
}

grpc::ServerUnaryReactor* BusinessServiceImpl::UpdateProfile(
    grpc::CallbackServerContext* ctx, const v1::UpdateProfileRequest* request,
    v1::UpdateProfileResponse* response) {
  BusinessDesk::ProfileUpdate update{request->display_name(), request->description(),
                                     request->website(), request->data_use_statement()};
  return AsBusiness(ctx, nullptr, [this, update, response](auto& tx, const auto& business) {
    auto [view, notified] = desk_.UpdateProfile(tx, business, update);
    ToProto(view, response->mutable_disclosure());
    response->set_notified_chats(notified);
  });
}

grpc::ServerUnaryReactor* BusinessServiceImpl::GetRetentionPolicy(
    grpc::CallbackServerContext* ctx, const v1::GetRetentionPolicyRequest*,
    v1::GetRetentionPolicyResponse* response) {
  return AsBusiness(ctx, nullptr, [this, response](auto& tx, const auto& business) {
    ToProto(desk_.Retention(tx, business), response->mutable_policy());
  });
}

grpc::ServerUnaryReactor* BusinessServiceImpl::SetRetentionPolicy(
    grpc::CallbackServerContext* ctx, const v1::SetRetentionPolicyRequest* request,
    v1::SetRetentionPolicyResponse* response) {
  RetentionRule rule = FromProto(request->policy());
  return AsBusiness(
      ctx, [&] { CheckRetentionRule(rule, *env_.options); },
      [this, rule, response](auto& tx, const auto& business) {
        auto [view, notified] = desk_.SetRetention(tx, business, rule);
        ToProto(view, response->mutable_disclosure());
        response->set_notified_chats(notified);
      });
}

grpc::ServerUnaryReactor* BusinessServiceImpl::LabelConversation(
    grpc::CallbackServerContext* ctx, const v1::LabelConversationRequest* request,
    v1::LabelConversationResponse*) {
  return AsBusiness(
      ctx, nullptr,
      [this, conv = request->conversation_id(), label = request->label()](
          auto& tx, const auto& business) { desk_.LabelConversation(tx, business, conv, label); });
}

grpc::ServerReadReactor<v1::BusinessServiceUploadMediaRequest>* BusinessServiceImpl::UploadMedia(
    grpc::CallbackServerContext* ctx, v1::BusinessServiceUploadMediaResponse* response) {
  return UploadReactor<
      v1::BusinessServiceUploadMediaRequest,
      v1::BusinessServiceUploadMediaResponse>::Start(ctx, env_, auth::PrincipalKind::kBusiness,
                                                     response);
}

grpc::ServerWriteReactor<v1::BusinessServiceDownloadMediaResponse>*
BusinessServiceImpl::DownloadMedia(grpc::CallbackServerContext* ctx,
                                   const v1::BusinessServiceDownloadMediaRequest* request) {
  return DownloadReactor<v1::BusinessServiceDownloadMediaResponse>::Start(
      ctx, env_, auth::PrincipalKind::kBusiness, request->media_id(), request->offset());
}

grpc::ServerUnaryReactor* BusinessServiceImpl::ReactToMessage(
    grpc::CallbackServerContext* ctx, const v1::ReactToMessageRequest* request,
    v1::ReactToMessageResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return AsBusiness(
      ctx,
      [&] {
        CheckReactionEmoji(request->emoji());
        if (token) CheckSendRate(env_, Sha256(*token));
      },
      [this, conv = request->conversation_id(), msg = request->message_id(),
       emoji = request->emoji(), response](auto& tx, const auto& business) {
        ToProto(desk_.React(tx, business, conv, msg, emoji), response->mutable_reaction());
      });
}

}  // namespace bizrelay::hosting
