#pragma once

#include <pqxx/pqxx>
#include <string>

#include "services/hosting/keyring.h"

namespace bizrelay::account {

// "Download your data" and "delete your data" for the hosting side (schemas core and
// hosting). The personal path keeps its own part apart, by design.
class DataRights {
 public:
  // The JSON document (format bizrelay.export.v1) of everything held about the user: profile,
  // policy acceptances, opt-out, chats with their consent and state, hosted messages still
  // within retention (decrypted), and send-token issuance counts.
  static std::string Export(pqxx::transaction_base& tx, hosting::KeyRing& keys,
                            const std::string& user_id, int64_t default_lifetime);
  // Erases the user: every hosted message and event of theirs, consents, acceptances, opt-out,
  // issuance counts and credentials; each open chat is closed for its business (a "chat left"
  // notice, the user id removed).
  static void Erase(pqxx::transaction_base& tx, const std::string& user_id);
};

}  // namespace bizrelay::account
