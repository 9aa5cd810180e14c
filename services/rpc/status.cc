#include "services/rpc/status.h"

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace bizrelay::rpc {
namespace {

grpc::StatusCode ToCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return grpc::StatusCode::INVALID_ARGUMENT;
    case ErrorCode::kNotFound:
      return grpc::StatusCode::NOT_FOUND;
    case ErrorCode::kAlreadyExists:
      return grpc::StatusCode::ALREADY_EXISTS;
    case ErrorCode::kPermissionDenied:
      return grpc::StatusCode::PERMISSION_DENIED;
    case ErrorCode::kUnauthenticated:
      return grpc::StatusCode::UNAUTHENTICATED;
    case ErrorCode::kFailedPrecondition:
      return grpc::StatusCode::FAILED_PRECONDITION;
    case ErrorCode::kResourceExhausted:
      return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case ErrorCode::kUnavailable:
      return grpc::StatusCode::UNAVAILABLE;
    case ErrorCode::kDeadlineExceeded:
      return grpc::StatusCode::DEADLINE_EXCEEDED;
    case ErrorCode::kInternal:
      return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::INTERNAL;
}

}  // namespace

grpc::Status ToGrpcStatus(const Error& error) {
  google::rpc::Status details;
  details.set_code(static_cast<int>(ToCode(error.code())));
  details.set_message(error.what());
  google::rpc::ErrorInfo info;
  info.set_reason(error.reason());
  info.set_domain(kErrorDomain);
  for (const auto& [k, v] : error.metadata()) (*info.mutable_metadata())[k] = v;
  details.add_details()->PackFrom(info);
  if (auto it = error.metadata().find("retry_delay_ms"); it != error.metadata().end()) {
    google::rpc::RetryInfo retry;
    int64_t ms = std::stoll(it->second);
    retry.mutable_retry_delay()->set_seconds(ms / 1000);
    retry.mutable_retry_delay()->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
    details.add_details()->PackFrom(retry);
  }
  return grpc::Status(ToCode(error.code()), error.what(), details.SerializeAsString());
}

}  // namespace bizrelay::rpc
