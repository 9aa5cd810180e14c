#pragma once

#include <cstdint>
#include <pqxx/pqxx>
#include <string>

#include "services/hosting/chats.h"
#include "services/platform/error.h"

// What UserChats (user_chats.cc) and BusinessDesk (business_desk.cc) share, defined in
// chats.cc. Not for use outside those files.
namespace bizrelay::hosting::chats_shared {

inline constexpr int kDefaultPage = 50;
inline constexpr int kMaxChatPage = 100;

DisclosureView ViewOf(TermsRow terms);

// Stores (or removes) one side's reaction and tells the other side. The caller holds the lock
// order: the business head before, and the user's head after, the conversation row.
ReactionRow StoreReaction(pqxx::transaction_base& tx, KeyRing& keys, const ConversationRow& chat,
                          const std::string& message_id, Party party, const std::string& emoji);

// The answer for a conversation that does not exist or is not the caller's.
Error ConversationNotFound();

// A page token's number; INVALID_ARGUMENT if it is not one.
int64_t ParseInt64(const std::string& s);

// One page of a conversation's messages, opened, with their reactions.
Page<MessageRow> MessagesPage(pqxx::transaction_base& tx, KeyRing& keys,
                              const std::string& conversation_id, int page_size,
                              const std::string& page_token);

}  // namespace bizrelay::hosting::chats_shared
