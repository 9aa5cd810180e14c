#include "services/rpc/bearer.h"

namespace bizrelay::rpc {

std::optional<std::string> BearerToken(
    const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata) {
  auto range = client_metadata.equal_range("authorization");
  if (range.first == range.second || std::next(range.first) != range.second) return std::nullopt;
  std::string_view value(range.first->second.data(), range.first->second.size());
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() <= kScheme.size() || value.size() > kScheme.size() + kMaxBearerLength) {
    return std::nullopt;
  }
  // The scheme name is case-insensitive (RFC 9110).
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return std::nullopt;
    }
  }
  return std::string(value.substr(kScheme.size()));
}

}  // namespace bizrelay::rpc
