#include "services/cli/chat_commands.h"

#include <string>

#include "services/cli/format.h"

namespace bizrelay::cli {

int ChatCommands::Do(const v1::GetBusinessDisclosureRequest& request) {
  v1::GetBusinessDisclosureResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.chat().GetBusinessDisclosure(ctx, request, &response); });
  session_.Print(response, FormatDisclosure(response));
  return 0;
}

int ChatCommands::Do(const v1::StartChatRequest& request) {
  if (!session_.inv().assume_yes && !session_.io().interactive) {
    throw UsageError("start: stdin is not a terminal; pass --yes to consent to the terms");
  }
  v1::GetBusinessDisclosureRequest disclosure_request;
  disclosure_request.set_business_id(request.business_id());
  v1::GetBusinessDisclosureResponse disclosure;
  session_.Unary([&](auto* ctx) {
    return session_.chat().GetBusinessDisclosure(ctx, disclosure_request, &disclosure);
  });
  session_.Print(disclosure, FormatDisclosure(disclosure));
  if (!session_.inv().assume_yes) {
    session_.io().err << "\nStart a chat with " << Printable(disclosure.display_name())
                      << " on these terms? [y/N] " << std::flush;
    std::string answer;
    std::getline(session_.io().in, answer);
    if (!IsYes(answer)) {
      session_.io().err << "chat not started\n";
      return 1;
    }
  }
  v1::StartChatRequest start = request;
  start.set_disclosure_version(disclosure.disclosure().version());
  v1::StartChatResponse response;
  session_.Unary([&](auto* ctx) { return session_.chat().StartChat(ctx, start, &response); });
  if (!session_.inv().json) session_.io().out << "\n";
  session_.Print(response, FormatStarted(response));
  return 0;
}

int ChatCommands::Do(const v1::BlockBusinessRequest& request) {
  v1::BlockBusinessResponse response;
  session_.Unary([&](auto* ctx) { return session_.chat().BlockBusiness(ctx, request, &response); });
  session_.Print(response, FormatChatState(response.state()));
  return 0;
}

int ChatCommands::Do(const v1::UnblockBusinessRequest& request) {
  v1::UnblockBusinessResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.chat().UnblockBusiness(ctx, request, &response); });
  session_.Print(response, FormatChatState(response.state()));
  return 0;
}

int ChatCommands::Do(const v1::LeaveChatRequest& request) {
  v1::LeaveChatResponse response;
  session_.Unary([&](auto* ctx) { return session_.chat().LeaveChat(ctx, request, &response); });
  session_.Print(response, FormatChatState(response.state()));
  return 0;
}

int ChatCommands::Do(const v1::SendMessageRequest& request) {
  v1::SendMessageResponse response;
  session_.SendOnce(request.idempotency_key(), [&](auto* ctx) {
    return session_.chat().SendMessage(ctx, request, &response);
  });
  session_.PrintSent(response, request.idempotency_key());
  return 0;
}

int ChatCommands::Do(const v1::MarkReadRequest& request) {
  v1::MarkReadResponse response;
  session_.Unary([&](auto* ctx) { return session_.chat().MarkRead(ctx, request, &response); });
  session_.Print(response, FormatMarked(response.marked()));
  return 0;
}

int ChatCommands::Do(const v1::ListChatsRequest& request) {
  return session_.List<v1::ListChatsResponse>(
      request,
      [&](auto* ctx, const auto& req, auto* page) {
        return session_.chat().ListChats(ctx, req, page);
      },
      [](const auto& page) { return FormatChats(page); });
}

int ChatCommands::Do(const v1::ListChatMessagesRequest& request) {
  return session_.List<v1::ListChatMessagesResponse>(
      request,
      [&](auto* ctx, const auto& req, auto* page) {
        return session_.chat().ListChatMessages(ctx, req, page);
      },
      [](const auto& page) { return FormatMessages(page.messages()); });
}

int ChatCommands::Do(const v1::StreamEventsRequest& request) {
  return session_.Follow<v1::StreamEventsResponse>(
      [&](auto* ctx) { return session_.chat().StreamEvents(ctx, request); },
      [&](int64_t position) {
        v1::AcknowledgeEventsRequest ack;
        ack.set_position(position);
        v1::AcknowledgeEventsResponse response;
        return session_.Call(
            [&](auto* ctx) { return session_.chat().AcknowledgeEvents(ctx, ack, &response); });
      });
}

int ChatCommands::Do(const v1::ReactToChatMessageRequest& request) {
  v1::ReactToChatMessageResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.chat().ReactToChatMessage(ctx, request, &response); });
  session_.Print(response, FormatReaction(response.reaction()));
  return 0;
}

}  // namespace bizrelay::cli
