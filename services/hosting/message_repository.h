#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "services/hosting/rows.h"

namespace bizrelay::hosting {

class KeyRing;

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

// Messages and their idempotency keys: storing user messages in group-commit batches and
// business replies one at a time, finding an earlier send by its key, and a conversation's
// history. Every function runs in the caller's transaction.
class MessageRepository {
 public:
  // The message sent under this key in this direction, with its request hash.
  static std::optional<std::pair<MessageRow, std::string>> MessageByKey(
      pqxx::transaction_base& tx, const std::string& conversation_id, Direction direction,
      const std::string& key);
  // Stores a business reply sealed with `data_key`; its expiry follows the business's rules.
  // `body` is the plaintext to seal (see EncodeBody in rich_content.h); the row returned has it
  // as `text`.
  static MessageRow InsertMessage(pqxx::transaction_base& tx, const ConversationRow& chat,
                                  Direction direction, const std::string& body,
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

  static std::vector<MessageRow> Messages(pqxx::transaction_base& tx,
                                          const std::string& conversation_id, int64_t after_seq,
                                          int limit, int64_t* last_seq);

  // The message if it is in the conversation and not expired (sealed, as stored); nullopt for
  // an unknown id, another conversation's message and an expired one alike.
  static std::optional<MessageRow> LiveMessage(pqxx::transaction_base& tx,
                                               const std::string& conversation_id,
                                               const std::string& message_id);

  // Sets one side's reaction (sealed) to a message; returns when it was set (micros).
  static int64_t SetReaction(pqxx::transaction_base& tx, const std::string& message_id, Party party,
                             const std::string& sealed);
  // Removes one side's reaction; false if it had none.
  static bool RemoveReaction(pqxx::transaction_base& tx, const std::string& message_id,
                             Party party);
  // The reactions (sealed) to the given messages, in message id and party order.
  static std::vector<ReactionRow> Reactions(pqxx::transaction_base& tx,
                                            const std::vector<std::string>& message_ids);
};

}  // namespace bizrelay::hosting
