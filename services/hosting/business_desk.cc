// BusinessDesk: what a business does in its hosted chats (see chats.h).
#include <algorithm>

#include "services/hosting/chats.h"
#include "services/hosting/chats_shared.h"
#include "services/hosting/conversation_repository.h"
#include "services/hosting/event_repository.h"
#include "services/hosting/message_repository.h"
#include "services/hosting/rich_content.h"
#include "services/hosting/template_repository.h"
#include "services/hosting/terms_repository.h"
#include "services/platform/error.h"
#include "services/platform/validate.h"

namespace bizrelay::hosting {

using namespace chats_shared;  // NOLINT: this file's own helpers, shared with one other

// ---- BusinessDesk ----

void BusinessDesk::CheckReply(const Reply& reply) const {
  CheckIdempotencyKey(reply.idempotency_key, options_);
  if (!reply.reply_to_message_id.empty()) CheckId("message", reply.reply_to_message_id);
  if (!reply.media_id.empty()) {
    CheckId("media", reply.media_id);
    if (!reply.template_name.empty()) {
      throw InvalidField("media_id", "media goes with a free-form reply, not with a template");
    }
    if (reply.content) {
      throw InvalidField("content", "media goes with a caption in text, not with content");
    }
    CheckCaption("text", reply.text, options_);
  } else if (reply.content) {
    CheckContent(*reply.content, Party::kBusiness);
    if (!reply.text.empty()) throw InvalidField("text", "send either text or content, not both");
    if (!reply.template_name.empty()) {
      throw InvalidField("template_name", "send either a template or content, not both");
    }
    if (!reply.parameters.empty()) {
      throw InvalidField("template_parameters", "parameters need a template_name");
    }
  } else if (reply.template_name.empty()) {
    CheckMessageText("text", reply.text, options_);
    if (!reply.parameters.empty()) {
      throw InvalidField("template_parameters", "parameters need a template_name");
    }
  } else if (!reply.text.empty()) {
    throw InvalidField("text", "send either text or a template, not both");
  }
  if (reply.parameters.size() > options_.max_template_params) {
    throw InvalidField("template_parameters", "too many template parameters");
  }
}

SentMessage BusinessDesk::SendReply(pqxx::transaction_base& tx, const std::string& business_id,
                                    const Reply& reply) const {
  CheckReply(reply);
  CheckId("conversation", reply.conversation_id);
  std::vector<std::string> hash_parts = {reply.text, reply.template_name};
  for (const auto& [k, v] : reply.parameters) {
    hash_parts.push_back(k);
    hash_parts.push_back(v);
  }
  if (!reply.media_id.empty()) {
    hash_parts.push_back("media");
    hash_parts.push_back(reply.media_id);
  }
  std::string content_bytes;
  if (reply.content) {
    // Only what the API defines is stored: fields of a newer client's API are dropped.
    v1::MessageContent known = *reply.content;
    known.DiscardUnknownFields();
    known.SerializeToString(&content_bytes);
    hash_parts.push_back("content");
    hash_parts.push_back(content_bytes);
  }
  if (!reply.reply_to_message_id.empty()) {
    hash_parts.push_back("reply_to");
    hash_parts.push_back(reply.reply_to_message_id);
  }
  std::string request_hash = RequestHash(hash_parts);

  auto chat = ConversationRepository::ConversationOfBusiness(tx, business_id, reply.conversation_id,
                                                             /*lock=*/true);
  if (!chat) throw ConversationNotFound();
  if (auto earlier = MessageRepository::MessageByKey(
          tx, chat->conversation_id, Direction::kBusinessToUser, reply.idempotency_key)) {
    if (earlier->second != request_hash) {
      throw Error(ErrorCode::kAlreadyExists, "IDEMPOTENCY_KEY_REUSED",
                  "this idempotency key was used for a different message");
    }
    std::vector<MessageRow> replayed{earlier->first};
    OpenBodies(tx, *keys_, &replayed);
    if (replayed.empty()) throw ConversationNotFound();
    return {replayed[0], true};
  }
  // A user who left or blocked is out of reach; say so exactly as for an unknown conversation.
  if (chat->state != ChatState::kOpen) throw ConversationNotFound();

  std::string text = reply.text;
  if (!reply.template_name.empty()) {
    auto row = TemplateRepository::Template(tx, business_id, reply.template_name);
    if (!row) throw NotFound("template");
    TemplateDef def{row->name, row->body, row->parameters};
    text = FillTemplate(def, reply.parameters, options_);
    v1::ReplyButtons quick;
    if (!row->quick_replies.empty() && quick.ParseFromString(row->quick_replies) &&
        quick.buttons_size() > 0) {
      // The template's quick replies make the message interactive, outside the window too.
      v1::MessageContent content;
      content.mutable_interactive()->set_body(text);
      *content.mutable_interactive()->mutable_buttons() = quick;
      content.SerializeToString(&content_bytes);
    }
  } else if (!WindowOpen(*chat)) {
    throw Error(ErrorCode::kFailedPrecondition, "OUTSIDE_SERVICE_WINDOW",
                "free-form replies are allowed only within the service window after the user's "
                "last message; send a template instead",
                {{"window_seconds", std::to_string(options_.service_window.count())}});
  }
  if (!reply.reply_to_message_id.empty() &&
      !MessageRepository::LiveMessage(tx, chat->conversation_id, reply.reply_to_message_id)) {
    throw NotFound("message");
  }
  if (reply.content) text = PlainRendering(*reply.content);
  BodyParts parts{text, content_bytes, reply.reply_to_message_id};
  auto data_key = keys_->DataKey(tx, business_id, /*create=*/true);
  MessageRow message = MessageRepository::InsertMessage(
      tx, *chat, Direction::kBusinessToUser, EncodeBody(parts), reply.template_name,
      reply.idempotency_key, request_hash, *data_key, options_.default_lifetime_seconds);
  message.text = std::move(parts.text);
  message.content = std::move(parts.content);
  message.reply_to_message_id = std::move(parts.reply_to_message_id);
  if (!reply.media_id.empty()) {
    message.media = AttachUpload(tx, *keys_, reply.media_id, business_id,
                                 /*user_uploaded=*/false, message);
  }
  EventRepository::AppendEvent(tx, chat->user_id, EventKind::kMessage, chat->conversation_id,
                               message.message_id);
  return {message, false};
}

int64_t BusinessDesk::Acknowledge(pqxx::transaction_base& tx, const std::string& business_id,
                                  int64_t position) const {
  if (position < 0) throw InvalidField("position", "position must not be negative");
  return EventRepository::Acknowledge(tx, business_id, position, options_.no_storage_grace_seconds);
}

int BusinessDesk::MarkRead(pqxx::transaction_base& tx, const std::string& business_id,
                           const std::string& conversation_id,
                           const std::string& message_id) const {
  CheckId("conversation", conversation_id);
  CheckId("message", message_id);
  if (!ConversationRepository::ConversationOfBusiness(tx, business_id, conversation_id, false)) {
    throw ConversationNotFound();
  }
  int marked = 0;
  auto changes = EventRepository::MarkRead(tx, conversation_id, Direction::kUserToBusiness,
                                           message_id, &marked);
  AppendStatusEvents(tx, changes, MessageStatus::kRead);
  return marked;
}

TemplateDef BusinessDesk::CreateTemplate(
    pqxx::transaction_base& tx, const std::string& business_id, const std::string& name,
    const std::string& body,
    const google::protobuf::RepeatedPtrField<v1::ReplyButton>& quick_replies) const {
  TemplateDef def = ParseTemplate(name, body, options_);
  CheckReplyButtons(quick_replies, "quick_replies", /*allow_empty=*/true);
  std::string quick;
  if (!quick_replies.empty()) {
    v1::ReplyButtons buttons;
    *buttons.mutable_buttons() = quick_replies;
    buttons.SerializeToString(&quick);
  }
  TemplateRepository::UpsertTemplate(tx, business_id, {def.name, def.body, def.parameters, quick});
  return def;
}

ReactionRow BusinessDesk::React(pqxx::transaction_base& tx, const std::string& business_id,
                                const std::string& conversation_id, const std::string& message_id,
                                const std::string& emoji) const {
  CheckId("conversation", conversation_id);
  CheckId("message", message_id);
  CheckReactionEmoji(emoji);
  auto chat = ConversationRepository::ConversationOfBusiness(tx, business_id, conversation_id,
                                                             /*lock=*/true);
  if (!chat) throw ConversationNotFound();
  if (!emoji.empty()) {
    if (chat->state != ChatState::kOpen) throw ConversationNotFound();
    if (!WindowOpen(*chat)) {
      throw Error(ErrorCode::kFailedPrecondition, "OUTSIDE_SERVICE_WINDOW",
                  "reactions are free-form: allowed only within the service window after the "
                  "user's last message",
                  {{"window_seconds", std::to_string(options_.service_window.count())}});
    }
  }
  if (!MessageRepository::LiveMessage(tx, conversation_id, message_id)) throw NotFound("message");
  return StoreReaction(tx, *keys_, *chat, message_id, Party::kBusiness, emoji);
}

std::vector<TemplateRow> BusinessDesk::Templates(pqxx::transaction_base& tx,
                                                 const std::string& business_id) const {
  return TemplateRepository::Templates(tx, business_id);
}

Page<ConversationRow> BusinessDesk::ListConversations(pqxx::transaction_base& tx,
                                                      const std::string& business_id, int page_size,
                                                      const std::string& page_token) const {
  int limit = PageSize(page_size, kDefaultPage, kMaxChatPage);
  std::optional<std::pair<int64_t, std::string>> after;
  if (!page_token.empty()) {
    auto parts = DecodePageToken(page_token, 2);
    CheckId("page_token", parts[1]);
    after = std::make_pair(ParseInt64(parts[0]), parts[1]);
  }
  Page<ConversationRow> page;
  page.items = ConversationRepository::ConversationsOfBusiness(tx, business_id, after, limit + 1);
  if (static_cast<int>(page.items.size()) > limit) {
    page.items.pop_back();
    const auto& last = page.items.back();
    auto activity = tx.exec_params1(
                          "SELECT (extract(epoch from last_activity_at) * 1000000)::bigint "
                          "FROM hosting.conversations WHERE conversation_id = $1::uuid",
                          last.conversation_id)[0]
                        .as<int64_t>();
    page.next_page_token = EncodePageToken({std::to_string(activity), last.conversation_id});
  }
  return page;
}

Page<MessageRow> BusinessDesk::ListMessages(pqxx::transaction_base& tx,
                                            const std::string& business_id,
                                            const std::string& conversation_id, int page_size,
                                            const std::string& page_token) const {
  CheckId("conversation", conversation_id);
  if (!ConversationRepository::ConversationOfBusiness(tx, business_id, conversation_id, false)) {
    throw ConversationNotFound();
  }
  return MessagesPage(tx, *keys_, conversation_id, page_size, page_token);
}

std::pair<DisclosureView, int> BusinessDesk::UpdateProfile(pqxx::transaction_base& tx,
                                                           const std::string& business_id,
                                                           const ProfileUpdate& u) const {
  if (!u.display_name.empty()) CheckText("display_name", u.display_name, 1, 100);
  CheckText("description", u.description, 0, 1000, true);
  CheckOptionalUrl("website", u.website, 200);
  CheckText("data_use_statement", u.data_use_statement, 0, options_.max_statement_chars, true);

  EventRepository::TakePositions(tx, business_id, 0);
  auto terms = TermsRepository::Terms(tx, business_id, options_.default_lifetime_seconds);
  if (!terms) throw NotFound("business");
  TermsRepository::UpdateBusinessProfile(
      tx, business_id, u.display_name.empty() ? terms->display_name : u.display_name,
      u.description.empty() ? terms->description : u.description,
      u.website.empty() ? terms->website : u.website);
  int notified = 0;
  bool terms_changed =
      !u.data_use_statement.empty() && u.data_use_statement != terms->data_use_statement;
  if (terms_changed) {
    TermsRepository::SetDataUseStatement(tx, business_id, u.data_use_statement);
    notified = NotifyTermsChanged(tx, business_id);
  }
  auto now = TermsRepository::Terms(tx, business_id, options_.default_lifetime_seconds);
  return {ViewOf(std::move(*now)), notified};
}

int BusinessDesk::NotifyTermsChanged(pqxx::transaction_base& tx,
                                     const std::string& business_id) const {
  int notified = 0;
  // Users' heads come after the business's in the lock order; they are taken sorted.
  for (const auto& [conversation, user] :
       ConversationRepository::OpenChatsOfBusiness(tx, business_id)) {
    EventRepository::AppendEvent(tx, user, EventKind::kNotice, conversation, "", 0,
                                 static_cast<int>(NoticeKind::kTermsChanged));
    ++notified;
  }
  return notified;
}

RetentionRule BusinessDesk::Retention(pqxx::transaction_base& tx,
                                      const std::string& business_id) const {
  auto terms = TermsRepository::Terms(tx, business_id, 0);
  if (!terms) throw NotFound("business");
  return {terms->lifetime_seconds, terms->no_storage, terms->label_lifetimes};
}

std::pair<DisclosureView, int> BusinessDesk::SetRetention(pqxx::transaction_base& tx,
                                                          const std::string& business_id,
                                                          const RetentionRule& rule_in) const {
  RetentionRule rule = CheckRetentionRule(rule_in, options_);
  EventRepository::TakePositions(tx, business_id, 0);
  if (!TermsRepository::Terms(tx, business_id, options_.default_lifetime_seconds)) {
    throw NotFound("business");
  }
  TermsRepository::SetRetention(tx, business_id, rule.default_lifetime_seconds, rule.no_storage,
                                rule.label_lifetimes);
  TermsRepository::ApplyShorterRules(tx, business_id, "", options_.default_lifetime_seconds,
                                     options_.no_storage_grace_seconds);
  int notified = NotifyTermsChanged(tx, business_id);
  auto now = TermsRepository::Terms(tx, business_id, options_.default_lifetime_seconds);
  return {ViewOf(std::move(*now)), notified};
}

void BusinessDesk::LabelConversation(pqxx::transaction_base& tx, const std::string& business_id,
                                     const std::string& conversation_id,
                                     const std::string& label) const {
  CheckId("conversation", conversation_id);
  CheckLabel("label", label, /*allow_empty=*/true);
  if (!TermsRepository::SetLabel(tx, business_id, conversation_id, label)) {
    throw ConversationNotFound();
  }
  TermsRepository::ApplyShorterRules(tx, business_id, conversation_id,
                                     options_.default_lifetime_seconds,
                                     options_.no_storage_grace_seconds);
}

}  // namespace bizrelay::hosting
