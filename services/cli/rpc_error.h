#pragma once

#include <grpcpp/support/status.h>

#include <exception>
#include <string>

namespace bizrelay::cli {

// A call the relay refused or that did not complete. `hint` (whole lines) follows the error
// when it is reported. Run reports it as FormatError does, with exit status 1.
class RpcError : public std::exception {
 public:
  explicit RpcError(grpc::Status status, std::string hint = "")
      : status_(std::move(status)), hint_(std::move(hint)) {}
  const grpc::Status& status() const { return status_; }
  const std::string& hint() const { return hint_; }
  const char* what() const noexcept override { return "call failed"; }

 private:
  grpc::Status status_;
  std::string hint_;
};

}  // namespace bizrelay::cli
