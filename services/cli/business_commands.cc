#include "services/cli/business_commands.h"

#include <chrono>
#include <thread>

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

int BusinessCommands::Do(const v1::CreateWebhookEndpointRequest& request) {
  v1::CreateWebhookEndpointResponse response;
  session_.Unary([&](auto* ctx) {
    return session_.business().CreateWebhookEndpoint(ctx, request, &response);
  });
  google::protobuf::RepeatedPtrField<v1::WebhookEndpoint> one;
  *one.Add() = response.endpoint();
  session_.Print(response, FormatWebhookEndpoints(one) + "signing secret (shown only now): " +
                               Printable(response.signing_secret()) + "\n");
  return 0;
}

int BusinessCommands::Do(const v1::ListWebhookEndpointsRequest& request) {
  v1::ListWebhookEndpointsResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.business().ListWebhookEndpoints(ctx, request, &response); });
  session_.Print(response, FormatWebhookEndpoints(response.endpoints()));
  return 0;
}

int BusinessCommands::Do(const v1::UpdateWebhookEndpointRequest& request) {
  v1::UpdateWebhookEndpointResponse response;
  session_.Unary([&](auto* ctx) {
    return session_.business().UpdateWebhookEndpoint(ctx, request, &response);
  });
  google::protobuf::RepeatedPtrField<v1::WebhookEndpoint> one;
  *one.Add() = response.endpoint();
  std::string human = FormatWebhookEndpoints(one);
  if (!response.signing_secret().empty()) {
    human += "new signing secret (shown only now): " + Printable(response.signing_secret()) + "\n";
  }
  session_.Print(response, human);
  return 0;
}

int BusinessCommands::Do(const v1::DeleteWebhookEndpointRequest& request) {
  v1::DeleteWebhookEndpointResponse response;
  session_.Unary([&](auto* ctx) {
    return session_.business().DeleteWebhookEndpoint(ctx, request, &response);
  });
  session_.Print(response, "deleted " + Printable(request.endpoint_id()) + "\n");
  return 0;
}

int BusinessCommands::Do(const v1::TestWebhookEndpointRequest& request) {
  v1::TestWebhookEndpointResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.business().TestWebhookEndpoint(ctx, request, &response); });
  v1::WebhookEndpoint endpoint = response.endpoint();
  // A failure of this handshake is one recorded after the request.
  const google::protobuf::Timestamp failed_before = endpoint.last_error_time();
  auto failed_now = [&] {
    return endpoint.last_error_time().seconds() != failed_before.seconds() ||
           endpoint.last_error_time().nanos() != failed_before.nanos();
  };
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (endpoint.state() == v1::WEBHOOK_ENDPOINT_STATE_VERIFYING && !failed_now() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    v1::GetWebhookEndpointRequest get;
    get.set_endpoint_id(request.endpoint_id());
    v1::GetWebhookEndpointResponse got;
    session_.Unary(
        [&](auto* ctx) { return session_.business().GetWebhookEndpoint(ctx, get, &got); });
    endpoint = got.endpoint();
  }
  google::protobuf::RepeatedPtrField<v1::WebhookEndpoint> one;
  *one.Add() = endpoint;
  session_.Print(endpoint, FormatWebhookEndpoints(one));
  return endpoint.state() == v1::WEBHOOK_ENDPOINT_STATE_ACTIVE ? 0 : 1;
}

int BusinessCommands::Do(const v1::ReactToMessageRequest& request) {
  v1::ReactToMessageResponse response;
  session_.Unary(
      [&](auto* ctx) { return session_.business().ReactToMessage(ctx, request, &response); });
  session_.Print(response, FormatReaction(response.reaction()));
  return 0;
}

}  // namespace bizrelay::cli
