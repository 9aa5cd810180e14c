#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bizrelay::webhooks {

// Lowercase hex of HMAC-SHA256(key, data).
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// The value of the Bizrelay-Signature header of a POST made at `unix_seconds` with `body`:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">", with one v1 per secret (during a
// rotation's overlap the new secret signs first, then the previous one). A receiver accepts
// the request if any v1 matches under its secret and t is recent.
std::string SignatureHeader(int64_t unix_seconds, std::string_view body,
                            const std::vector<std::string>& secrets);

}  // namespace bizrelay::webhooks
