#include "services/hosting/chats.h"

#include <algorithm>

#include "services/auth/credentials.h"
#include "services/hosting/conversation_repository.h"
#include "services/hosting/event_repository.h"
#include "services/hosting/media_repository.h"
#include "services/hosting/message_repository.h"
#include "services/hosting/rich_content.h"
#include "services/hosting/template_repository.h"
#include "services/hosting/terms_repository.h"
#include "services/platform/error.h"
#include "services/platform/log.h"
#include "services/platform/validate.h"

namespace bizrelay::hosting {
namespace {

constexpr int kDefaultPage = 50;
constexpr int kMaxChatPage = 100;
constexpr int kMaxMessagePage = 200;

DisclosureView ViewOf(TermsRow terms) {
  std::string summary =
      DisclosureSummary(terms.display_name, terms.lifetime_seconds, terms.no_storage,
                        terms.label_lifetimes, terms.data_use_statement);
  return {std::move(terms), std::move(summary)};
}

// Opens one body; false if the business has no data key any more or the body does not open.
bool OpenOne(pqxx::transaction_base& tx, KeyRing& keys, MessageRow* m) {
  auto key = keys.DataKey(tx, m->business_id, /*create=*/false);
  if (!key) return false;
  auto text = KeyRing::OpenBody(*key, m->business_id, m->conversation_id, m->message_id, m->sealed);
  if (!text) {
    spdlog::error("event=body_does_not_open message_id={}", m->message_id);
    return false;
  }
  auto parts = DecodeBody(std::move(*text));
  if (!parts) {
    spdlog::error("event=body_malformed message_id={}", m->message_id);
    return false;
  }
  m->text = std::move(parts->text);
  m->content = std::move(parts->content);
  m->reply_to_message_id = std::move(parts->reply_to_message_id);
  m->sealed.clear();
  return true;
}

// A reaction's associated data binds it to its message and side, apart from the message body.
std::string ReactionRef(const std::string& message_id, Party party) {
  return message_id + "|reaction|" + std::to_string(static_cast<int>(party));
}

// Opens a reaction's emoji; an empty `sealed` (a removed reaction) opens to an empty emoji.
bool OpenReaction(pqxx::transaction_base& tx, KeyRing& keys, const std::string& business_id,
                  ReactionRow* r) {
  auto key = keys.DataKey(tx, business_id, /*create=*/false);
  if (!key) return false;
  if (r->sealed.empty()) return true;
  auto padded = KeyRing::OpenBody(*key, business_id, r->conversation_id,
                                  ReactionRef(r->message_id, r->party), r->sealed);
  if (!padded) {
    spdlog::error("event=reaction_does_not_open message_id={}", r->message_id);
    return false;
  }
  r->emoji = UnpadEmoji(std::move(*padded));
  r->sealed.clear();
  return true;
}

// Stores (or removes) one side's reaction and tells the other side. The caller holds the lock
// order: the business head before, and the user's head after, the conversation row.
ReactionRow StoreReaction(pqxx::transaction_base& tx, KeyRing& keys, const ConversationRow& chat,
                          const std::string& message_id, Party party, const std::string& emoji) {
  ReactionRow r{.message_id = message_id,
                .conversation_id = chat.conversation_id,
                .party = party,
                .sealed = "",
                .emoji = emoji,
                .updated_unix_micros = 0};
  bool changed = true;
  if (emoji.empty()) {
    changed = MessageRepository::RemoveReaction(tx, message_id, party);
  } else {
    auto data_key = keys.DataKey(tx, chat.business_id, /*create=*/true);
    std::string sealed = KeyRing::SealBody(*data_key, chat.business_id, chat.conversation_id,
                                           ReactionRef(message_id, party), PadEmoji(emoji));
    r.updated_unix_micros = MessageRepository::SetReaction(tx, message_id, party, sealed);
  }
  if (changed) {
    const std::string& other = party == Party::kUser ? chat.business_id : chat.user_id;
    EventRepository::AppendEvent(tx, other, EventKind::kReaction, chat.conversation_id, message_id);
  }
  return r;
}

Error ConversationNotFound() { return NotFound("conversation"); }

int64_t ParseInt64(const std::string& s) {
  try {
    size_t used = 0;
    int64_t v = std::stoll(s, &used);
    if (used == s.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  throw InvalidField("page_token", "page_token is not valid");
}

Page<MessageRow> MessagesPage(pqxx::transaction_base& tx, KeyRing& keys,
                              const std::string& conversation_id, int page_size,
                              const std::string& page_token) {
  int limit = PageSize(page_size, kDefaultPage, kMaxMessagePage);
  int64_t after = 0;
  if (!page_token.empty()) after = ParseInt64(DecodePageToken(page_token, 1)[0]);
  Page<MessageRow> page;
  int64_t last_seq = 0;
  page.items = MessageRepository::Messages(tx, conversation_id, after, limit + 1, &last_seq);
  if (static_cast<int>(page.items.size()) > limit) {
    page.items.pop_back();
    // Re-read the seq of the last returned message: ask for exactly `limit` again.
    int64_t seq = 0;
    MessageRepository::Messages(tx, conversation_id, after, limit, &seq);
    page.next_page_token = EncodePageToken({std::to_string(seq)});
  }
  OpenBodies(tx, keys, &page.items);
  AttachReactions(tx, keys, &page.items);
  return page;
}

}  // namespace

namespace {

// Sets `media` on the messages that have media attached, with its SHA-256 opened (one query for
// all of them). Runs after OpenOne, so every message's business still has its data key.
void AttachMedia(pqxx::transaction_base& tx, KeyRing& keys, const std::vector<MessageRow*>& rows) {
  if (rows.empty()) return;
  std::vector<std::string> ids;
  for (const MessageRow* m : rows) ids.push_back(m->message_id);
  auto found = MediaRepository::OfMessages(tx, ids);
  if (found.empty()) return;
  std::map<std::string, MediaRow*> by_message;
  for (auto& md : found) by_message[md.message_id] = &md;
  for (MessageRow* m : rows) {
    auto it = by_message.find(m->message_id);
    if (it == by_message.end()) continue;
    MediaRow media = *it->second;
    auto key = keys.DataKey(tx, m->business_id, /*create=*/false);
    if (!key) continue;
    auto sha256 = KeyRing::OpenChunk(*key, media.media_id, -1, media.sealed_sha256);
    if (sha256) media.sha256 = std::move(*sha256);
    media.sealed_sha256.clear();
    m->media = std::move(media);
  }
}

}  // namespace

void OpenBodies(pqxx::transaction_base& tx, KeyRing& keys, std::vector<MessageRow>* rows) {
  std::erase_if(*rows, [&](MessageRow& m) { return !OpenOne(tx, keys, &m); });
  std::vector<MessageRow*> opened;
  for (auto& m : *rows) opened.push_back(&m);
  AttachMedia(tx, keys, opened);
}

void OpenBodies(pqxx::transaction_base& tx, KeyRing& keys, std::vector<EventRow>* events) {
  std::erase_if(*events, [&](EventRow& e) {
    if (e.kind == EventKind::kReaction) return !OpenReaction(tx, keys, e.business_id, &e.reaction);
    return e.kind == EventKind::kMessage && !OpenOne(tx, keys, &e.message);
  });
  std::vector<MessageRow*> opened;
  for (auto& e : *events) {
    if (e.kind == EventKind::kMessage) opened.push_back(&e.message);
  }
  AttachMedia(tx, keys, opened);
}

std::optional<MediaRow> MediaOfMessage(pqxx::transaction_base& tx, KeyRing& keys,
                                       const MessageRow& message) {
  MessageRow copy = message;
  AttachMedia(tx, keys, {&copy});
  return copy.media;
}

MediaRow AttachUpload(pqxx::transaction_base& tx, KeyRing& keys, const std::string& media_id,
                      const std::string& uploader_id, bool user_uploaded,
                      const MessageRow& message) {
  auto media = MediaRepository::Attach(tx, media_id, uploader_id,
                                       user_uploaded ? Uploader::kUser : Uploader::kBusiness,
                                       message.business_id, message.message_id);
  if (!media) throw NotFound("media");
  auto key = keys.DataKey(tx, message.business_id, /*create=*/false);
  if (key) {
    auto sha256 = KeyRing::OpenChunk(*key, media->media_id, -1, media->sealed_sha256);
    if (sha256) media->sha256 = std::move(*sha256);
  }
  media->sealed_sha256.clear();
  return *media;
}

void AttachReactions(pqxx::transaction_base& tx, KeyRing& keys, std::vector<MessageRow>* rows) {
  std::vector<std::string> ids;
  std::map<std::string, MessageRow*> by_id;
  for (auto& m : *rows) {
    ids.push_back(m.message_id);
    by_id[m.message_id] = &m;
  }
  for (auto& r : MessageRepository::Reactions(tx, ids)) {
    MessageRow* m = by_id.at(r.message_id);
    r.conversation_id = m->conversation_id;
    if (OpenReaction(tx, keys, m->business_id, &r)) m->reactions.push_back(std::move(r));
  }
}

void OffboardBusiness(pqxx::transaction_base& tx, KeyRing& keys, const std::string& business_id) {
  CheckId("business", business_id);
  if (tx.exec_params("SELECT 1 FROM core.businesses WHERE business_id = $1::uuid", business_id)
          .empty()) {
    throw NotFound("business");
  }
  TermsRepository::Offboard(tx, business_id);
  MediaRepository::DeleteAllOfBusiness(tx, business_id);
  auth::CredentialRepository::RevokeAll(tx, business_id);
  keys.Destroy(tx, business_id);
}

void AppendStatusEvents(pqxx::transaction_base& tx, const std::vector<StatusChange>& changes,
                        MessageStatus status) {
  EventRepository::AppendStatusEvents(tx, changes, static_cast<int>(status));
}

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

}  // namespace bizrelay::hosting

namespace bizrelay::hosting {

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
