#pragma once

#include "services/cli/invocation.h"
#include "services/cli/session.h"

namespace bizrelay::cli {

// AccountService: registration, the profile, policy acceptance and the data
// rights (export and erasure, which cover the personal mailbox in --keys-dir too).
// Each Do runs one command and returns its exit status (see Run).
class AccountCommands {
 public:
  explicit AccountCommands(Session& session) : session_(session) {}

  int Do(const v1::RegisterUserRequest& request);
  int Do(const v1::GetProfileRequest& request);
  int Do(const v1::GetPolicyStatusRequest& request);
  int Do(const v1::AcceptPolicyRequest& request);
  int Do(const v1::OptOutOfDataSharingRequest& request);
  int Do(const ExportData& command);
  int Do(const DeleteAccount&);

 private:
  Session& session_;
};

}  // namespace bizrelay::cli
