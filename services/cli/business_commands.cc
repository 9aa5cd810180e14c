#include "services/cli/business_commands.h"

#include "services/cli/format.h"

namespace bizrelay::cli {

int BusinessCommands::Do(const v1::StreamInboxRequest& request) {
  return session_.Follow<v1::StreamInboxResponse>(
      [&](auto* ctx) { return session_.business().StreamInbox(ctx, request); },
      [&](int64_t position) {
        v1::AcknowledgeInboxRequest ack;
        ack.set_position(position);
        v1::AcknowledgeInboxResponse response;
        return session_.Call(
            [&](auto* ctx) { return session_.business().AcknowledgeInbox(ctx, ack, &response); });
      });
}

int BusinessCommands::Do(const v1::SendReplyRequest& request) {
  v1::SendReplyResponse response;
  session_.SendOnce(request.idempotency_key(), [&](auto* ctx) {
    return session_.business().SendReply(ctx, request, &response);
  });
  session_.PrintSent(response, request.idempotency_key());
  return 0;
}

int BusinessCommands::Do(const v1::MarkMessagesReadRequest& request) {
  v1::MarkMessagesReadResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.business().MarkMessagesRead(ctx, request, &response); });
  session_.Print(response, FormatMarked(response.marked()));
  return 0;
}

int BusinessCommands::Do(const v1::CreateTemplateRequest& request) {
  v1::CreateTemplateResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.business().CreateTemplate(ctx, request, &response); });
  google::protobuf::RepeatedPtrField<v1::Template> created;
  *created.Add() = response.template_();
  session_.Print(response, FormatTemplates(created));
  return 0;
}

int BusinessCommands::Do(const v1::ListTemplatesRequest& request) {
  v1::ListTemplatesResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.business().ListTemplates(ctx, request, &response); });
  session_.Print(response, FormatTemplates(response.templates()));
  return 0;
}

int BusinessCommands::Do(const v1::ListConversationsRequest& request) {
  return session_.List<v1::ListConversationsResponse>(
      request,
      [&](auto* ctx, const auto& req, auto* page) {
        return session_.business().ListConversations(ctx, req, page);
      },
      [](const auto& page) { return FormatConversations(page); });
}

int BusinessCommands::Do(const v1::ListMessagesRequest& request) {
  return session_.List<v1::ListMessagesResponse>(
      request,
      [&](auto* ctx, const auto& req, auto* page) {
        return session_.business().ListMessages(ctx, req, page);
      },
      [](const auto& page) { return FormatMessages(page.messages()); });
}

int BusinessCommands::Do(const v1::UpdateProfileRequest& request) {
  v1::UpdateProfileResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.business().UpdateProfile(ctx, request, &response); });
  session_.Print(response, FormatProfileUpdate(response));
  return 0;
}

}  // namespace bizrelay::cli
