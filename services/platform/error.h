#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace bizrelay {

// The outcome classes bizrelay reports. They map one-to-one onto gRPC status codes in
// services/rpc/status.cc, the only place that knows about gRPC.
enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kUnauthenticated,
  kFailedPrecondition,
  kResourceExhausted,
  kUnavailable,
  kDeadlineExceeded,
  kInternal,
};

// A failure a caller can act on. `reason` is a stable UPPER_SNAKE_CASE identifier that clients
// may match on; `message` is for humans; `metadata` carries structured values (the field at
// fault, a limit, a retry delay in milliseconds under "retry_delay_ms").
class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string reason, std::string message,
        std::map<std::string, std::string> metadata = {})
      : std::runtime_error(message),
        code_(code),
        reason_(std::move(reason)),
        metadata_(std::move(metadata)) {}

  ErrorCode code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  ErrorCode code_;
  std::string reason_;
  std::map<std::string, std::string> metadata_;
};

// A field of a request failed validation: INVALID_ARGUMENT, reason INVALID_FIELD (or the
// given reason) with metadata {"field": field}.
Error InvalidField(std::string_view field, std::string message,
                   std::string_view reason = "INVALID_FIELD");

// The id does not name something the caller may see. Used alike for "does not exist" and
// "belongs to someone else", so the two cannot be told apart.
Error NotFound(std::string_view what);

}  // namespace bizrelay
