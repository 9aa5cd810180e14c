#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace bizrelay::hosting {

class KeyRing;

enum class Direction : int { kUserToBusiness = 1, kBusinessToUser = 2 };
enum class ChatState : int { kOpen = 1, kLeft = 2, kBlocked = 3 };
enum class EventKind : int { kMessage = 1, kStatus = 2, kNotice = 3 };
enum class NoticeKind : int {
  kTermsChanged = 1,
  kChatStarted = 2,
  kChatLeft = 3,
  kBlocked = 4,
  kUnblocked = 5
};
enum class MessageStatus : int { kSent = 1, kDelivered = 2, kRead = 3 };

// A hosted message. Rows come from the database with `sealed` set and `text` empty; the
// domain layer opens them with the business's data key (KeyRing).
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
};

// A message whose status changed, with the owner to tell.
struct StatusChange {
  std::string message_id;
  std::string conversation_id;
  std::string notify_owner;
};

struct TemplateRow {
  std::string name;
  std::string body;
  std::vector<std::string> parameters;
};

// One user message in a group-commit batch, and what became of it.
struct PostItem {
  std::string token_hash;
  std::string business_id;
  std::string idempotency_key;
  std::string text;
  std::string request_hash;
};
enum class PostOutcome : int {
  kStored = 0,
  kReplayed = 1,
  kUnauthenticated = 2,
  kUnknownBusiness = 3,
  kNotStarted = 4,
  kNotOpen = 5,
  kKeyReused = 6,
  kPolicyRequired = 7,
};
struct PostResult {
  PostOutcome outcome = PostOutcome::kUnauthenticated;
  MessageRow message;
  // With kPolicyRequired: the policy version to accept.
  std::string required_policy;
};

// The SQL of the hosting path (schema `hosting`). Every function runs in the caller's
// transaction. Lock order, which every caller keeps so transactions cannot deadlock:
// business heads (TakePositions on a business), then conversation rows, then message rows,
// then user heads.
class HostingRepository {
 public:
  // The terms of an active business; `default_lifetime` fills in a lifetime it has not set.
  static std::optional<TermsRow> Terms(pqxx::transaction_base& tx, const std::string& business_id,
                                       int64_t default_lifetime);
  // Each returns the new disclosure version.
  static int64_t SetDataUseStatement(pqxx::transaction_base& tx, const std::string& business_id,
                                     const std::string& statement);
  static int64_t SetRetention(pqxx::transaction_base& tx, const std::string& business_id,
                              int64_t lifetime_seconds, bool no_storage,
                              const std::vector<std::pair<std::string, int64_t>>& labels);
  // Lowers (never raises) the expiry of stored messages to what the current rules give:
  // of one conversation, or of every conversation of the business when `conversation_id` is
  // empty. With no-storage on, acknowledged messages expire after `grace_seconds`.
  static void ApplyShorterRules(pqxx::transaction_base& tx, const std::string& business_id,
                                const std::string& conversation_id, int64_t default_lifetime,
                                int64_t grace_seconds);
  static bool SetLabel(pqxx::transaction_base& tx, const std::string& business_id,
                       const std::string& conversation_id, const std::string& label);
  // Offboarding: disables the business and makes every message of it expire now.
  static void Offboard(pqxx::transaction_base& tx, const std::string& business_id);
  static void UpdateBusinessProfile(pqxx::transaction_base& tx, const std::string& business_id,
                                    const std::string& name, const std::string& description,
                                    const std::string& website);

  // Reserves `n` positions in the owner's log (locking its head); returns the first.
  static int64_t TakePositions(pqxx::transaction_base& tx, const std::string& owner, int64_t n);
  static void InsertEvent(pqxx::transaction_base& tx, const std::string& owner, int64_t position,
                          EventKind kind, const std::string& conversation_id,
                          const std::string& message_id, int status, int notice);
  // Appends one event at the next position and wakes the owner's streams at commit.
  static void AppendEvent(pqxx::transaction_base& tx, const std::string& owner, EventKind kind,
                          const std::string& conversation_id, const std::string& message_id = "",
                          int status = 0, int notice = 0);

  static std::string UpsertConsent(pqxx::transaction_base& tx, const std::string& business_id,
                                   const std::string& user_id, int64_t version);
  // Sets the state of the user's chat with the business if it is in one of `from`; returns the
  // conversation id, or nullopt if there is no such chat.
  static std::optional<std::string> SetState(pqxx::transaction_base& tx,
                                             const std::string& business_id,
                                             const std::string& user_id, ChatState to,
                                             const std::vector<ChatState>& from);

  static std::optional<ConversationRow> ConversationOfBusiness(pqxx::transaction_base& tx,
                                                               const std::string& business_id,
                                                               const std::string& conversation_id,
                                                               bool lock);
  static std::optional<ConversationRow> ConversationOfUser(pqxx::transaction_base& tx,
                                                           const std::string& user_id,
                                                           const std::string& conversation_id);
  static std::optional<ConversationRow> ChatOfUserWithBusiness(pqxx::transaction_base& tx,
                                                               const std::string& user_id,
                                                               const std::string& business_id);

  // The message sent under this key in this direction, with its request hash.
  static std::optional<std::pair<MessageRow, std::string>> MessageByKey(
      pqxx::transaction_base& tx, const std::string& conversation_id, Direction direction,
      const std::string& key);
  // Stores a business reply sealed with `data_key`; its expiry follows the business's rules.
  static MessageRow InsertMessage(pqxx::transaction_base& tx, const ConversationRow& chat,
                                  Direction direction, const std::string& text,
                                  const std::string& template_name, const std::string& key,
                                  const std::string& request_hash, const std::string& data_key,
                                  int64_t default_lifetime);
  // Group commit of user messages: authenticates, seals with each business's data key and
  // stores the batch. Two statements: the first only reads, the second stores the whole batch
  // atomically, so `tx` may be a nontransaction (each statement then commits on its own).
  // kUnsealedBenchmarkBaseline stores bodies as given: only bizrelay-bench uses it, to measure what
  // sealing costs, on a database of its own (such bodies cannot be read back).
  enum class Bodies { kSealed, kUnsealedBenchmarkBaseline };
  static std::vector<PostResult> PostUserMessages(pqxx::transaction_base& tx,
                                                  const std::vector<PostItem>& items, KeyRing& keys,
                                                  int64_t default_lifetime,
                                                  Bodies bodies = Bodies::kSealed);

  static void UpsertTemplate(pqxx::transaction_base& tx, const std::string& business_id,
                             const TemplateRow& t);
  static std::optional<TemplateRow> Template(pqxx::transaction_base& tx,
                                             const std::string& business_id,
                                             const std::string& name);
  static std::vector<TemplateRow> Templates(pqxx::transaction_base& tx,
                                            const std::string& business_id);

  static std::vector<ConversationRow> ConversationsOfBusiness(
      pqxx::transaction_base& tx, const std::string& business_id,
      const std::optional<std::pair<int64_t, std::string>>& after, int limit);
  static std::vector<ConversationRow> ChatsOfUser(pqxx::transaction_base& tx,
                                                  const std::string& user_id,
                                                  const std::string& after_id, int limit);
  static std::vector<MessageRow> Messages(pqxx::transaction_base& tx,
                                          const std::string& conversation_id, int64_t after_seq,
                                          int limit, int64_t* last_seq);
  static std::vector<std::pair<std::string, std::string>> OpenChatsOfBusiness(
      pqxx::transaction_base& tx, const std::string& business_id);

  // Up to `limit` events after `after`, skipping those whose message is gone or unreadable;
  // `last_read` (if given) gets the position of the last event read, skipped or not.
  static std::vector<EventRow> Events(pqxx::transaction_base& tx, const std::string& owner,
                                      int64_t after, int limit, int64_t default_lifetime,
                                      int64_t* last_read = nullptr);
  // One status event per change, to the owner it names, in one statement.
  static void AppendStatusEvents(pqxx::transaction_base& tx,
                                 const std::vector<StatusChange>& changes, int status);
  // In one statement: marks delivered the messages behind the owner's message events up to
  // `position` and tells each conversation's sender (a status event), lets delivered messages
  // of no-storage businesses expire after `no_storage_grace` seconds, moves the acknowledged
  // position forward and drops the acknowledged events. Returns the acknowledged position.
  static int64_t Acknowledge(pqxx::transaction_base& tx, const std::string& owner, int64_t position,
                             int64_t no_storage_grace);
  // Marks read the messages of `direction` in the conversation up to `message_id` (inclusive).
  // `marked` gets how many became read; the change names `message_id` (every earlier message of
  // that side is read too).
  static std::vector<StatusChange> MarkRead(pqxx::transaction_base& tx,
                                            const std::string& conversation_id, Direction direction,
                                            const std::string& message_id, int* marked);
};

}  // namespace bizrelay::hosting
