#pragma once

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <string>
#include <string_view>

#include "bizrelay/v1/account_service.pb.h"
#include "bizrelay/v1/business_service.pb.h"
#include "bizrelay/v1/hosting_types.pb.h"
#include "bizrelay/v1/operator_service.pb.h"
#include "bizrelay/v1/user_chat_service.pb.h"

// Human-readable output. Every function returns whole lines, each ending in '\n'. Text that
// comes from the relay (names, messages, statements) passes through Printable, so a message
// can neither break the one-line-per-item layout nor send escape sequences to the terminal.
namespace bizrelay::cli {

// `text` with control characters (C0, DEL and the UTF-8 encoded C1 range) written as escapes
// (\n, \t, \x1b, \u009b). Newlines are kept as they are when `keep_newlines` is set.
std::string Printable(std::string_view text, bool keep_newlines = false);

// `message` in the proto3 JSON mapping on one line (no trailing newline), with fields at their
// default values included so scripts see every field.
std::string ToJson(const google::protobuf::Message& message);

// The name of a status code as in the gRPC spec ("NOT_FOUND").
std::string StatusCodeName(grpc::StatusCode code);

// The reason of the google.rpc.ErrorInfo in the status details, or "" if there is none.
std::string ErrorReason(const grpc::Status& status);

// "error: <CODE> <REASON>: <message>\n" (the reason left out when the relay gave none).
std::string FormatError(const grpc::Status& status);

// Accounts and operator. These show a newly issued token or key: that is their purpose.
std::string FormatRegistered(const v1::RegisterUserResponse& response);
std::string FormatCreatedBusiness(const v1::CreateBusinessResponse& response);
std::string FormatRotatedKey(const v1::RotateBusinessKeyResponse& response);
std::string FormatProfile(const v1::UserProfile& profile);
std::string FormatBusiness(const v1::Business& business);

// User side.
std::string FormatDisclosure(const v1::GetBusinessDisclosureResponse& response);
std::string FormatStarted(const v1::StartChatResponse& response);
std::string FormatChatState(v1::ChatState state);
// `key` is shown when not empty (a generated idempotency key the user may need to retry).
// media_id, mime_type, size_bytes and the hex SHA-256, one per line.
std::string FormatMedia(const v1::MediaInfo& media);
std::string FormatSent(const v1::HostedMessage& message, bool replayed, std::string_view key);
std::string FormatMarked(int32_t marked);
std::string FormatChats(const v1::ListChatsResponse& response);
// One line per message: time, id, author, status, text.
std::string FormatMessages(const google::protobuf::RepeatedPtrField<v1::HostedMessage>& messages);
// One line per event: position, kind (message, status, notice), conversation, then the text,
// the status or the notice.
std::string FormatEvent(const v1::StreamEventsResponse& event);
std::string FormatEvent(const v1::StreamInboxResponse& event);
// A reaction as set (or removed).
std::string FormatReaction(const v1::MessageReaction& reaction);

// Business side.
std::string FormatTemplates(const google::protobuf::RepeatedPtrField<v1::Template>& templates);
// One line per endpoint: id, URL, state, kinds, backlog, last success and last error.
std::string FormatWebhookEndpoints(
    const google::protobuf::RepeatedPtrField<v1::WebhookEndpoint>& endpoints);
std::string FormatConversations(const v1::ListConversationsResponse& response);
std::string FormatProfileUpdate(const v1::UpdateProfileResponse& response);

}  // namespace bizrelay::cli
