#pragma once

#include <string>
#include <string_view>

namespace bizrelay {

// Bearer credentials: 256 bits from the OpenSSL CSPRNG, base64url without padding, behind a
// short prefix naming the kind ("brb_" business key, "bru_" user token). Only the SHA-256 of a
// token is ever stored.
std::string GenerateToken(std::string_view prefix);

// SHA-256 of `data`, as 32 raw bytes.
std::string Sha256(std::string_view data);

// Lowercase hex of `bytes`, and back (FromHex returns false on bad input).
std::string ToHex(std::string_view bytes);
bool FromHex(std::string_view hex, std::string* bytes);

// Compares in time that depends only on the lengths, never on where the inputs differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `n` random bytes from the OpenSSL CSPRNG; throws std::runtime_error if it fails.
std::string RandomBytes(size_t n);

std::string Base64UrlEncode(std::string_view bytes);
bool Base64UrlDecode(std::string_view text, std::string* bytes);

}  // namespace bizrelay
