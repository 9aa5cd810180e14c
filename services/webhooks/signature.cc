#include "services/webhooks/signature.h"

#include <openssl/hmac.h>

#include <array>
#include <stdexcept>

#include "services/platform/evp.h"
#include "services/platform/token.h"

namespace bizrelay::webhooks {

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (HMAC(Sha256Digest(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), md.data(),
           &len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return ToHex(std::string_view(reinterpret_cast<const char*>(md.data()), len));
}

std::string SignatureHeader(int64_t unix_seconds, std::string_view body,
                            const std::vector<std::string>& secrets) {
  std::string t = std::to_string(unix_seconds);
  std::string signed_text = t + "." + std::string(body);
  std::string header = "t=" + t;
  for (const auto& secret : secrets) header += ",v1=" + HmacSha256Hex(secret, signed_text);
  return header;
}

}  // namespace bizrelay::webhooks
