#pragma once

#include "services/cli/invocation.h"
#include "services/cli/session.h"

namespace bizrelay::cli {

// OperatorService: onboarding and managing businesses (operator token).
// Each Do runs one command and returns its exit status (see Run).
class OperatorCommands {
 public:
  explicit OperatorCommands(Session& session) : session_(session) {}

  int Do(const v1::CreateBusinessRequest& request);
  int Do(const v1::GetBusinessRequest& request);
  int Do(const v1::RotateBusinessKeyRequest& request);
  int Do(const v1::DisableBusinessRequest& request);

 private:
  Session& session_;
};

}  // namespace bizrelay::cli
