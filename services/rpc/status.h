#pragma once

#include <grpcpp/support/status.h>

#include "services/platform/error.h"

namespace bizrelay::rpc {

// The one place bizrelay errors become gRPC statuses: the standard code, the message, and a
// google.rpc.Status in the details trailer with an ErrorInfo (reason, domain "bizrelay.v1",
// metadata) and, when the error carries "retry_delay_ms", a RetryInfo.
grpc::Status ToGrpcStatus(const Error& error);

inline constexpr const char* kErrorDomain = "bizrelay.v1";

}  // namespace bizrelay::rpc
