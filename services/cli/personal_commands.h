#pragma once

#include <string>

#include "services/cli/invocation.h"
#include "services/cli/session.h"

namespace bizrelay::cli {

// The keys in `store`, which must hold a mailbox (else UsageError, naming `keys_dir`).
PersonalKeys LoadWithMailbox(const KeyStore& store, const std::string& keys_dir);

// The personal (person-to-person) commands. The user token goes only to AccountService (for
// send tokens); calls to the personal relay carry the mailbox's owner secret or nothing, so
// the relay cannot tie a mailbox or a send to an account.
// Each Do runs one command and returns its exit status (see Run).
class PersonalCommands {
 public:
  explicit PersonalCommands(Session& session) : session_(session) {}

  int Do(const PersonalInit& command);
  int Do(const PersonalTokens& command);
  int Do(const PersonalRefill&);
  int Do(const PersonalSend& command);
  // Prints each envelope as it arrives, then acknowledges it (so nothing is deleted unseen),
  // then forgets the one-time prekey it used. An envelope that cannot be opened is reported on
  // io.err and acknowledged too: it will never open (altered, a replay, or sealed to a prekey
  // already used), and leaving it would only fill the mailbox.
  int Do(const PersonalListen& command);

 private:
  Session& session_;
};

}  // namespace bizrelay::cli
