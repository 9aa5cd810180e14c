#include "services/hosting/repository.h"

#include <algorithm>
#include <map>

#include "services/hosting/keyring.h"
#include "services/platform/token.h"
#include "services/store/sql_array.h"

namespace bizrelay::hosting {
namespace {

#define MICROS(col) "(extract(epoch from " col ") * 1000000)::bigint"
// The status of message m from its conversation's watermarks (alias mk, LEFT JOINed).
#define STATUS_OF_M                                                         \
  "hosting.message_status(m.direction, m.seq, mk.user_msgs_delivered_seq, " \
  "mk.user_msgs_read_seq, mk.biz_msgs_delivered_seq, mk.biz_msgs_read_seq)"

constexpr const char* kTerms =
    "SELECT b.business_id::text, b.display_name, b.description, b.website, "
    "  coalesce(t.version, 1), coalesce(t.lifetime_seconds, $2), coalesce(t.no_storage, false), "
    "  coalesce(t.data_use_statement, '') "
    "FROM core.businesses b LEFT JOIN hosting.business_terms t USING (business_id) "
    "WHERE b.business_id = $1::uuid AND b.disabled_at IS NULL";

constexpr const char* kLabels =
    "SELECT label, lifetime_seconds FROM hosting.retention_labels WHERE business_id = $1::uuid "
    "ORDER BY label";

constexpr const char* kSetStatement =
    "INSERT INTO hosting.business_terms AS t (business_id, version, data_use_statement) "
    "VALUES ($1::uuid, 2, $2) "
    "ON CONFLICT (business_id) DO UPDATE SET version = t.version + 1, "
    "  data_use_statement = excluded.data_use_statement, updated_at = now() "
    "RETURNING version";

constexpr const char* kSetRetention =
    "INSERT INTO hosting.business_terms AS t (business_id, version, lifetime_seconds, no_storage) "
    "VALUES ($1::uuid, 2, nullif($2, 0), $3) "
    "ON CONFLICT (business_id) DO UPDATE SET version = t.version + 1, "
    "  lifetime_seconds = excluded.lifetime_seconds, no_storage = excluded.no_storage, "
    "  updated_at = now() "
    "RETURNING version";
constexpr const char* kClearLabels =
    "DELETE FROM hosting.retention_labels WHERE business_id = $1::uuid";
constexpr const char* kInsertLabel =
    "INSERT INTO hosting.retention_labels (business_id, label, lifetime_seconds) "
    "VALUES ($1::uuid, $2, $3)";

// Only ever lowers an expiry: what was stored under a shorter rule the user was shown is
// never kept longer.
constexpr const char* kShorten =
    "UPDATE hosting.messages m SET expires_at = least(m.expires_at, "
    "    m.created_at + make_interval(secs => hosting.lifetime_seconds(c.business_id, c.label, "
    "$3)), "
    "    CASE WHEN t.no_storage AND " STATUS_OF_M
    " >= 2 "
    "         THEN now() + make_interval(secs => $4) "
    "         ELSE 'infinity'::timestamptz END) "
    "FROM hosting.conversations c LEFT JOIN hosting.business_terms t USING (business_id) "
    "LEFT JOIN hosting.conversation_marks mk ON mk.conversation_id = c.conversation_id "
    "WHERE c.conversation_id = m.conversation_id AND c.business_id = $1::uuid "
    "  AND ($2 = '' OR c.conversation_id = nullif($2, '')::uuid)";

constexpr const char* kSetLabel =
    "UPDATE hosting.conversations SET label = $3 "
    "WHERE conversation_id = $2::uuid AND business_id = $1::uuid";

constexpr const char* kOffboardBusiness =
    "UPDATE core.businesses SET disabled_at = coalesce(disabled_at, now()), "
    "  offboarded_at = coalesce(offboarded_at, now()) WHERE business_id = $1::uuid";
constexpr const char* kExpireAllOf =
    "UPDATE hosting.messages m SET expires_at = least(m.expires_at, now()) "
    "FROM hosting.conversations c "
    "WHERE c.conversation_id = m.conversation_id AND c.business_id = $1::uuid";

constexpr const char* kUpdateProfile =
    "UPDATE core.businesses SET display_name = $2, description = $3, website = $4 "
    "WHERE business_id = $1::uuid";

constexpr const char* kTakePositions = "SELECT hosting.take_positions($1::uuid, $2)";

constexpr const char* kInsertEvent =
    "INSERT INTO hosting.events (owner_id, position, kind, conversation_id, message_id, status, "
    "  notice_kind) VALUES ($1::uuid, $2, $3, $4::uuid, nullif($5, '')::uuid, nullif($6, 0), "
    "  nullif($7, 0))";

constexpr const char* kNotify = "SELECT pg_notify('bizrelay_mailbox', $1)";

constexpr const char* kUpsertConsent =
    "INSERT INTO hosting.conversations AS c (business_id, user_id, state, consent_version) "
    "VALUES ($1::uuid, $2::uuid, 1, $3) "
    "ON CONFLICT (business_id, user_id) DO UPDATE SET state = 1, consent_version = $3, "
    "  consented_at = now(), last_activity_at = now() "
    "RETURNING conversation_id::text";

constexpr const char* kSetState =
    "UPDATE hosting.conversations SET state = $3, last_activity_at = now() "
    "WHERE business_id = $1::uuid AND user_id = $2::uuid AND state = ANY ($4::smallint[]) "
    "RETURNING conversation_id::text";

#define CONVERSATION_COLUMNS                                                                      \
  "c.conversation_id::text, c.business_id::text, coalesce(c.user_id::text, ''), b.display_name, " \
  "c.state, c.consent_version, extract(epoch from now() - c.last_user_message_at)::float8 "       \
  "FROM hosting.conversations c JOIN core.businesses b USING (business_id) "

constexpr const char* kConversationOfBusiness =
    "SELECT " CONVERSATION_COLUMNS
    "WHERE c.conversation_id = $1::uuid AND c.business_id = $2::uuid";
constexpr const char* kConversationOfBusinessLocked =
    "SELECT " CONVERSATION_COLUMNS
    "WHERE c.conversation_id = $1::uuid AND c.business_id = $2::uuid FOR UPDATE OF c";
constexpr const char* kConversationOfUser =
    "SELECT " CONVERSATION_COLUMNS "WHERE c.conversation_id = $1::uuid AND c.user_id = $2::uuid";
constexpr const char* kChatOfUserWithBusiness =
    "SELECT " CONVERSATION_COLUMNS "WHERE c.user_id = $1::uuid AND c.business_id = $2::uuid";
constexpr const char* kConversationsOfBusiness =
    "SELECT " CONVERSATION_COLUMNS
    "WHERE c.business_id = $1::uuid AND ($2 = 0 OR (" MICROS("c.last_activity_at")
    ", c.conversation_id) < ($3::bigint, $4::uuid)) "
    "ORDER BY c.last_activity_at DESC, c.conversation_id DESC LIMIT $5";
constexpr const char* kActivityOf = "SELECT " MICROS(
    "last_activity_at") " FROM hosting.conversations WHERE conversation_id = $1::uuid";
constexpr const char* kChatsOfUser = "SELECT " CONVERSATION_COLUMNS
                                     "WHERE c.user_id = $1::uuid AND c.conversation_id > $2::uuid "
                                     "ORDER BY c.conversation_id LIMIT $3";
constexpr const char* kOpenChatsOfBusiness =
    "SELECT conversation_id::text, user_id::text FROM hosting.conversations "
    "WHERE business_id = $1::uuid AND state = 1 ORDER BY user_id";

// A readable message: not expired. Offboarding expires every message of the business in the
// transaction that destroys its data key, so this also hides crypto-shredded messages from
// instances that still hold the key in memory.
#define LIVE_MESSAGE "m.expires_at > now()"
#define MESSAGE_COLUMNS                                                \
  "m.message_id::text, m.conversation_id::text, m.direction, m.body, " \
  "coalesce(m.template_name, ''), " STATUS_OF_M                        \
  ", " MICROS("m.created_at") ", c.business_id::text"

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
    "RETURNING " MICROS("m.created_at");
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
    "  coalesce(" MICROS("created_at") ", 0) "
    "FROM hosting.post_user_messages($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], "
    "  $6::text[], $7)";

constexpr const char* kUpsertTemplate =
    "INSERT INTO hosting.templates (business_id, name, body, parameters) "
    "VALUES ($1::uuid, $2, $3, $4::text[]) ON CONFLICT (business_id, name) "
    "DO UPDATE SET body = excluded.body, parameters = excluded.parameters, created_at = now()";
constexpr const char* kTemplate =
    "SELECT name, body, array_to_string(parameters, ',') FROM hosting.templates "
    "WHERE business_id = $1::uuid AND name = $2";
constexpr const char* kTemplates =
    "SELECT name, body, array_to_string(parameters, ',') FROM hosting.templates "
    "WHERE business_id = $1::uuid ORDER BY name";

constexpr const char* kEvents = "SELECT * FROM hosting.read_events($1::uuid, $2, $3, $4)";

constexpr const char* kAppendStatusEvents =
    "SELECT hosting.append_status_events($1::uuid[], $2::uuid[], $3::uuid[], $4::smallint)";
constexpr const char* kAcknowledge = "SELECT hosting.acknowledge($1::uuid, $2, $3)";

// Read: moves the read (and delivered) watermark of one side of a conversation up to a
// message; returns that message, the sender to tell and how many messages became read.
constexpr const char* kMarkRead =
    "WITH target AS ("
    "  SELECT seq FROM hosting.messages "
    "  WHERE message_id = $3::uuid AND conversation_id = $1::uuid AND direction = $2::smallint), "
    "before AS ("
    "  SELECT coalesce((SELECT CASE WHEN $2::smallint = 1 THEN user_msgs_read_seq "
    "                               ELSE biz_msgs_read_seq END "
    "                   FROM hosting.conversation_marks WHERE conversation_id = $1::uuid), 0) AS "
    "r), "
    "moved AS ("
    "  INSERT INTO hosting.conversation_marks AS k (conversation_id, user_msgs_delivered_seq, "
    "    user_msgs_read_seq, biz_msgs_delivered_seq, biz_msgs_read_seq) "
    "  SELECT $1::uuid, CASE WHEN $2::smallint = 1 THEN t.seq ELSE 0 END, "
    "    CASE WHEN $2::smallint = 1 THEN t.seq ELSE 0 END, "
    "    CASE WHEN $2::smallint = 2 THEN t.seq ELSE 0 END, "
    "    CASE WHEN $2::smallint = 2 THEN t.seq ELSE 0 END "
    "  FROM target t WHERE t.seq > (SELECT r FROM before) "
    "  ON CONFLICT (conversation_id) DO UPDATE SET "
    "    user_msgs_delivered_seq = greatest(k.user_msgs_delivered_seq, "
    "excluded.user_msgs_delivered_seq), "
    "    user_msgs_read_seq = greatest(k.user_msgs_read_seq, excluded.user_msgs_read_seq), "
    "    biz_msgs_delivered_seq = greatest(k.biz_msgs_delivered_seq, "
    "excluded.biz_msgs_delivered_seq), "
    "    biz_msgs_read_seq = greatest(k.biz_msgs_read_seq, excluded.biz_msgs_read_seq) "
    "  RETURNING k.conversation_id) "
    "SELECT $3::text, $1::text, "
    "  coalesce((CASE WHEN $2::smallint = 1 THEN c.user_id ELSE c.business_id END)::text, ''), "
    "  (SELECT count(*) FROM hosting.messages m WHERE m.conversation_id = $1::uuid "
    "     AND m.direction = $2::smallint AND m.seq > (SELECT r FROM before) "
    "     AND m.seq <= (SELECT seq FROM target)) "
    "FROM moved JOIN hosting.conversations c ON c.conversation_id = moved.conversation_id";

#undef MICROS
#undef STATUS_OF_M
#undef CONVERSATION_COLUMNS
#undef MESSAGE_COLUMNS
#undef LIVE_MESSAGE

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

ConversationRow ConversationFrom(const pqxx::row& r) {
  ConversationRow c{
      .conversation_id = r[0].as<std::string>(),
      .business_id = r[1].as<std::string>(),
      .user_id = r[2].as<std::string>(),
      .business_name = r[3].as<std::string>(),
      .state = static_cast<ChatState>(r[4].as<int>()),
      .consent_version = r[5].as<int64_t>(),
  };
  if (!r[6].is_null()) c.seconds_since_user_message = r[6].as<double>();
  return c;
}

std::optional<ConversationRow> FirstConversation(const pqxx::result& rows) {
  if (rows.empty()) return std::nullopt;
  return ConversationFrom(rows[0]);
}

std::vector<std::string> SplitCsv(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  size_t start = 0;
  while (true) {
    size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

std::optional<TermsRow> HostingRepository::Terms(pqxx::transaction_base& tx,
                                                 const std::string& business_id,
                                                 int64_t default_lifetime) {
  auto rows = tx.exec_params(kTerms, business_id, default_lifetime);
  if (rows.empty()) return std::nullopt;
  const auto& r = rows[0];
  TermsRow t{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
             r[3].as<std::string>(), r[4].as<int64_t>(),     r[5].as<int64_t>(),
             r[6].as<bool>(),        r[7].as<std::string>(), {}};
  for (const auto& l : tx.exec_params(kLabels, business_id)) {
    t.label_lifetimes.emplace_back(l[0].as<std::string>(), l[1].as<int64_t>());
  }
  return t;
}

int64_t HostingRepository::SetDataUseStatement(pqxx::transaction_base& tx,
                                               const std::string& business_id,
                                               const std::string& statement) {
  return tx.exec_params1(kSetStatement, business_id, statement)[0].as<int64_t>();
}

int64_t HostingRepository::SetRetention(
    pqxx::transaction_base& tx, const std::string& business_id, int64_t lifetime_seconds,
    bool no_storage, const std::vector<std::pair<std::string, int64_t>>& labels) {
  int64_t version =
      tx.exec_params1(kSetRetention, business_id, lifetime_seconds, no_storage)[0].as<int64_t>();
  tx.exec_params0(kClearLabels, business_id);
  for (const auto& [label, lifetime] : labels) {
    tx.exec_params0(kInsertLabel, business_id, label, lifetime);
  }
  return version;
}

void HostingRepository::ApplyShorterRules(pqxx::transaction_base& tx,
                                          const std::string& business_id,
                                          const std::string& conversation_id,
                                          int64_t default_lifetime, int64_t grace_seconds) {
  tx.exec_params0(kShorten, business_id, conversation_id, default_lifetime, grace_seconds);
}

bool HostingRepository::SetLabel(pqxx::transaction_base& tx, const std::string& business_id,
                                 const std::string& conversation_id, const std::string& label) {
  return tx.exec_params0(kSetLabel, business_id, conversation_id, label).affected_rows() == 1;
}

void HostingRepository::Offboard(pqxx::transaction_base& tx, const std::string& business_id) {
  tx.exec_params0(kOffboardBusiness, business_id);
  tx.exec_params0(kExpireAllOf, business_id);
}

void HostingRepository::UpdateBusinessProfile(pqxx::transaction_base& tx,
                                              const std::string& business_id,
                                              const std::string& name,
                                              const std::string& description,
                                              const std::string& website) {
  tx.exec_params0(kUpdateProfile, business_id, name, description, website);
}

int64_t HostingRepository::TakePositions(pqxx::transaction_base& tx, const std::string& owner,
                                         int64_t n) {
  return tx.exec_params1(kTakePositions, owner, n)[0].as<int64_t>();
}

void HostingRepository::InsertEvent(pqxx::transaction_base& tx, const std::string& owner,
                                    int64_t position, EventKind kind,
                                    const std::string& conversation_id,
                                    const std::string& message_id, int status, int notice) {
  tx.exec_params0(kInsertEvent, owner, position, static_cast<int>(kind), conversation_id,
                  message_id, status, notice);
  tx.exec_params(kNotify, owner);
}

void HostingRepository::AppendEvent(pqxx::transaction_base& tx, const std::string& owner,
                                    EventKind kind, const std::string& conversation_id,
                                    const std::string& message_id, int status, int notice) {
  InsertEvent(tx, owner, TakePositions(tx, owner, 1), kind, conversation_id, message_id, status,
              notice);
}

std::string HostingRepository::UpsertConsent(pqxx::transaction_base& tx,
                                             const std::string& business_id,
                                             const std::string& user_id, int64_t version) {
  return tx.exec_params1(kUpsertConsent, business_id, user_id, version)[0].as<std::string>();
}

std::optional<std::string> HostingRepository::SetState(pqxx::transaction_base& tx,
                                                       const std::string& business_id,
                                                       const std::string& user_id, ChatState to,
                                                       const std::vector<ChatState>& from) {
  std::vector<std::string> states;
  for (auto s : from) states.push_back(std::to_string(static_cast<int>(s)));
  auto rows = tx.exec_params(kSetState, business_id, user_id, static_cast<int>(to),
                             store::SqlArray(states));
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

std::optional<ConversationRow> HostingRepository::ConversationOfBusiness(
    pqxx::transaction_base& tx, const std::string& business_id, const std::string& conversation_id,
    bool lock) {
  return FirstConversation(
      tx.exec_params(lock ? kConversationOfBusinessLocked : kConversationOfBusiness,
                     conversation_id, business_id));
}

std::optional<ConversationRow> HostingRepository::ConversationOfUser(
    pqxx::transaction_base& tx, const std::string& user_id, const std::string& conversation_id) {
  return FirstConversation(tx.exec_params(kConversationOfUser, conversation_id, user_id));
}

std::optional<ConversationRow> HostingRepository::ChatOfUserWithBusiness(
    pqxx::transaction_base& tx, const std::string& user_id, const std::string& business_id) {
  return FirstConversation(tx.exec_params(kChatOfUserWithBusiness, user_id, business_id));
}

std::optional<std::pair<MessageRow, std::string>> HostingRepository::MessageByKey(
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

MessageRow HostingRepository::InsertMessage(pqxx::transaction_base& tx, const ConversationRow& chat,
                                            Direction direction, const std::string& text,
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
               .text = text,
               .template_name = template_name,
               .status = MessageStatus::kSent,
               .created_unix_micros = 0};
  m.sealed =
      KeyRing::SealBody(data_key, chat.business_id, chat.conversation_id, m.message_id, text);
  m.created_unix_micros = tx.exec_params1(kInsertMessage, m.message_id, chat.conversation_id, seq,
                                          static_cast<int>(direction), pqxx::binarystring(m.sealed),
                                          template_name, key, pqxx::binarystring(request_hash),
                                          chat.business_id, label, default_lifetime)[0]
                              .as<int64_t>();
  return m;
}

std::vector<PostResult> HostingRepository::PostUserMessages(pqxx::transaction_base& tx,
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

void HostingRepository::UpsertTemplate(pqxx::transaction_base& tx, const std::string& business_id,
                                       const TemplateRow& t) {
  tx.exec_params0(kUpsertTemplate, business_id, t.name, t.body, store::SqlArray(t.parameters));
}

std::optional<TemplateRow> HostingRepository::Template(pqxx::transaction_base& tx,
                                                       const std::string& business_id,
                                                       const std::string& name) {
  auto rows = tx.exec_params(kTemplate, business_id, name);
  if (rows.empty()) return std::nullopt;
  return TemplateRow{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
                     SplitCsv(rows[0][2].as<std::string>())};
}

std::vector<TemplateRow> HostingRepository::Templates(pqxx::transaction_base& tx,
                                                      const std::string& business_id) {
  std::vector<TemplateRow> out;
  for (const auto& r : tx.exec_params(kTemplates, business_id)) {
    out.push_back(
        {r[0].as<std::string>(), r[1].as<std::string>(), SplitCsv(r[2].as<std::string>())});
  }
  return out;
}

std::vector<ConversationRow> HostingRepository::ConversationsOfBusiness(
    pqxx::transaction_base& tx, const std::string& business_id,
    const std::optional<std::pair<int64_t, std::string>>& after, int limit) {
  std::vector<ConversationRow> out;
  auto rows =
      tx.exec_params(kConversationsOfBusiness, business_id, after ? 1 : 0, after ? after->first : 0,
                     after ? after->second : "00000000-0000-0000-0000-000000000000", limit);
  for (const auto& r : rows) out.push_back(ConversationFrom(r));
  return out;
}

std::vector<ConversationRow> HostingRepository::ChatsOfUser(pqxx::transaction_base& tx,
                                                            const std::string& user_id,
                                                            const std::string& after_id,
                                                            int limit) {
  std::vector<ConversationRow> out;
  for (const auto& r : tx.exec_params(
           kChatsOfUser, user_id,
           after_id.empty() ? "00000000-0000-0000-0000-000000000000" : after_id, limit)) {
    out.push_back(ConversationFrom(r));
  }
  return out;
}

std::vector<MessageRow> HostingRepository::Messages(pqxx::transaction_base& tx,
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

std::vector<std::pair<std::string, std::string>> HostingRepository::OpenChatsOfBusiness(
    pqxx::transaction_base& tx, const std::string& business_id) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : tx.exec_params(kOpenChatsOfBusiness, business_id)) {
    out.emplace_back(r[0].as<std::string>(), r[1].as<std::string>());
  }
  return out;
}

std::vector<EventRow> HostingRepository::Events(pqxx::transaction_base& tx,
                                                const std::string& owner, int64_t after, int limit,
                                                int64_t default_lifetime, int64_t* last_read) {
  std::vector<EventRow> out;
  if (last_read != nullptr) *last_read = after;
  for (const auto& r : tx.exec_params(kEvents, owner, after, limit, default_lifetime)) {
    EventRow e;
    e.position = r[0].as<int64_t>();
    if (last_read != nullptr) *last_read = e.position;
    e.kind = static_cast<EventKind>(r[1].as<int>());
    e.conversation_id = r[2].as<std::string>();
    e.user_id = r[3].as<std::string>();
    e.business_id = r[4].as<std::string>();
    e.message_id = r[5].as<std::string>();
    e.status = static_cast<MessageStatus>(r[6].as<int>());
    e.notice = static_cast<NoticeKind>(r[7].as<int>());
    if (e.kind == EventKind::kMessage) {
      if (r[8].is_null()) continue;  // the message is gone (expired or erased)
      e.message = MessageRow{.message_id = e.message_id,
                             .conversation_id = e.conversation_id,
                             .business_id = e.business_id,
                             .sealed = pqxx::binarystring(r[9]).str(),
                             .direction = static_cast<Direction>(r[8].as<int>()),
                             .text = "",
                             .template_name = r[10].as<std::string>(),
                             .status = static_cast<MessageStatus>(r[11].as<int>()),
                             .created_unix_micros = r[12].as<int64_t>()};
    }
    e.terms = TermsRow{
        e.business_id,    r[13].as<std::string>(), "", "", r[14].as<int64_t>(), r[15].as<int64_t>(),
        r[17].as<bool>(), r[16].as<std::string>(), {}};
    out.push_back(std::move(e));
  }
  return out;
}

void HostingRepository::AppendStatusEvents(pqxx::transaction_base& tx,
                                           const std::vector<StatusChange>& changes, int status) {
  if (changes.empty()) return;
  std::vector<std::string> owners, conversations, messages;
  for (const auto& c : changes) {
    owners.push_back(c.notify_owner);
    conversations.push_back(c.conversation_id);
    messages.push_back(c.message_id);
  }
  tx.exec_params(kAppendStatusEvents, store::SqlArray(owners), store::SqlArray(conversations),
                 store::SqlArray(messages), status);
}

int64_t HostingRepository::Acknowledge(pqxx::transaction_base& tx, const std::string& owner,
                                       int64_t position, int64_t no_storage_grace) {
  // Touches the owner's acks row, conversation marks, message rows and then the heads of the
  // senders told; never the owner's own head, so it does not wait for writers appending to the
  // same log.
  return tx.exec_params1(kAcknowledge, owner, position, no_storage_grace)[0].as<int64_t>();
}

std::vector<StatusChange> HostingRepository::MarkRead(pqxx::transaction_base& tx,
                                                      const std::string& conversation_id,
                                                      Direction direction,
                                                      const std::string& message_id, int* marked) {
  *marked = 0;
  std::vector<StatusChange> changes;
  for (const auto& r :
       tx.exec_params(kMarkRead, conversation_id, static_cast<int>(direction), message_id)) {
    *marked = r[3].as<int>();
    if (!r[2].as<std::string>().empty()) {
      changes.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>()});
    }
  }
  return changes;
}

}  // namespace bizrelay::hosting
