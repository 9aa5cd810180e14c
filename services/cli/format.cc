#include "services/cli/format.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <stdexcept>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace bizrelay::cli {
namespace {

// An enum value's name without its type prefix ("CHAT_STATE_OPEN" -> "OPEN"); the number when
// the value is newer than this client.
std::string Label(const std::string& name, std::string_view prefix, int value) {
  if (name.empty()) return std::to_string(value);
  return name.starts_with(prefix) ? name.substr(prefix.size()) : name;
}

std::string StateLabel(v1::ChatState s) { return Label(v1::ChatState_Name(s), "CHAT_STATE_", s); }

std::string StatusLabel(v1::MessageStatus s) {
  return Label(v1::MessageStatus_Name(s), "MESSAGE_STATUS_", s);
}

std::string NoticeLabel(v1::ChatNotice::Kind k) {
  return Label(v1::ChatNotice::Kind_Name(k), "KIND_", k);
}

std::string AuthorLabel(v1::MessageDirection d) {
  switch (d) {
    case v1::MESSAGE_DIRECTION_USER_TO_BUSINESS:
      return "user";
    case v1::MESSAGE_DIRECTION_BUSINESS_TO_USER:
      return "business";
    default:
      return "?";
  }
}

// RFC 3339 in UTC to the second, or "-" when unset.
std::string Time(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return "-";
  google::protobuf::Timestamp whole = ts;
  whole.set_nanos(0);
  return google::protobuf::util::TimeUtil::ToString(whole);
}

std::string Field(std::string_view name, std::string_view value) {
  return std::string(name) + ": " + Printable(value) + "\n";
}

std::string DisclosureTerms(const v1::Disclosure& d) {
  std::string out = "Terms (disclosure version " + std::to_string(d.version()) + "):\n";
  out += std::string("  hosted by this relay: ") + (d.hosted() ? "yes" : "no") + "\n";
  out += "  kept for: " + std::to_string(d.retention_days()) + " days\n";
  out += "  data use: " +
         (d.data_use_statement().empty() ? "(none given)" : Printable(d.data_use_statement())) +
         "\n";
  return out;
}

// " [media ID TYPE N bytes]" for a message with media, else "".
std::string MediaSuffix(const v1::HostedMessage& m) {
  if (!m.has_media()) return "";
  return " [media " + Printable(m.media().media_id()) + " " + Printable(m.media().mime_type()) +
         " " + std::to_string(m.media().size_bytes()) + " bytes]";
}

std::string PartyLabel(v1::ChatParty p) {
  return p == v1::CHAT_PARTY_USER ? "user" : p == v1::CHAT_PARTY_BUSINESS ? "business" : "?";
}

// What a message carries besides its text, on the same line: the quoted message, the buttons
// or rows offered, the choice made, contact details, reactions.
std::string Details(const v1::HostedMessage& m) {
  std::string out;
  if (!m.reply_to_message_id().empty())
    out += "  [reply to " + Printable(m.reply_to_message_id()) + "]";
  const v1::MessageContent& c = m.content();
  if (c.has_interactive()) {
    const v1::Interactive& in = c.interactive();
    if (in.has_buttons()) {
      out += "  [buttons:";
      for (const auto& b : in.buttons().buttons()) {
        out += " " + Printable(b.id()) + "=" + Printable(b.title());
      }
      out += "]";
    } else if (in.has_list()) {
      out += "  [list " + Printable(in.list().button_text()) + ":";
      for (const auto& s : in.list().sections()) {
        for (const auto& r : s.rows()) out += " " + Printable(r.id()) + "=" + Printable(r.title());
      }
      out += "]";
    }
  } else if (c.has_interactive_reply()) {
    out += "  [chose " + Printable(c.interactive_reply().reply_id()) + " of " +
           Printable(c.interactive_reply().message_id()) + "]";
  } else if (c.has_contacts()) {
    for (const auto& card : c.contacts().cards()) {
      out += "  [" + Printable(card.name());
      for (const auto& p : card.phones()) out += " " + Printable(p.number());
      for (const auto& e : card.emails()) out += " " + Printable(e.address());
      out += "]";
    }
  }
  for (const auto& r : m.reactions()) {
    out += "  [" + PartyLabel(r.reactor()) + " reacted " + Printable(r.emoji()) + "]";
  }
  return out;
}

template <typename Event>
std::string EventLine(const Event& e) {
  std::string out = std::to_string(e.position());
  if (e.has_message()) {
    const v1::HostedMessage& m = e.message();
    out += " message " + Printable(m.conversation_id()) + " " + Printable(m.message_id()) + " " +
           Printable(m.text()) + MediaSuffix(m) + Details(m);
  } else if (e.has_status_change()) {
    const v1::MessageStatusChange& s = e.status_change();
    out += " status " + Printable(s.conversation_id()) + " " + Printable(s.message_id()) + " " +
           StatusLabel(s.status());
  } else if (e.has_notice()) {
    const v1::ChatNotice& n = e.notice();
    out += " notice " + Printable(n.conversation_id()) + " " + NoticeLabel(n.kind());
    if (n.has_disclosure()) out += " version " + std::to_string(n.disclosure().version());
  } else if (e.has_reaction()) {
    const v1::MessageReaction& r = e.reaction();
    out += " reaction " + Printable(r.conversation_id()) + " " + Printable(r.message_id()) + " " +
           PartyLabel(r.reactor()) + " " + (r.emoji().empty() ? "removed" : Printable(r.emoji()));
  } else {
    out += " unknown";
  }
  return out + "\n";
}

std::string InboxLine(const v1::StreamInboxResponse& e) {
  if (!e.has_webhook_notice()) return EventLine(e);
  const v1::WebhookEndpointNotice& n = e.webhook_notice();
  return std::to_string(e.position()) + " webhook " + Printable(n.endpoint_id()) +
         (n.kind() == v1::WebhookEndpointNotice::KIND_DISABLED ? " disabled " : " changed ") +
         Printable(n.reason()) +
         (n.last_error().empty() ? "" : " (" + Printable(n.last_error()) + ")") + "\n";
}

void AppendEscape(std::string* out, const char* format, unsigned value) {
  char buf[8];
  std::snprintf(buf, sizeof buf, format, value);
  *out += buf;
}

}  // namespace

std::string Printable(std::string_view text, bool keep_newlines) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += keep_newlines ? "\n" : "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      AppendEscape(&out, "\\x%02x", c);
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      AppendEscape(&out, "\\u%04x", static_cast<unsigned char>(text[++i]));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) throw std::runtime_error("cannot print as JSON: " + status.ToString());
  return out;
}

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

std::string ErrorReason(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) {
    return "";
  }
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info.reason();
  }
  return "";
}

std::string FormatError(const grpc::Status& status) {
  std::string out = "error: " + StatusCodeName(status.error_code());
  if (std::string reason = ErrorReason(status); !reason.empty()) out += " " + Printable(reason);
  return out + ": " + Printable(status.error_message()) + "\n";
}

std::string FormatRegistered(const v1::RegisterUserResponse& response) {
  return Field("user_id", response.profile().user_id()) + Field("token", response.token());
}

std::string FormatCreatedBusiness(const v1::CreateBusinessResponse& response) {
  return Field("business_id", response.business().business_id()) +
         Field("api_key", response.api_key());
}

std::string FormatRotatedKey(const v1::RotateBusinessKeyResponse& response) {
  return Field("api_key", response.api_key());
}

std::string FormatProfile(const v1::UserProfile& profile) {
  return Field("user_id", profile.user_id()) + Field("display_name", profile.display_name()) +
         Field("created", Time(profile.create_time()));
}

std::string FormatBusiness(const v1::Business& business) {
  const v1::BusinessProfile& p = business.profile();
  return Field("business_id", business.business_id()) + Field("display_name", p.display_name()) +
         Field("description", p.description()) + Field("website", p.website()) +
         Field("state", Label(v1::BusinessState_Name(business.state()), "BUSINESS_STATE_",
                              business.state())) +
         Field("created", Time(business.create_time()));
}

std::string FormatDisclosure(const v1::GetBusinessDisclosureResponse& response) {
  std::string out = Printable(response.display_name()) + " (business " +
                    Printable(response.business_id()) + ")\n";
  if (!response.description().empty()) out += "  " + Printable(response.description()) + "\n";
  if (!response.website().empty()) out += "  " + Printable(response.website()) + "\n";
  out += "\n" + Printable(response.disclosure().summary(), /*keep_newlines=*/true) + "\n\n";
  return out + DisclosureTerms(response.disclosure());
}

std::string FormatStarted(const v1::StartChatResponse& response) {
  return Field("conversation_id", response.conversation_id()) + FormatChatState(response.state());
}

std::string FormatChatState(v1::ChatState state) { return Field("state", StateLabel(state)); }

std::string FormatMedia(const v1::MediaInfo& media) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string sha;
  for (unsigned char c : media.sha256()) {
    sha += kHex[c >> 4];
    sha += kHex[c & 15];
  }
  return Field("media_id", media.media_id()) + Field("mime_type", media.mime_type()) +
         Field("size_bytes", std::to_string(media.size_bytes())) + Field("sha256", sha);
}

std::string FormatSent(const v1::HostedMessage& message, bool replayed, std::string_view key) {
  std::string out = Field("message_id", message.message_id()) +
                    Field("conversation_id", message.conversation_id()) +
                    Field("status", StatusLabel(message.status()));
  if (!message.template_name().empty() || message.has_content()) {
    out += Field("text", message.text());
  }
  if (message.has_media()) out += FormatMedia(message.media());
  if (replayed) out += "replayed: true (an earlier call with this key was stored)\n";
  if (!key.empty()) out += Field("idempotency_key", key);
  return out;
}

std::string FormatMarked(int32_t marked) { return "marked: " + std::to_string(marked) + "\n"; }

std::string FormatChats(const v1::ListChatsResponse& response) {
  std::string out;
  for (const v1::UserChat& c : response.chats()) {
    out += Printable(c.conversation_id()) + "  " + Printable(c.business_id()) + "  " +
           StateLabel(c.state()) + "  " + Printable(c.business_display_name()) + "\n";
  }
  return out;
}

std::string FormatMessages(const google::protobuf::RepeatedPtrField<v1::HostedMessage>& messages) {
  std::string out;
  for (const v1::HostedMessage& m : messages) {
    out += Time(m.create_time()) + "  " + Printable(m.message_id()) + "  " +
           AuthorLabel(m.direction()) + "  " + StatusLabel(m.status()) + "  " +
           Printable(m.text()) + MediaSuffix(m) + Details(m) + "\n";
  }
  return out;
}

std::string FormatEvent(const v1::StreamEventsResponse& event) { return EventLine(event); }

std::string FormatEvent(const v1::StreamInboxResponse& event) { return InboxLine(event); }

std::string FormatReaction(const v1::MessageReaction& reaction) {
  return Field("message_id", reaction.message_id()) +
         Field("reaction", reaction.emoji().empty() ? "removed" : reaction.emoji());
}

std::string FormatTemplates(const google::protobuf::RepeatedPtrField<v1::Template>& templates) {
  std::string out;
  for (const v1::Template& t : templates) {
    std::string params;
    for (const std::string& p : t.parameters()) {
      params += (params.empty() ? "" : ",") + Printable(p);
    }
    out += Printable(t.name()) + "  (" + params + ")  " + Printable(t.body());
    if (!t.quick_replies().empty()) {
      out += "  [buttons:";
      for (const auto& b : t.quick_replies())
        out += " " + Printable(b.id()) + "=" + Printable(b.title());
      out += "]";
    }
    out += "\n";
  }
  return out;
}

std::string FormatWebhookEndpoints(
    const google::protobuf::RepeatedPtrField<v1::WebhookEndpoint>& endpoints) {
  std::string out;
  for (const v1::WebhookEndpoint& e : endpoints) {
    std::string state = e.state() == v1::WEBHOOK_ENDPOINT_STATE_ACTIVE      ? "active"
                        : e.state() == v1::WEBHOOK_ENDPOINT_STATE_VERIFYING ? "verifying"
                                                                            : "disabled";
    std::string kinds;
    for (int k : e.event_kinds()) {
      kinds += std::string(kinds.empty() ? "" : ",") +
               (k == v1::WEBHOOK_EVENT_KIND_MESSAGE         ? "message"
                : k == v1::WEBHOOK_EVENT_KIND_STATUS_CHANGE ? "status"
                                                            : "notice");
    }
    out +=
        Printable(e.endpoint_id()) + "  " + Printable(e.url()) + "  " + state + "  " + kinds +
        "  backlog=" + std::to_string(e.backlog()) +
        " oldest=" + std::to_string(e.oldest_event_age_seconds()) + "s" +
        "  last_success=" + (e.has_last_success_time() ? Time(e.last_success_time()) : "-") +
        "  last_error=" +
        (e.last_error().empty() ? "-"
                                : Printable(e.last_error()) + " at " + Time(e.last_error_time()));
    if (!e.disabled_reason().empty()) out += "  (" + Printable(e.disabled_reason()) + ")";
    out += "\n";
  }
  return out;
}

std::string FormatConversations(const v1::ListConversationsResponse& response) {
  std::string out;
  for (const v1::BusinessConversation& c : response.conversations()) {
    out += Printable(c.conversation_id()) + "  " + Printable(c.user_id()) + "  " +
           StateLabel(c.state()) + "  " +
           (c.service_window_open() ? "window-open" : "window-closed") + "\n";
  }
  return out;
}

std::string FormatProfileUpdate(const v1::UpdateProfileResponse& response) {
  return DisclosureTerms(response.disclosure()) +
         "notified_chats: " + std::to_string(response.notified_chats()) + "\n";
}

}  // namespace bizrelay::cli
