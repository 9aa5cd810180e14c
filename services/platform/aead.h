#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace bizrelay {

// AES-256-GCM with a fresh random 96-bit nonce per call (OpenSSL EVP). The sealed form is
// nonce (12 bytes) || ciphertext || tag (16 bytes). `key` must be 32 bytes (else
// std::invalid_argument). Thread-safe.
std::string Aes256GcmSeal(std::string_view key, std::string_view plaintext,
                          std::string_view associated_data);
// nullopt if the sealed bytes, the tag or the associated data do not match.
std::optional<std::string> Aes256GcmOpen(std::string_view key, std::string_view sealed,
                                         std::string_view associated_data);

inline constexpr size_t kAeadOverhead = 12 + 16;

}  // namespace bizrelay
