#include "services/hosting/conversation_repository.h"

#include "services/hosting/sql_fragments.h"
#include "services/store/sql_array.h"

namespace bizrelay::hosting {
namespace {

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
    "WHERE c.business_id = $1::uuid AND ($2 = 0 OR (" HOSTING_SQL_MICROS("c.last_activity_at")
    ", c.conversation_id) < ($3::bigint, $4::uuid)) "
    "ORDER BY c.last_activity_at DESC, c.conversation_id DESC LIMIT $5";
constexpr const char* kChatsOfUser = "SELECT " CONVERSATION_COLUMNS
                                     "WHERE c.user_id = $1::uuid AND c.conversation_id > $2::uuid "
                                     "ORDER BY c.conversation_id LIMIT $3";
constexpr const char* kOpenChatsOfBusiness =
    "SELECT conversation_id::text, user_id::text FROM hosting.conversations "
    "WHERE business_id = $1::uuid AND state = 1 ORDER BY user_id";

#undef CONVERSATION_COLUMNS

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

}  // namespace

std::string ConversationRepository::UpsertConsent(pqxx::transaction_base& tx,
                                                  const std::string& business_id,
                                                  const std::string& user_id, int64_t version) {
  return tx.exec_params1(kUpsertConsent, business_id, user_id, version)[0].as<std::string>();
}

std::optional<std::string> ConversationRepository::SetState(pqxx::transaction_base& tx,
                                                            const std::string& business_id,
                                                            const std::string& user_id,
                                                            ChatState to,
                                                            const std::vector<ChatState>& from) {
  std::vector<std::string> states;
  for (auto s : from) states.push_back(std::to_string(static_cast<int>(s)));
  auto rows = tx.exec_params(kSetState, business_id, user_id, static_cast<int>(to),
                             store::SqlArray(states));
  if (rows.empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

std::optional<ConversationRow> ConversationRepository::ConversationOfBusiness(
    pqxx::transaction_base& tx, const std::string& business_id, const std::string& conversation_id,
    bool lock) {
  return FirstConversation(
      tx.exec_params(lock ? kConversationOfBusinessLocked : kConversationOfBusiness,
                     conversation_id, business_id));
}

std::optional<ConversationRow> ConversationRepository::ConversationOfUser(
    pqxx::transaction_base& tx, const std::string& user_id, const std::string& conversation_id) {
  return FirstConversation(tx.exec_params(kConversationOfUser, conversation_id, user_id));
}

std::optional<ConversationRow> ConversationRepository::ChatOfUserWithBusiness(
    pqxx::transaction_base& tx, const std::string& user_id, const std::string& business_id) {
  return FirstConversation(tx.exec_params(kChatOfUserWithBusiness, user_id, business_id));
}

std::vector<ConversationRow> ConversationRepository::ConversationsOfBusiness(
    pqxx::transaction_base& tx, const std::string& business_id,
    const std::optional<std::pair<int64_t, std::string>>& after, int limit) {
  std::vector<ConversationRow> out;
  auto rows =
      tx.exec_params(kConversationsOfBusiness, business_id, after ? 1 : 0, after ? after->first : 0,
                     after ? after->second : "00000000-0000-0000-0000-000000000000", limit);
  for (const auto& r : rows) out.push_back(ConversationFrom(r));
  return out;
}

std::vector<ConversationRow> ConversationRepository::ChatsOfUser(pqxx::transaction_base& tx,
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

std::vector<std::pair<std::string, std::string>> ConversationRepository::OpenChatsOfBusiness(
    pqxx::transaction_base& tx, const std::string& business_id) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : tx.exec_params(kOpenChatsOfBusiness, business_id)) {
    out.emplace_back(r[0].as<std::string>(), r[1].as<std::string>());
  }
  return out;
}

}  // namespace bizrelay::hosting
