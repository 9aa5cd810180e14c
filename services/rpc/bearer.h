#pragma once

#include <grpcpp/server_context.h>

#include <optional>
#include <string>

namespace bizrelay::rpc {

// Longest bearer token accepted; anything longer cannot be one of ours.
inline constexpr size_t kMaxBearerLength = 256;

// The token from `authorization: Bearer <token>`, or nullopt if the header is missing or
// malformed. Never logged.
std::optional<std::string> BearerToken(
    const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata);

}  // namespace bizrelay::rpc
