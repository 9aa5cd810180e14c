#include "services/hosting/message_repository.h"

#include <algorithm>
#include <map>

#include "services/hosting/keyring.h"
#include "services/hosting/sql_fragments.h"
#include "services/platform/token.h"
#include "services/store/sql_array.h"

namespace bizrelay::hosting {
namespace {

// A readable message: not expired. Offboarding expires every message of the business in the
// transaction that destroys its data key, so this also hides crypto-shredded messages from
// instances that still hold the key in memory.
#define LIVE_MESSAGE "m.expires_at > now()"
#define MESSAGE_COLUMNS                                                \
  "m.message_id::text, m.conversation_id::text, m.direction, m.body, " \
  "coalesce(m.template_name, ''), " HOSTING_SQL_STATUS_OF_M            \
  ", " HOSTING_SQL_MICROS("m.created_at") ", c.business_id::text"

constexpr const char* kMessageByKey =
    "SELECT " MESSAGE_COLUMNS
    ", m.request_hash FROM hosting.messages m "
    "JOIN hosting.conversations c ON c.conversation_id = m.conversation_id "
    "LEFT JOIN hosting.conversation_marks mk ON mk.conversation_id = m.conversation_id "
    "WHERE hosting.idempotency_ref(m.conversation_id, m.direction, m.idempotency_key) "
    "  = hosting.idempotency_ref($1::uuid, $2::smallint, $3)";
constexpr const char* kNextSeq =
    "UPDATE hosting.conversations SET next_seq = next_seq + 1, last_activity_at = now() "
    "WHERE conversation_id = $1::uuid RETURNING next_seq";
constexpr const char* kInsertMessage =
    "INSERT INTO hosting.messages AS m (message_id, conversation_id, seq, direction, body, "
    "  template_name, idempotency_key, request_hash, expires_at) "
    "VALUES ($1::uuid, $2::uuid, $3, $4, $5, nullif($6, ''), $7, $8, "
    "  now() + make_interval(secs => hosting.lifetime_seconds($9::uuid, $10, $11))) "
    "RETURNING " HOSTING_SQL_MICROS("m.created_at");
constexpr const char* kConversationLabel =
    "SELECT label FROM hosting.conversations WHERE conversation_id = $1::uuid";
constexpr const char* kMessages =
    "SELECT " MESSAGE_COLUMNS
    ", m.seq FROM hosting.messages m "
    "JOIN hosting.conversations c ON c.conversation_id = m.conversation_id "
    "LEFT JOIN hosting.conversation_marks mk ON mk.conversation_id = m.conversation_id "
    "WHERE m.conversation_id = $1::uuid AND m.seq > $2 AND " LIVE_MESSAGE
    " ORDER BY m.seq LIMIT $3";

// Records the senders' day of activity; their rows are locked in user order, so concurrent
// batches cannot deadlock on them.
constexpr const char* kTouchSenders =
    "UPDATE core.users u SET last_active_day = current_date WHERE u.user_id IN ("
    "  SELECT x.user_id FROM core.users x JOIN core.credentials cr ON cr.principal_id = x.user_id "
    "  WHERE cr.token_hash = ANY ($1::bytea[]) AND cr.kind = 1 AND cr.revoked_at IS NULL "
    "    AND x.last_active_day <> current_date "
    "  ORDER BY x.user_id FOR UPDATE OF x)";
constexpr const char* kPrepareUserSends =
    "SELECT idx, outcome, coalesce(conversation_id::text, ''), required_policy, stale_day "
    "FROM hosting.prepare_user_sends($1::bytea[], $2::uuid[])";
constexpr const char* kPostUserMessages =
    "SELECT idx, outcome, coalesce(message_id::text, ''), coalesce(status, 1), "
    "  coalesce(" HOSTING_SQL_MICROS("created_at") ", 0) "
    "FROM hosting.post_user_messages($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], "
    "  $6::text[], $7)";

constexpr const char* kLiveMessage =
    "SELECT " MESSAGE_COLUMNS
    " FROM hosting.messages m "
    "JOIN hosting.conversations c ON c.conversation_id = m.conversation_id "
    "LEFT JOIN hosting.conversation_marks mk ON mk.conversation_id = m.conversation_id "
    "WHERE m.message_id = $2::uuid AND m.conversation_id = $1::uuid AND " LIVE_MESSAGE;

constexpr const char* kSetReaction =
    "INSERT INTO hosting.message_reactions AS r (message_id, party, emoji) "
    "VALUES ($1::uuid, $2::smallint, $3) "
    "ON CONFLICT (message_id, party) DO UPDATE SET emoji = excluded.emoji, updated_at = now() "
    "RETURNING " HOSTING_SQL_MICROS("r.updated_at");
constexpr const char* kRemoveReaction =
    "DELETE FROM hosting.message_reactions WHERE message_id = $1::uuid AND party = $2::smallint";
constexpr const char* kReactions =
    "SELECT r.message_id::text, r.party, r.emoji, " HOSTING_SQL_MICROS("r.updated_at")
    " FROM hosting.message_reactions r WHERE r.message_id = ANY ($1::uuid[]) "
    "ORDER BY r.message_id, r.party";

#undef LIVE_MESSAGE
#undef MESSAGE_COLUMNS

MessageRow MessageFrom(const pqxx::row& r) {
  return MessageRow{
      .message_id = r[0].as<std::string>(),
      .conversation_id = r[1].as<std::string>(),
      .business_id = r[7].as<std::string>(),
      .sealed = pqxx::binarystring(r[3]).str(),
      .direction = static_cast<Direction>(r[2].as<int>()),
      .text = "",
      .template_name = r[4].as<std::string>(),
      .status = static_cast<MessageStatus>(r[5].as<int>()),
      .created_unix_micros = r[6].as<int64_t>(),
  };
}

}  // namespace

std::optional<std::pair<MessageRow, std::string>> MessageRepository::MessageByKey(
    pqxx::transaction_base& tx, const std::string& conversation_id, Direction direction,
    const std::string& key) {
  auto rows = tx.exec_params(kMessageByKey, conversation_id, static_cast<int>(direction), key);
  if (rows.empty()) return std::nullopt;
  pqxx::binarystring hash(rows[0][8]);
  return std::make_pair(MessageFrom(rows[0]), hash.str());
}

namespace {

// A new message id, made here so that the body can be sealed with it as associated data before
// the row exists. Time-ordered, so the message and event indexes on it take inserts at their
// right edge (a random id dirtied a random page of each for every message).
std::string NewMessageId() { return TimeOrderedUuid(); }

}  // namespace

MessageRow MessageRepository::InsertMessage(pqxx::transaction_base& tx, const ConversationRow& chat,
                                            Direction direction, const std::string& body,
                                            const std::string& template_name,
                                            const std::string& key, const std::string& request_hash,
                                            const std::string& data_key, int64_t default_lifetime) {
  int64_t seq = tx.exec_params1(kNextSeq, chat.conversation_id)[0].as<int64_t>();
  std::string label =
      tx.exec_params1(kConversationLabel, chat.conversation_id)[0].as<std::string>();
  MessageRow m{.message_id = NewMessageId(),
               .conversation_id = chat.conversation_id,
               .business_id = chat.business_id,
               .sealed = "",
               .direction = direction,
               .text = body,
               .template_name = template_name,
               .status = MessageStatus::kSent,
               .created_unix_micros = 0};
  m.sealed =
      KeyRing::SealBody(data_key, chat.business_id, chat.conversation_id, m.message_id, body);
  m.created_unix_micros = tx.exec_params1(kInsertMessage, m.message_id, chat.conversation_id, seq,
                                          static_cast<int>(direction), pqxx::binarystring(m.sealed),
                                          template_name, key, pqxx::binarystring(request_hash),
                                          chat.business_id, label, default_lifetime)[0]
                              .as<int64_t>();
  return m;
}

std::vector<PostResult> MessageRepository::PostUserMessages(pqxx::transaction_base& tx,
                                                            const std::vector<PostItem>& items,
                                                            KeyRing& keys, int64_t default_lifetime,
                                                            Bodies body_mode) {
  std::vector<PostResult> results(items.size());
  std::vector<std::string> tokens, businesses;
  for (const auto& item : items) {
    tokens.push_back(item.token_hash);
    businesses.push_back(item.business_id);
  }
  // Step 1: who sends, to which conversation.
  std::vector<size_t> found;
  std::vector<std::string> conversations(items.size());
  std::vector<std::string> stale_days;
  for (const auto& r : tx.exec_params(kPrepareUserSends, store::SqlByteaArray(tokens),
                                      store::SqlArray(businesses))) {
    size_t idx = r[0].as<size_t>();
    results.at(idx).outcome = static_cast<PostOutcome>(r[1].as<int>());
    if (!r[3].is_null()) results[idx].required_policy = r[3].as<std::string>();
    if (r[4].as<bool>()) stale_days.push_back(items[idx].token_hash);
    if (results[idx].outcome == PostOutcome::kStored) {
      conversations[idx] = r[2].as<std::string>();
      found.push_back(idx);
    }
  }
  if (!stale_days.empty()) tx.exec_params0(kTouchSenders, store::SqlByteaArray(stale_days));
  if (found.empty()) return results;
  // Positions and sequence numbers follow the order in which sends were submitted.
  std::sort(found.begin(), found.end());

  // A key repeated inside the batch is sent once; the repeats are answered like retries.
  std::map<std::pair<std::string, std::string>, size_t> first_of;
  std::vector<std::pair<size_t, size_t>> repeats;  // (item, its first occurrence)
  std::vector<size_t> unique;
  for (size_t idx : found) {
    auto [it, inserted] =
        first_of.try_emplace({conversations[idx], items[idx].idempotency_key}, idx);
    if (inserted) {
      unique.push_back(idx);
    } else {
      repeats.emplace_back(idx, it->second);
    }
  }
  found = unique;

  // Step 2: seal each body with its business's data key and store.
  std::vector<std::string> convs, bizs, ids, idem, bodies, hashes;
  for (size_t idx : found) {
    const PostItem& item = items[idx];
    std::string id = NewMessageId();
    results[idx].message = MessageRow{.message_id = id,
                                      .conversation_id = conversations[idx],
                                      .business_id = item.business_id,
                                      .sealed = "",
                                      .direction = Direction::kUserToBusiness,
                                      .text = item.text,
                                      .template_name = "",
                                      .status = MessageStatus::kSent,
                                      .created_unix_micros = 0};
    convs.push_back(conversations[idx]);
    bizs.push_back(item.business_id);
    ids.push_back(id);
    idem.push_back(item.idempotency_key);
    if (body_mode == Bodies::kSealed) {
      auto data_key = keys.DataKey(tx, item.business_id, /*create=*/true);
      bodies.push_back(
          ToHex(KeyRing::SealBody(*data_key, item.business_id, conversations[idx], id, item.text)));
    } else {
      bodies.push_back(ToHex(item.text));
    }
    hashes.push_back(ToHex(item.request_hash));
  }
  auto rows = tx.exec_params(kPostUserMessages, store::SqlArray(convs), store::SqlArray(bizs),
                             store::SqlArray(ids), store::SqlArray(idem), store::SqlArray(bodies),
                             store::SqlArray(hashes), default_lifetime);
  for (const auto& r : rows) {
    PostResult& out = results.at(found.at(r[0].as<size_t>()));
    out.outcome = static_cast<PostOutcome>(r[1].as<int>());
    if (r[2].is_null()) continue;
    out.message.message_id = r[2].as<std::string>();
    out.message.status = static_cast<MessageStatus>(r[3].as<int>());
    out.message.created_unix_micros = r[4].as<int64_t>();
  }
  for (auto [idx, first] : repeats) {
    const PostResult& original = results[first];
    bool stored =
        original.outcome == PostOutcome::kStored || original.outcome == PostOutcome::kReplayed;
    if (!stored) {
      results[idx].outcome = original.outcome;
    } else if (items[idx].request_hash == items[first].request_hash) {
      results[idx] = original;
      results[idx].outcome = PostOutcome::kReplayed;
    } else {
      results[idx].outcome = PostOutcome::kKeyReused;
    }
  }
  return results;
}

std::vector<MessageRow> MessageRepository::Messages(pqxx::transaction_base& tx,
                                                    const std::string& conversation_id,
                                                    int64_t after_seq, int limit,
                                                    int64_t* last_seq) {
  std::vector<MessageRow> out;
  for (const auto& r : tx.exec_params(kMessages, conversation_id, after_seq, limit)) {
    out.push_back(MessageFrom(r));
    *last_seq = r[8].as<int64_t>();
  }
  return out;
}

std::optional<MessageRow> MessageRepository::LiveMessage(pqxx::transaction_base& tx,
                                                         const std::string& conversation_id,
                                                         const std::string& message_id) {
  auto rows = tx.exec_params(kLiveMessage, conversation_id, message_id);
  if (rows.empty()) return std::nullopt;
  return MessageFrom(rows[0]);
}

int64_t MessageRepository::SetReaction(pqxx::transaction_base& tx, const std::string& message_id,
                                       Party party, const std::string& sealed) {
  return tx
      .exec_params1(kSetReaction, message_id, static_cast<int>(party),
                    pqxx::binarystring(sealed))[0]
      .as<int64_t>();
}

bool MessageRepository::RemoveReaction(pqxx::transaction_base& tx, const std::string& message_id,
                                       Party party) {
  return tx.exec_params(kRemoveReaction, message_id, static_cast<int>(party)).affected_rows() > 0;
}

std::vector<ReactionRow> MessageRepository::Reactions(pqxx::transaction_base& tx,
                                                      const std::vector<std::string>& message_ids) {
  std::vector<ReactionRow> out;
  if (message_ids.empty()) return out;
  for (const auto& r : tx.exec_params(kReactions, store::SqlArray(message_ids))) {
    out.push_back(ReactionRow{.message_id = r[0].as<std::string>(),
                              .conversation_id = "",
                              .party = static_cast<Party>(r[1].as<int>()),
                              .sealed = pqxx::binarystring(r[2]).str(),
                              .emoji = "",
                              .updated_unix_micros = r[3].as<int64_t>()});
  }
  return out;
}

}  // namespace bizrelay::hosting
