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

// The same for values that are public once used (nonces, the random part of ids), at a
// fraction of the cost: each thread draws 4 KiB from the CSPRNG at a time and hands it out in
// order, wiping what it hands out. The bytes not yet handed out wait in the thread's memory,
// so never use this for keys or tokens. Not to be used across fork() without exec().
std::string PublicRandomBytes(size_t n);

// A UUID version 7 (RFC 9562) in its text form: the Unix time in milliseconds in the first 48
// bits, then 74 random bits. Ids made later sort after ids made earlier, so an index on them
// grows at its right edge instead of at a random page for every insert.
std::string TimeOrderedUuid();

std::string Base64UrlEncode(std::string_view bytes);
bool Base64UrlDecode(std::string_view text, std::string* bytes);

}  // namespace bizrelay
