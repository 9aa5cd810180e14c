#include "services/hosting/user_chat_service.h"

#include "services/hosting/convert.h"
#include "services/hosting/event_stream.h"
#include "services/hosting/media_streams.h"
#include "services/hosting/rich_content.h"
#include "services/platform/token.h"
#include "services/platform/validate.h"
#include "services/rpc/bearer.h"

namespace bizrelay::hosting {

void CheckSendRate(const HostingEnv& env, const std::string& token_hash) {
  std::chrono::milliseconds retry{0};
  if (!env.send_limiter->TryAcquire(token_hash, &retry)) {
    throw Error(ErrorCode::kResourceExhausted, "RATE_LIMITED", "too many sends; slow down",
                {{"retry_delay_ms", std::to_string(retry.count())}});
  }
}

namespace {

Error SendError(const PostResult& result) {
  switch (result.outcome) {
    case PostOutcome::kPolicyRequired:
      return Error(ErrorCode::kFailedPrecondition, "POLICY_ACCEPTANCE_REQUIRED",
                   "accept policy version " + result.required_policy + " to send again",
                   {{"version", result.required_policy}});
    case PostOutcome::kUnauthenticated:
      return Error(ErrorCode::kUnauthenticated, "UNAUTHENTICATED",
                   "missing, unknown or revoked credential");
    case PostOutcome::kUnknownBusiness:
      return NotFound("business");
    case PostOutcome::kNotStarted:
      return Error(ErrorCode::kFailedPrecondition, "CHAT_NOT_STARTED",
                   "start the chat (StartChat) before sending");
    case PostOutcome::kNotOpen:
      return Error(ErrorCode::kFailedPrecondition, "CHAT_NOT_OPEN",
                   "the chat is left or the business is blocked; start or unblock it first");
    case PostOutcome::kKeyReused:
      return Error(ErrorCode::kAlreadyExists, "IDEMPOTENCY_KEY_REUSED",
                   "this idempotency key was used for a different message");
    default:
      return Error(ErrorCode::kInternal, "INTERNAL", "unexpected send outcome");
  }
}

// Finishes a send from its batch's outcome.
void FinishSend(grpc::ServerUnaryReactor* reactor, v1::SendMessageResponse* response,
                const PostResult* result, const Error* error) {
  if (error != nullptr) {
    reactor->Finish(rpc::ToGrpcStatus(*error));
    return;
  }
  if (result->outcome != PostOutcome::kStored && result->outcome != PostOutcome::kReplayed) {
    reactor->Finish(rpc::ToGrpcStatus(SendError(*result)));
    return;
  }
  if (result->message.text.starts_with(kRichBodyMarker)) {
    // A rich send: the batcher sealed the encoded body; answer with its parts.
    MessageRow m = result->message;
    if (auto parts = DecodeBody(m.text)) {
      m.text = std::move(parts->text);
      m.content = std::move(parts->content);
      m.reply_to_message_id = std::move(parts->reply_to_message_id);
    }
    ToProto(m, response->mutable_message());
  } else {
    ToProto(result->message, response->mutable_message());
  }
  response->set_replayed(result->outcome == PostOutcome::kReplayed);
  reactor->Finish(grpc::Status::OK);
}

}  // namespace

grpc::ServerUnaryReactor* UserChatServiceImpl::AsUser(
    grpc::CallbackServerContext* ctx,
    std::function<void(pqxx::transaction_base&, const std::string&)> work) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(ctx, env_.rpc, nullptr,
                       [this, token, work = std::move(work)](pqxx::connection& conn) {
                         pqxx::work tx(conn);
                         auto user = env_.auth->Require(tx, token, auth::PrincipalKind::kUser);
                         work(tx, user.id);
                         tx.commit();
                       });
}

grpc::ServerUnaryReactor* UserChatServiceImpl::GetBusinessDisclosure(
    grpc::CallbackServerContext* ctx, const v1::GetBusinessDisclosureRequest* request,
    v1::GetBusinessDisclosureResponse* response) {
  return AsUser(ctx, [this, id = request->business_id(), response](auto& tx, const auto&) {
    auto view = chats_.Disclosure(tx, id);
    response->set_business_id(view.terms.business_id);
    response->set_display_name(view.terms.display_name);
    response->set_description(view.terms.description);
    response->set_website(view.terms.website);
    ToProto(view, response->mutable_disclosure());
  });
}

grpc::ServerUnaryReactor* UserChatServiceImpl::StartChat(grpc::CallbackServerContext* ctx,
                                                         const v1::StartChatRequest* request,
                                                         v1::StartChatResponse* response) {
  return AsUser(ctx, [this, id = request->business_id(), version = request->disclosure_version(),
                      response](auto& tx, const std::string& user) {
    response->set_conversation_id(chats_.StartChat(tx, user, id, version));
    response->set_state(v1::CHAT_STATE_OPEN);
  });
}

grpc::ServerUnaryReactor* UserChatServiceImpl::BlockBusiness(
    grpc::CallbackServerContext* ctx, const v1::BlockBusinessRequest* request,
    v1::BlockBusinessResponse* response) {
  return AsUser(ctx, [this, id = request->business_id(), response](auto& tx, const auto& user) {
    response->set_state(ToProto(chats_.Block(tx, user, id)));
  });
}

grpc::ServerUnaryReactor* UserChatServiceImpl::UnblockBusiness(
    grpc::CallbackServerContext* ctx, const v1::UnblockBusinessRequest* request,
    v1::UnblockBusinessResponse* response) {
  return AsUser(ctx, [this, id = request->business_id(), response](auto& tx, const auto& user) {
    response->set_state(ToProto(chats_.Unblock(tx, user, id)));
  });
}

grpc::ServerUnaryReactor* UserChatServiceImpl::LeaveChat(grpc::CallbackServerContext* ctx,
                                                         const v1::LeaveChatRequest* request,
                                                         v1::LeaveChatResponse* response) {
  return AsUser(ctx, [this, id = request->business_id(), response](auto& tx, const auto& user) {
    response->set_state(ToProto(chats_.Leave(tx, user, id)));
  });
}

grpc::ServerUnaryReactor* UserChatServiceImpl::SendMessage(grpc::CallbackServerContext* ctx,
                                                           const v1::SendMessageRequest* request,
                                                           v1::SendMessageResponse* response) {
  if (!request->media_id().empty()) return SendMessageWithMedia(ctx, request, response);
  auto* reactor = ctx->DefaultReactor();
  PostItem item;
  UserChats::Send send{
      request->business_id(), request->text(),
      request->has_content() ? std::optional<v1::MessageContent>(request->content()) : std::nullopt,
      request->reply_to_message_id()};
  try {
    auto token = rpc::BearerToken(ctx->client_metadata());
    if (!token) {
      throw Error(ErrorCode::kUnauthenticated, "UNAUTHENTICATED",
                  "missing, unknown or revoked credential");
    }
    chats_.CheckSend(send);
    CheckIdempotencyKey(request->idempotency_key(), *env_.options);
    item.token_hash = Sha256(*token);
    CheckSendRate(env_, item.token_hash);
  } catch (const Error& e) {
    reactor->Finish(rpc::ToGrpcStatus(e));
    return reactor;
  }
  item.business_id = request->business_id();
  item.idempotency_key = request->idempotency_key();
  item.request_hash = UserChats::RequestHashOf(send);
  if (send.rich()) {
    SubmitRichSend(reactor, ctx, *rpc::BearerToken(ctx->client_metadata()), std::move(item),
                   std::move(send), response);
    return reactor;
  }
  // Plain text: straight to the batcher, as before rich content existed.
  item.text = std::move(send.text);
  env_.batcher->Submit(
      std::move(item),
      [reactor, response](const PostResult* result, const Error* error) {
        FinishSend(reactor, response, result, error);
      },
      rpc::CallDeadline(ctx, env_.rpc.call_timeout));
  return reactor;
}

void UserChatServiceImpl::SubmitRichSend(grpc::ServerUnaryReactor* reactor,
                                         grpc::CallbackServerContext* ctx, std::string token,
                                         PostItem item, UserChats::Send send,
                                         v1::SendMessageResponse* response) {
  auto deadline = rpc::CallDeadline(ctx, env_.rpc.call_timeout);
  env_.rpc.pool->Submit(
      [this, reactor, response, token, item, send, deadline](pqxx::connection& conn) {
        PostItem post = item;
        {
          pqxx::work tx(conn);
          auto user = env_.auth->Require(tx, token, auth::PrincipalKind::kUser);
          post.text = chats_.PrepareRichSend(tx, user.id, send);
          tx.commit();
        }
        // Submitted last: nothing after it throws, so the pool never runs this twice once it is
        // submitted.
        env_.batcher->Submit(
            std::move(post),
            [reactor, response](const PostResult* result, const Error* error) {
              FinishSend(reactor, response, result, error);
            },
            deadline);
      },
      [reactor](const Error& e) { reactor->Finish(rpc::ToGrpcStatus(e)); }, deadline);
}

grpc::ServerUnaryReactor* UserChatServiceImpl::ReactToChatMessage(
    grpc::CallbackServerContext* ctx, const v1::ReactToChatMessageRequest* request,
    v1::ReactToChatMessageResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  if (token) {
    try {
      CheckReactionEmoji(request->emoji());
      CheckSendRate(env_, Sha256(*token));
    } catch (const Error& e) {
      auto* reactor = ctx->DefaultReactor();
      reactor->Finish(rpc::ToGrpcStatus(e));
      return reactor;
    }
  }
  return AsUser(ctx, [this, conv = request->conversation_id(), msg = request->message_id(),
                      emoji = request->emoji(), response](auto& tx, const auto& user) {
    ToProto(chats_.React(tx, user, conv, msg, emoji), response->mutable_reaction());
  });
}

grpc::ServerUnaryReactor* UserChatServiceImpl::MarkRead(grpc::CallbackServerContext* ctx,
                                                        const v1::MarkReadRequest* request,
                                                        v1::MarkReadResponse* response) {
  return AsUser(ctx, [this, conv = request->conversation_id(), msg = request->message_id(),
                      response](auto& tx, const auto& user) {
    response->set_marked(chats_.MarkRead(tx, user, conv, msg));
  });
}

grpc::ServerUnaryReactor* UserChatServiceImpl::ListChats(grpc::CallbackServerContext* ctx,
                                                         const v1::ListChatsRequest* request,
                                                         v1::ListChatsResponse* response) {
  return AsUser(ctx, [this, size = request->page_size(), token = request->page_token(), response](
                         auto& tx, const auto& user) {
    auto page = chats_.ListChats(tx, user, size, token);
    for (const auto& c : page.items) {
      auto* chat = response->add_chats();
      chat->set_conversation_id(c.conversation_id);
      chat->set_business_id(c.business_id);
      chat->set_business_display_name(c.business_name);
      chat->set_state(ToProto(c.state));
      chat->set_consented_disclosure_version(c.consent_version);
    }
    response->set_next_page_token(page.next_page_token);
  });
}

grpc::ServerUnaryReactor* UserChatServiceImpl::ListChatMessages(
    grpc::CallbackServerContext* ctx, const v1::ListChatMessagesRequest* request,
    v1::ListChatMessagesResponse* response) {
  return AsUser(ctx, [this, conv = request->conversation_id(), size = request->page_size(),
                      token = request->page_token(), response](auto& tx, const auto& user) {
    auto page = chats_.ListMessages(tx, user, conv, size, token);
    for (const auto& m : page.items) ToProto(m, response->add_messages());
    response->set_next_page_token(page.next_page_token);
  });
}

grpc::ServerWriteReactor<v1::StreamEventsResponse>* UserChatServiceImpl::StreamEvents(
    grpc::CallbackServerContext* ctx, const v1::StreamEventsRequest* request) {
  return StartEventStream<v1::StreamEventsResponse>(ctx, env_, auth::PrincipalKind::kUser,
                                                    request->after_position());
}

grpc::ServerUnaryReactor* UserChatServiceImpl::AcknowledgeEvents(
    grpc::CallbackServerContext* ctx, const v1::AcknowledgeEventsRequest* request,
    v1::AcknowledgeEventsResponse* response) {
  return AsUser(ctx, [this, pos = request->position(), response](auto& tx, const auto& user) {
    response->set_acknowledged_position(chats_.Acknowledge(tx, user, pos));
  });
}

grpc::ServerUnaryReactor* UserChatServiceImpl::SendMessageWithMedia(
    grpc::CallbackServerContext* ctx, const v1::SendMessageRequest* request,
    v1::SendMessageResponse* response) {
  auto token = rpc::BearerToken(ctx->client_metadata());
  PostItem item;
  item.business_id = request->business_id();
  item.idempotency_key = request->idempotency_key();
  item.text = request->text();
  item.request_hash = RequestHash({item.business_id, item.text, "media", request->media_id()});
  if (token) item.token_hash = Sha256(*token);
  return rpc::RunUnary(
      ctx, env_.rpc,
      [&] {
        if (!token) {
          throw Error(ErrorCode::kUnauthenticated, "UNAUTHENTICATED",
                      "missing, unknown or revoked credential");
        }
        CheckCaption("text", request->text(), *env_.options);
        if (request->has_content()) {
          throw InvalidField("content", "media goes with a caption in text, not with content");
        }
        if (!request->reply_to_message_id().empty()) {
          throw InvalidField(
              "reply_to_message_id",
              "a message with media cannot quote another; send the quote on its own");
        }
        CheckIdempotencyKey(request->idempotency_key(), *env_.options);
        CheckId("business", request->business_id());
        CheckId("media", request->media_id());
        CheckSendRate(env_, item.token_hash);
      },
      [this, token, item, media_id = request->media_id(), response](pqxx::connection& conn) {
        pqxx::work tx(conn);
        auto user = env_.auth->Require(tx, token, auth::PrincipalKind::kUser);
        auto result = MessageRepository::PostUserMessages(tx, {item}, *env_.keys,
                                                          env_.options->default_lifetime_seconds)
                          .at(0);
        if (result.outcome == PostOutcome::kStored) {
          result.message.media = AttachUpload(tx, *env_.keys, media_id, user.id,
                                              /*user_uploaded=*/true, result.message);
        } else if (result.outcome == PostOutcome::kReplayed) {
          result.message.media = MediaOfMessage(tx, *env_.keys, result.message);
        } else {
          throw SendError(result);
        }
        tx.commit();
        ToProto(result.message, response->mutable_message());
        response->set_replayed(result.outcome == PostOutcome::kReplayed);
      });
}

grpc::ServerReadReactor<v1::UploadMediaRequest>* UserChatServiceImpl::UploadMedia(
    grpc::CallbackServerContext* ctx, v1::UploadMediaResponse* response) {
  return UploadReactor<v1::UploadMediaRequest, v1::UploadMediaResponse>::Start(
      ctx, env_, auth::PrincipalKind::kUser, response);
}

grpc::ServerWriteReactor<v1::DownloadMediaResponse>* UserChatServiceImpl::DownloadMedia(
    grpc::CallbackServerContext* ctx, const v1::DownloadMediaRequest* request) {
  return DownloadReactor<v1::DownloadMediaResponse>::Start(ctx, env_, auth::PrincipalKind::kUser,
                                                           request->media_id(), request->offset());
}

}  // namespace bizrelay::hosting
