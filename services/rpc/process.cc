#include "services/rpc/process.h"

#include <absl/synchronization/mutex.h>

namespace bizrelay::rpc {

void SetUpGrpcProcess() { absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore); }

}  // namespace bizrelay::rpc
