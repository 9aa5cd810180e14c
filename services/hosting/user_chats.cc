// UserChats: what a user does in hosted chats (see chats.h).
#include <algorithm>

#include "services/hosting/chats.h"
#include "services/hosting/chats_shared.h"
#include "services/hosting/conversation_repository.h"
#include "services/hosting/event_repository.h"
#include "services/hosting/message_repository.h"
#include "services/hosting/rich_content.h"
#include "services/hosting/terms_repository.h"
#include "services/platform/error.h"
#include "services/platform/validate.h"

namespace bizrelay::hosting {

using namespace chats_shared;  // NOLINT: this file's own helpers, shared with one other

// ---- UserChats ----

DisclosureView UserChats::Disclosure(pqxx::transaction_base& tx,
                                     const std::string& business_id) const {
  CheckId("business", business_id);
  auto terms = TermsRepository::Terms(tx, business_id, options_.default_lifetime_seconds);
  if (!terms) throw NotFound("business");
  return ViewOf(std::move(*terms));
}

std::string UserChats::StartChat(pqxx::transaction_base& tx, const std::string& user_id,
                                 const std::string& business_id, int64_t disclosure_version) const {
  CheckId("business", business_id);
  // Lock order: the business head before the conversation row.
  EventRepository::TakePositions(tx, business_id, 0);
  auto terms = TermsRepository::Terms(tx, business_id, options_.default_lifetime_seconds);
  if (!terms) throw NotFound("business");
  if (terms->version != disclosure_version) {
    throw Error(ErrorCode::kFailedPrecondition, "DISCLOSURE_CHANGED",
                "the business's terms changed; show the current disclosure and ask again",
                {{"current_version", std::to_string(terms->version)}});
  }
  std::string conversation =
      ConversationRepository::UpsertConsent(tx, business_id, user_id, disclosure_version);
  EventRepository::AppendEvent(tx, business_id, EventKind::kNotice, conversation, "", 0,
                               static_cast<int>(NoticeKind::kChatStarted));
  return conversation;
}

ChatState UserChats::Transition(pqxx::transaction_base& tx, const std::string& user_id,
                                const std::string& business_id, ChatState to,
                                const std::vector<ChatState>& from, NoticeKind notice) const {
  CheckId("business", business_id);
  EventRepository::TakePositions(tx, business_id, 0);
  auto changed = ConversationRepository::SetState(tx, business_id, user_id, to, from);
  if (changed) {
    EventRepository::AppendEvent(tx, business_id, EventKind::kNotice, *changed, "", 0,
                                 static_cast<int>(notice));
    return to;
  }
  auto chat = ConversationRepository::ChatOfUserWithBusiness(tx, user_id, business_id);
  if (!chat) throw NotFound("chat");
  return chat->state;
}

ChatState UserChats::Block(pqxx::transaction_base& tx, const std::string& user_id,
                           const std::string& business_id) const {
  return Transition(tx, user_id, business_id, ChatState::kBlocked,
                    {ChatState::kOpen, ChatState::kLeft}, NoticeKind::kBlocked);
}

ChatState UserChats::Unblock(pqxx::transaction_base& tx, const std::string& user_id,
                             const std::string& business_id) const {
  return Transition(tx, user_id, business_id, ChatState::kOpen, {ChatState::kBlocked},
                    NoticeKind::kUnblocked);
}

ChatState UserChats::Leave(pqxx::transaction_base& tx, const std::string& user_id,
                           const std::string& business_id) const {
  return Transition(tx, user_id, business_id, ChatState::kLeft, {ChatState::kOpen},
                    NoticeKind::kChatLeft);
}

int UserChats::MarkRead(pqxx::transaction_base& tx, const std::string& user_id,
                        const std::string& conversation_id, const std::string& message_id) const {
  CheckId("conversation", conversation_id);
  CheckId("message", message_id);
  auto chat = ConversationRepository::ConversationOfUser(tx, user_id, conversation_id);
  if (!chat) throw ConversationNotFound();
  EventRepository::TakePositions(tx, chat->business_id, 0);
  int marked = 0;
  auto changes = EventRepository::MarkRead(tx, conversation_id, Direction::kBusinessToUser,
                                           message_id, &marked);
  AppendStatusEvents(tx, changes, MessageStatus::kRead);
  return marked;
}

int64_t UserChats::Acknowledge(pqxx::transaction_base& tx, const std::string& user_id,
                               int64_t position) const {
  if (position < 0) throw InvalidField("position", "position must not be negative");
  return EventRepository::Acknowledge(tx, user_id, position, options_.no_storage_grace_seconds);
}

Page<ConversationRow> UserChats::ListChats(pqxx::transaction_base& tx, const std::string& user_id,
                                           int page_size, const std::string& page_token) const {
  int limit = PageSize(page_size, kDefaultPage, kMaxChatPage);
  std::string after;
  if (!page_token.empty()) {
    after = DecodePageToken(page_token, 1)[0];
    CheckId("page_token", after);
  }
  Page<ConversationRow> page;
  page.items = ConversationRepository::ChatsOfUser(tx, user_id, after, limit + 1);
  if (static_cast<int>(page.items.size()) > limit) {
    page.items.pop_back();
    page.next_page_token = EncodePageToken({page.items.back().conversation_id});
  }
  return page;
}

Page<MessageRow> UserChats::ListMessages(pqxx::transaction_base& tx, const std::string& user_id,
                                         const std::string& conversation_id, int page_size,
                                         const std::string& page_token) const {
  CheckId("conversation", conversation_id);
  if (!ConversationRepository::ConversationOfUser(tx, user_id, conversation_id)) {
    throw ConversationNotFound();
  }
  return MessagesPage(tx, *keys_, conversation_id, page_size, page_token);
}

void UserChats::CheckSend(const Send& send) const {
  if (send.content) {
    CheckContent(*send.content, Party::kUser);
    if (!send.text.empty()) throw InvalidField("text", "send either text or content, not both");
  } else {
    CheckMessageText("text", send.text, options_);
  }
  if (!send.reply_to_message_id.empty()) CheckId("message", send.reply_to_message_id);
  CheckId("business", send.business_id);
}

std::string UserChats::RequestHashOf(const Send& send) {
  if (!send.rich()) return RequestHash({send.business_id, send.text});
  std::string content;
  if (send.content) send.content->SerializeToString(&content);
  return RequestHash(
      {send.business_id, send.text, "content", content, "reply_to", send.reply_to_message_id});
}

std::string UserChats::PrepareRichSend(pqxx::transaction_base& tx, const std::string& user_id,
                                       const Send& send) const {
  std::optional<v1::MessageContent> content = send.content;
  // Only what the API defines is stored: fields of a newer client's API are dropped.
  if (content) content->DiscardUnknownFields();
  auto chat = ConversationRepository::ChatOfUserWithBusiness(tx, user_id, send.business_id);
  if (chat && !send.reply_to_message_id.empty() &&
      !MessageRepository::LiveMessage(tx, chat->conversation_id, send.reply_to_message_id)) {
    throw NotFound("message");
  }
  if (chat && content && content->has_interactive_reply()) {
    auto* choice = content->mutable_interactive_reply();
    auto answered = MessageRepository::LiveMessage(tx, chat->conversation_id, choice->message_id());
    if (!answered || answered->direction != Direction::kBusinessToUser) throw NotFound("message");
    std::vector<MessageRow> rows{std::move(*answered)};
    OpenBodies(tx, *keys_, &rows);
    if (rows.empty()) throw NotFound("message");
    v1::MessageContent offered;
    std::optional<std::string> title;
    if (!rows[0].content.empty() && offered.ParseFromString(rows[0].content)) {
      title = OfferedTitle(offered, choice->reply_id());
    }
    if (!title) {
      throw Error(ErrorCode::kInvalidArgument, "REPLY_NOT_OFFERED",
                  "the message answered offers no button or row with this id",
                  {{"field", "content.interactive_reply.reply_id"}});
    }
    choice->set_title(*title);
  }
  std::string bytes;
  if (content) content->SerializeToString(&bytes);
  return EncodeBody(
      {content ? PlainRendering(*content) : send.text, bytes, send.reply_to_message_id});
}

ReactionRow UserChats::React(pqxx::transaction_base& tx, const std::string& user_id,
                             const std::string& conversation_id, const std::string& message_id,
                             const std::string& emoji) const {
  CheckId("conversation", conversation_id);
  CheckId("message", message_id);
  CheckReactionEmoji(emoji);
  auto chat = ConversationRepository::ConversationOfUser(tx, user_id, conversation_id);
  if (!chat) throw ConversationNotFound();
  auto required = tx.exec_params1("SELECT core.required_policy($1::uuid)", user_id)[0];
  if (!required.is_null()) {
    throw Error(ErrorCode::kFailedPrecondition, "POLICY_ACCEPTANCE_REQUIRED",
                "accept policy version " + required.as<std::string>() + " to send again",
                {{"version", required.as<std::string>()}});
  }
  if (chat->state != ChatState::kOpen) {
    throw Error(ErrorCode::kFailedPrecondition, "CHAT_NOT_OPEN",
                "the chat is left or the business is blocked; start or unblock it first");
  }
  // Lock order: the business head (the event's log) before the message rows.
  EventRepository::TakePositions(tx, chat->business_id, 0);
  if (!MessageRepository::LiveMessage(tx, conversation_id, message_id)) throw NotFound("message");
  return StoreReaction(tx, *keys_, *chat, message_id, Party::kUser, emoji);
}

}  // namespace bizrelay::hosting
