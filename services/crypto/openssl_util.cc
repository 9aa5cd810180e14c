#include "services/crypto/openssl_util.h"

#include <openssl/err.h>

#include <stdexcept>

namespace bizrelay::crypto::internal {

void ThrowOpenSslError(std::string_view what) {
  std::string message(what);
  unsigned long code = ERR_get_error();
  if (code != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    message += ": ";
    message += buf;
  }
  ERR_clear_error();
  throw std::runtime_error(message);
}

void ClearOpenSslErrors() { ERR_clear_error(); }

BnCtxPtr NewBnCtx() {
  BnCtxPtr ctx(BN_CTX_secure_new());
  if (!ctx) ThrowOpenSslError("BN_CTX_secure_new");
  return ctx;
}

BnPtr BytesToBn(std::string_view bytes) {
  BnPtr bn(BN_bin2bn(Bytes(bytes), static_cast<int>(bytes.size()), nullptr));
  if (!bn) ThrowOpenSslError("BN_bin2bn");
  return bn;
}

SecretBnPtr SecretBytesToBn(std::string_view bytes) {
  SecretBnPtr bn(BN_secure_new());
  if (!bn) ThrowOpenSslError("BN_secure_new");
  if (BN_bin2bn(Bytes(bytes), static_cast<int>(bytes.size()), bn.get()) == nullptr) {
    ThrowOpenSslError("BN_bin2bn");
  }
  return bn;
}

std::string BnToBytes(const BIGNUM* bn, size_t len) {
  std::string out(len, '\0');
  if (BN_bn2binpad(bn, MutableBytes(out), static_cast<int>(len)) != static_cast<int>(len)) {
    ThrowOpenSslError("BN_bn2binpad");
  }
  return out;
}

}  // namespace bizrelay::crypto::internal
