#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// The rows the hosting repositories read and write (schema `hosting`).
//
// Every repository function runs in the caller's transaction. Lock order, which every caller
// keeps so transactions cannot deadlock: business heads (EventRepository::TakePositions on a
// business), then conversation rows, then message rows, then user heads.
namespace bizrelay::hosting {

enum class Direction : int { kUserToBusiness = 1, kBusinessToUser = 2 };
enum class ChatState : int { kOpen = 1, kLeft = 2, kBlocked = 3 };
// kReaction: the other side's current reaction to a message (read when the event is read).
// kEndpointNotice: in a business's log only, naming a webhook endpoint, not a conversation.
enum class EventKind : int {
  kMessage = 1,
  kStatus = 2,
  kNotice = 3,
  kReaction = 4,
  kEndpointNotice = 5
};
// A side of a chat; values as stored in hosting.message_reactions.party.
enum class Party : int { kUser = 1, kBusiness = 2 };
enum class NoticeKind : int {
  kTermsChanged = 1,
  kChatStarted = 2,
  kChatLeft = 3,
  kBlocked = 4,
  kUnblocked = 5
};
enum class MessageStatus : int { kSent = 1, kDelivered = 2, kRead = 3 };

// Media attached to a message (hosting.media). `sha256` is empty as read from the database
// (`sealed_sha256` set) until opened with the business's data key.
struct MediaRow {
  std::string media_id;
  std::string business_id;
  std::string message_id;  // empty while pending
  std::string mime_type;
  int kind = 0;  // media::MediaKind
  int64_t size_bytes = 0;
  int chunk_bytes = 0;
  std::string sealed_sha256;
  std::string sha256;
};

// One side's reaction to a message. Rows come from the database with `sealed` set; an empty
// `sealed` (in an event) means the reaction was removed.
struct ReactionRow {
  std::string message_id;
  std::string conversation_id;
  Party party = Party::kUser;
  std::string sealed;
  std::string emoji;
  int64_t updated_unix_micros = 0;
};

// A hosted message. Rows come from the database with `sealed` set and `text` empty; the
// domain layer opens them with the business's data key (KeyRing), which also fills `content`
// (a serialized bizrelay.v1.MessageContent, empty for plain text) and `reply_to_message_id`
// (see rich_content.h).
struct MessageRow {
  std::string message_id;
  std::string conversation_id;
  std::string business_id;
  std::string sealed;
  Direction direction = Direction::kUserToBusiness;
  std::string text;
  std::string template_name;
  MessageStatus status = MessageStatus::kSent;
  int64_t created_unix_micros = 0;
  // False only where the read knew that no media is attached (an event log page), so that
  // OpenBodies does not look.
  bool may_have_media = true;
  // Set by OpenBodies when media is attached.
  std::optional<MediaRow> media;
  std::string content;
  std::string reply_to_message_id;
  // Filled only where a read asks for them (history, export).
  std::vector<ReactionRow> reactions;
};

struct ConversationRow {
  std::string conversation_id;
  std::string business_id;
  std::string user_id;
  std::string business_name;
  ChatState state = ChatState::kOpen;
  int64_t consent_version = 0;
  // Seconds since the user's last message (database clock); nullopt if the user never wrote.
  std::optional<double> seconds_since_user_message;
};

struct TermsRow {
  std::string business_id;
  std::string display_name;
  std::string description;
  std::string website;
  int64_t version = 1;
  int64_t lifetime_seconds = 0;
  bool no_storage = false;
  std::string data_use_statement;
  // Lifetimes by conversation label, sorted by label.
  std::vector<std::pair<std::string, int64_t>> label_lifetimes;
};

// A webhook endpoint the relay disabled, with its state when the notice is read.
struct EndpointNoticeRow {
  std::string endpoint_id;
  std::string url;
  std::string reason;
  std::string last_error;
};

struct EventRow {
  int64_t position = 0;
  EventKind kind = EventKind::kMessage;
  std::string conversation_id;
  std::string user_id;
  std::string business_id;
  MessageRow message;                             // kMessage
  std::string message_id;                         // kStatus
  MessageStatus status = MessageStatus::kSent;    // kStatus
  NoticeKind notice = NoticeKind::kTermsChanged;  // kNotice
  TermsRow terms;                                 // kNotice (current terms of the business)
  EndpointNoticeRow endpoint;                     // kEndpointNotice
  ReactionRow reaction;                           // kReaction
};

}  // namespace bizrelay::hosting
