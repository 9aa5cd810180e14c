#include "services/hosting/chats.h"

#include <algorithm>

#include "services/auth/credentials.h"
#include "services/hosting/chats_shared.h"
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

constexpr int kMaxMessagePage = 200;

}  // namespace

namespace chats_shared {

DisclosureView ViewOf(TermsRow terms) {
  std::string summary =
      DisclosureSummary(terms.display_name, terms.lifetime_seconds, terms.no_storage,
                        terms.label_lifetimes, terms.data_use_statement);
  return {std::move(terms), std::move(summary)};
}

}  // namespace chats_shared

namespace {

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

}  // namespace

namespace chats_shared {

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

}  // namespace chats_shared

namespace {

// Sets `media` on the messages that have media attached, with its SHA-256 opened (one query for
// all of them). Runs after OpenOne, so every message's business still has its data key.
void AttachMedia(pqxx::transaction_base& tx, KeyRing& keys, const std::vector<MessageRow*>& rows) {
  std::vector<std::string> ids;
  for (const MessageRow* m : rows) {
    if (m->may_have_media) ids.push_back(m->message_id);
  }
  if (ids.empty()) return;
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

}  // namespace bizrelay::hosting
