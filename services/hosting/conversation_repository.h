#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <utility>
#include <vector>

#include "services/hosting/rows.h"

namespace bizrelay::hosting {

// Conversations and the consent that opens them: a user's chat with a business, its state
// (open, left, blocked) and the disclosure version consented to, looked up from either side.
// Every function runs in the caller's transaction.
class ConversationRepository {
 public:
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

  static std::vector<ConversationRow> ConversationsOfBusiness(
      pqxx::transaction_base& tx, const std::string& business_id,
      const std::optional<std::pair<int64_t, std::string>>& after, int limit);
  static std::vector<ConversationRow> ChatsOfUser(pqxx::transaction_base& tx,
                                                  const std::string& user_id,
                                                  const std::string& after_id, int limit);
  static std::vector<std::pair<std::string, std::string>> OpenChatsOfBusiness(
      pqxx::transaction_base& tx, const std::string& business_id);
};

}  // namespace bizrelay::hosting
