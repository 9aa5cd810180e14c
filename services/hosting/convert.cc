#include "services/hosting/convert.h"

#include <google/protobuf/util/time_util.h>

namespace bizrelay::hosting {
namespace {

v1::MessageStatus StatusOf(MessageStatus s) {
  switch (s) {
    case MessageStatus::kSent:
      return v1::MESSAGE_STATUS_SENT;
    case MessageStatus::kDelivered:
      return v1::MESSAGE_STATUS_DELIVERED;
    case MessageStatus::kRead:
      return v1::MESSAGE_STATUS_READ;
  }
  return v1::MESSAGE_STATUS_UNSPECIFIED;
}

v1::ChatNotice::Kind NoticeOf(NoticeKind k) {
  switch (k) {
    case NoticeKind::kTermsChanged:
      return v1::ChatNotice::KIND_TERMS_CHANGED;
    case NoticeKind::kChatStarted:
      return v1::ChatNotice::KIND_CHAT_STARTED;
    case NoticeKind::kChatLeft:
      return v1::ChatNotice::KIND_CHAT_LEFT;
    case NoticeKind::kBlocked:
      return v1::ChatNotice::KIND_CHAT_BLOCKED;
    case NoticeKind::kUnblocked:
      return v1::ChatNotice::KIND_CHAT_UNBLOCKED;
  }
  return v1::ChatNotice::KIND_UNSPECIFIED;
}

v1::ChatParty PartyOf(Party p) {
  return p == Party::kUser ? v1::CHAT_PARTY_USER : v1::CHAT_PARTY_BUSINESS;
}

// Fills the oneof shared by both stream responses.
template <typename Response>
void FillEvent(const EventRow& e, Response* out) {
  out->set_position(e.position);
  switch (e.kind) {
    case EventKind::kMessage:
      ToProto(e.message, out->mutable_message());
      break;
    case EventKind::kStatus: {
      auto* s = out->mutable_status_change();
      s->set_message_id(e.message_id);
      s->set_conversation_id(e.conversation_id);
      s->set_status(StatusOf(e.status));
      break;
    }
    case EventKind::kNotice: {
      auto* n = out->mutable_notice();
      n->set_conversation_id(e.conversation_id);
      n->set_kind(NoticeOf(e.notice));
      if (e.notice == NoticeKind::kTermsChanged) {
        DisclosureView view{
            e.terms,
            DisclosureSummary(e.terms.display_name, e.terms.lifetime_seconds, e.terms.no_storage,
                              e.terms.label_lifetimes, e.terms.data_use_statement)};
        ToProto(view, n->mutable_disclosure());
      }
      break;
    }
    case EventKind::kReaction:
      ToProto(e.reaction, out->mutable_reaction());
      break;
    case EventKind::kEndpointNotice:
      break;  // only in a business's inbox: see ToProto(EventRow, StreamInboxResponse*)
  }
}

}  // namespace

void ToProto(const MessageRow& m, v1::HostedMessage* out) {
  out->set_message_id(m.message_id);
  out->set_conversation_id(m.conversation_id);
  out->set_direction(m.direction == Direction::kUserToBusiness
                         ? v1::MESSAGE_DIRECTION_USER_TO_BUSINESS
                         : v1::MESSAGE_DIRECTION_BUSINESS_TO_USER);
  out->set_text(m.text);
  out->set_template_name(m.template_name);
  out->set_status(StatusOf(m.status));
  *out->mutable_create_time() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(m.created_unix_micros);
  if (m.media) ToProto(*m.media, out->mutable_media());
  if (!m.content.empty() && !out->mutable_content()->ParseFromString(m.content)) {
    out->clear_content();
  }
  out->set_reply_to_message_id(m.reply_to_message_id);
  for (const auto& r : m.reactions) ToProto(r, out->add_reactions());
}

void ToProto(const MediaRow& m, v1::MediaInfo* out) {
  out->set_media_id(m.media_id);
  out->set_mime_type(m.mime_type);
  out->set_kind(static_cast<v1::MediaKind>(m.kind));
  out->set_size_bytes(m.size_bytes);
  out->set_sha256(m.sha256);
}

void ToProto(const ReactionRow& r, v1::MessageReaction* out) {
  out->set_conversation_id(r.conversation_id);
  out->set_message_id(r.message_id);
  out->set_reactor(PartyOf(r.party));
  out->set_emoji(r.emoji);
  if (r.updated_unix_micros != 0) {
    *out->mutable_update_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(r.updated_unix_micros);
  }
}

void ToProto(const DisclosureView& d, v1::Disclosure* out) {
  out->set_version(d.terms.version);
  out->set_hosted(true);
  out->set_retention_days(static_cast<int32_t>((d.terms.lifetime_seconds + 86399) / 86400));
  ToProto(RetentionRule{d.terms.lifetime_seconds, d.terms.no_storage, d.terms.label_lifetimes},
          out->mutable_retention());
  out->set_data_use_statement(d.terms.data_use_statement);
  out->set_summary(d.summary);
}

void ToProto(const RetentionRule& r, v1::RetentionPolicy* out) {
  out->set_default_lifetime_seconds(r.default_lifetime_seconds);
  out->set_no_storage(r.no_storage);
  for (const auto& [label, seconds] : r.label_lifetimes) {
    auto* l = out->add_label_lifetimes();
    l->set_label(label);
    l->set_lifetime_seconds(seconds);
  }
}

RetentionRule FromProto(const v1::RetentionPolicy& p) {
  RetentionRule r{p.default_lifetime_seconds(), p.no_storage(), {}};
  for (const auto& l : p.label_lifetimes())
    r.label_lifetimes.emplace_back(l.label(), l.lifetime_seconds());
  return r;
}

v1::ChatState ToProto(ChatState s) {
  switch (s) {
    case ChatState::kOpen:
      return v1::CHAT_STATE_OPEN;
    case ChatState::kLeft:
      return v1::CHAT_STATE_LEFT;
    case ChatState::kBlocked:
      return v1::CHAT_STATE_BLOCKED;
  }
  return v1::CHAT_STATE_UNSPECIFIED;
}

void ToProto(const EventRow& e, v1::StreamEventsResponse* out) { FillEvent(e, out); }

void ToProto(const EventRow& e, v1::StreamInboxResponse* out) {
  FillEvent(e, out);
  out->set_user_id(e.user_id);
  if (e.kind == EventKind::kNotice) out->mutable_notice()->set_user_id(e.user_id);
  if (e.kind == EventKind::kEndpointNotice) {
    auto* n = out->mutable_webhook_notice();
    n->set_endpoint_id(e.endpoint.endpoint_id);
    n->set_kind(v1::WebhookEndpointNotice::KIND_DISABLED);
    n->set_reason(e.endpoint.reason);
    n->set_last_error(e.endpoint.last_error);
    n->set_url(e.endpoint.url);
  }
}

}  // namespace bizrelay::hosting
