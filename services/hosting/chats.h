#pragma once

#include <map>
#include <string>
#include <vector>

#include "bizrelay/v1/rich_types.pb.h"
#include "services/hosting/event_repository.h"
#include "services/hosting/keyring.h"
#include "services/hosting/rows.h"
#include "services/hosting/rules.h"
#include "services/hosting/template_repository.h"

namespace bizrelay::hosting {

struct DisclosureView {
  TermsRow terms;
  std::string summary;
};

struct SentMessage {
  MessageRow message;
  bool replayed = false;
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;
};

// The user's side of hosted chats: consent, blocking, reading and history. Sending goes
// through SendBatcher (group commit). Every method takes an authenticated user id and runs in
// the caller's transaction; ids the user may not see are NOT_FOUND exactly like unknown ids.
class UserChats {
 public:
  UserChats(const HostingOptions& options, KeyRing* keys) : options_(options), keys_(keys) {}

  DisclosureView Disclosure(pqxx::transaction_base& tx, const std::string& business_id) const;
  // Consent to the disclosure version the user saw: FAILED_PRECONDITION DISCLOSURE_CHANGED if
  // it is no longer current. Reopens a left or blocked chat. The business is told.
  std::string StartChat(pqxx::transaction_base& tx, const std::string& user_id,
                        const std::string& business_id, int64_t disclosure_version) const;
  // Block, unblock and leave: NOT_FOUND if the user never started a chat with the business.
  // Repeating one is a no-op that reports the current state.
  ChatState Block(pqxx::transaction_base& tx, const std::string& user_id,
                  const std::string& business_id) const;
  ChatState Unblock(pqxx::transaction_base& tx, const std::string& user_id,
                    const std::string& business_id) const;
  ChatState Leave(pqxx::transaction_base& tx, const std::string& user_id,
                  const std::string& business_id) const;

  int MarkRead(pqxx::transaction_base& tx, const std::string& user_id,
               const std::string& conversation_id, const std::string& message_id) const;
  int64_t Acknowledge(pqxx::transaction_base& tx, const std::string& user_id,
                      int64_t position) const;
  Page<ConversationRow> ListChats(pqxx::transaction_base& tx, const std::string& user_id,
                                  int page_size, const std::string& page_token) const;
  Page<MessageRow> ListMessages(pqxx::transaction_base& tx, const std::string& user_id,
                                const std::string& conversation_id, int page_size,
                                const std::string& page_token) const;

  // A send as the user asked for it. Plain text without a quote goes to the batcher as it is;
  // one with content or a quote is prepared first (PrepareRichSend).
  struct Send {
    std::string business_id;
    std::string text;                           // empty when there is content
    std::optional<v1::MessageContent> content;  // instead of text
    std::string reply_to_message_id;            // a quoted message of the chat
    bool rich() const { return content.has_value() || !reply_to_message_id.empty(); }
  };
  // Checks fields that need no database (INVALID_ARGUMENT; see rich_content.h for content).
  void CheckSend(const Send& send) const;
  // What a retry with the same idempotency key must repeat. For plain text it is what it
  // always was, so keys used before rich content existed keep their meaning.
  static std::string RequestHashOf(const Send& send);
  // Before a send with content or a quote goes to the batcher (which checks the chat's state
  // and the policy as for any send): the quoted message and the message a choice answers must
  // be live messages of the user's chat with the business (NOT_FOUND "message" otherwise, as
  // for an unknown id); the answered one must be the business's and offer the chosen id
  // (INVALID_ARGUMENT REPLY_NOT_OFFERED), whose title is filled in. Nothing is checked when the
  // user has no chat with the business: the batcher refuses the send for that. Returns the
  // body to seal (EncodeBody).
  std::string PrepareRichSend(pqxx::transaction_base& tx, const std::string& user_id,
                              const Send& send) const;

  // Sets (empty emoji: removes) the user's reaction to a live message of one of the user's
  // conversations (NOT_FOUND otherwise); the chat must be open (CHAT_NOT_OPEN) and the user not
  // in limited mode (POLICY_ACCEPTANCE_REQUIRED). The business gets a reaction event (for a
  // removal, only if there was one). Returns the reaction as set.
  ReactionRow React(pqxx::transaction_base& tx, const std::string& user_id,
                    const std::string& conversation_id, const std::string& message_id,
                    const std::string& emoji) const;

 private:
  ChatState Transition(pqxx::transaction_base& tx, const std::string& user_id,
                       const std::string& business_id, ChatState to,
                       const std::vector<ChatState>& from, NoticeKind notice) const;
  const HostingOptions& options_;
  KeyRing* const keys_;
};

// The business's side: replies under the 24-hour window and templates, acknowledgements,
// read marks, history and terms. Every method takes an authenticated business id; ids of other
// businesses' conversations are NOT_FOUND exactly like unknown ids.
class BusinessDesk {
 public:
  BusinessDesk(const HostingOptions& options, KeyRing* keys) : options_(options), keys_(keys) {}

  struct Reply {
    std::string conversation_id;
    std::string text;           // free-form; empty when a template is used
    std::string template_name;  // registered template, or empty
    std::map<std::string, std::string> parameters;
    std::string idempotency_key;
    std::string media_id;                       // an upload of this business to attach, or empty
    std::optional<v1::MessageContent> content;  // instead of text (not with a template)
    std::string reply_to_message_id;            // a quoted message of the conversation
  };
  // Checks fields that need no database (INVALID_ARGUMENT).
  void CheckReply(const Reply& reply) const;
  // The conversation must be this business's and open (otherwise NOT_FOUND, as for an unknown
  // one). Media is attached in the same transaction as the message is stored. Free text needs the
  // service window open (FAILED_PRECONDITION OUTSIDE_SERVICE_WINDOW); a template works any time.
  SentMessage SendReply(pqxx::transaction_base& tx, const std::string& business_id,
                        const Reply& reply) const;

  int64_t Acknowledge(pqxx::transaction_base& tx, const std::string& business_id,
                      int64_t position) const;
  int MarkRead(pqxx::transaction_base& tx, const std::string& business_id,
               const std::string& conversation_id, const std::string& message_id) const;

  // `quick_replies` (up to 3 reply buttons) go with every message sent from the template.
  TemplateDef CreateTemplate(
      pqxx::transaction_base& tx, const std::string& business_id, const std::string& name,
      const std::string& body,
      const google::protobuf::RepeatedPtrField<v1::ReplyButton>& quick_replies = {}) const;
  std::vector<TemplateRow> Templates(pqxx::transaction_base& tx,
                                     const std::string& business_id) const;

  Page<ConversationRow> ListConversations(pqxx::transaction_base& tx,
                                          const std::string& business_id, int page_size,
                                          const std::string& page_token) const;
  Page<MessageRow> ListMessages(pqxx::transaction_base& tx, const std::string& business_id,
                                const std::string& conversation_id, int page_size,
                                const std::string& page_token) const;

  struct ProfileUpdate {
    std::string display_name, description, website, data_use_statement;
  };
  // Empty fields keep their values. A changed data-use statement is a change of terms: new
  // disclosure version and a notice in every open chat. Returns the terms and the number of
  // chats told.
  std::pair<DisclosureView, int> UpdateProfile(pqxx::transaction_base& tx,
                                               const std::string& business_id,
                                               const ProfileUpdate& update) const;

  bool WindowOpen(const ConversationRow& c) const {
    return ServiceWindowOpen(c.seconds_since_user_message, options_);
  }

  // The business's retention rule as set (lifetime 0: the operator's default).
  RetentionRule Retention(pqxx::transaction_base& tx, const std::string& business_id) const;
  // Sets the rule (checked against the operator's bounds). Shorter lifetimes apply at once to
  // what is stored; longer ones only to messages written afterwards. The disclosure version
  // changes and open chats are told. Returns the new terms and the chats told.
  std::pair<DisclosureView, int> SetRetention(pqxx::transaction_base& tx,
                                              const std::string& business_id,
                                              const RetentionRule& rule) const;
  // Sets (empty emoji: removes) the business's reaction to a live message of one of its
  // conversations. Setting one is free-form: the chat must be open (NOT_FOUND otherwise) and
  // the service window open (OUTSIDE_SERVICE_WINDOW); removing works any time. The user gets a
  // reaction event (for a removal, only if there was one).
  ReactionRow React(pqxx::transaction_base& tx, const std::string& business_id,
                    const std::string& conversation_id, const std::string& message_id,
                    const std::string& emoji) const;

  // Tags a conversation; a shorter-lived label shortens what the conversation already holds.
  void LabelConversation(pqxx::transaction_base& tx, const std::string& business_id,
                         const std::string& conversation_id, const std::string& label) const;

 private:
  int NotifyTermsChanged(pqxx::transaction_base& tx, const std::string& business_id) const;
  const HostingOptions& options_;
  KeyRing* const keys_;
};

// Opens the sealed bodies of `rows` in place with their businesses' data keys; rows whose key
// is gone (crypto-shredded) or whose body does not open are removed.
void OpenBodies(pqxx::transaction_base& tx, KeyRing& keys, std::vector<MessageRow>* rows);
// The same for the message events among `events`, and the emoji of reaction events.
void OpenBodies(pqxx::transaction_base& tx, KeyRing& keys, std::vector<EventRow>* events);
// Reads and opens the reactions to `rows` (opened messages) into their `reactions`.
void AttachReactions(pqxx::transaction_base& tx, KeyRing& keys, std::vector<MessageRow>* rows);

// The media attached to `message`, with its SHA-256 opened; nullopt if none.
std::optional<MediaRow> MediaOfMessage(pqxx::transaction_base& tx, KeyRing& keys,
                                       const MessageRow& message);
// Attaches the upload `media_id` of `uploader_id` (a user if `user_uploaded`, else the
// business) to the just stored `message`, in the caller's transaction: NOT_FOUND if it is not a
// complete, unattached upload of that uploader for the message's business (the caller's
// transaction must then be rolled back, message included).
MediaRow AttachUpload(pqxx::transaction_base& tx, KeyRing& keys, const std::string& media_id,
                      const std::string& uploader_id, bool user_uploaded,
                      const MessageRow& message);

// Offboards a business: disables it, revokes its keys, destroys its data key (nothing it stored
// can be read from this moment) and lets the sweeper remove its messages. Idempotent;
// NOT_FOUND for an unknown business.
void OffboardBusiness(pqxx::transaction_base& tx, KeyRing& keys, const std::string& business_id);

// Appends a status event for each change to the owner it names, grouped per owner in lock
// order (callers hold any business heads they need already).
void AppendStatusEvents(pqxx::transaction_base& tx, const std::vector<StatusChange>& changes,
                        MessageStatus status);

}  // namespace bizrelay::hosting
