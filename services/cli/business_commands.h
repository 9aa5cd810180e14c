#pragma once

#include "services/cli/invocation.h"
#include "services/cli/session.h"

namespace bizrelay::cli {

// BusinessService: a business's inbox, replies, templates, history and profile
// (business API key).
// Each Do runs one command and returns its exit status (see Run).
class BusinessCommands {
 public:
  explicit BusinessCommands(Session& session) : session_(session) {}

  int Do(const v1::StreamInboxRequest& request);
  int Do(const v1::SendReplyRequest& request);
  int Do(const v1::ReactToMessageRequest& request);
  int Do(const v1::MarkMessagesReadRequest& request);
  int Do(const v1::CreateTemplateRequest& request);
  int Do(const v1::ListTemplatesRequest& request);
  int Do(const v1::ListConversationsRequest& request);
  int Do(const v1::ListMessagesRequest& request);
  int Do(const v1::UpdateProfileRequest& request);
  int Do(const v1::CreateWebhookEndpointRequest& request);
  int Do(const v1::ListWebhookEndpointsRequest& request);
  int Do(const v1::UpdateWebhookEndpointRequest& request);
  int Do(const v1::DeleteWebhookEndpointRequest& request);
  // Asks for the handshake, then polls the endpoint until it left VERIFYING (exit 0 if it is
  // ACTIVE) or 15 s passed (exit 1).
  int Do(const v1::TestWebhookEndpointRequest& request);

 private:
  Session& session_;
};

}  // namespace bizrelay::cli
