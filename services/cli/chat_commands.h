#pragma once

#include "services/cli/invocation.h"
#include "services/cli/session.h"

namespace bizrelay::cli {

// UserChatService: a user's chats with businesses (user token).
// Each Do runs one command and returns its exit status (see Run).
class ChatCommands {
 public:
  explicit ChatCommands(Session& session) : session_(session) {}

  int Do(const v1::GetBusinessDisclosureRequest& request);
  // Consent is given to the disclosure version shown here; if the business changes its terms
  // in between, StartChat fails with DISCLOSURE_CHANGED and nothing is started.
  int Do(const v1::StartChatRequest& request);
  int Do(const v1::BlockBusinessRequest& request);
  int Do(const v1::UnblockBusinessRequest& request);
  int Do(const v1::LeaveChatRequest& request);
  int Do(const v1::SendMessageRequest& request);
  int Do(const v1::MarkReadRequest& request);
  int Do(const v1::ListChatsRequest& request);
  int Do(const v1::ListChatMessagesRequest& request);
  int Do(const v1::StreamEventsRequest& request);
  int Do(const v1::ReactToChatMessageRequest& request);

 private:
  Session& session_;
};

}  // namespace bizrelay::cli
