#include "services/crypto/blind_rsa.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <optional>
#include <stdexcept>
#include <utility>

#include "services/crypto/openssl_util.h"
#include "services/platform/error.h"
#include "services/platform/evp.h"
#include "services/platform/token.h"

namespace bizrelay::crypto {
namespace {

using internal::BioPtr;
using internal::BnCtxPtr;
using internal::BnPtr;
using internal::BnToBytes;
using internal::Bytes;
using internal::BytesToBn;
using internal::ClearOpenSslErrors;
using internal::MdCtxPtr;
using internal::MutableBytes;
using internal::NewBnCtx;
using internal::PkeyCtxPtr;
using internal::PkeyPtr;
using internal::SecretBnPtr;
using internal::SecretBytesToBn;
using internal::ThrowOpenSslError;

constexpr size_t kSha384Bytes = 48;
// Attempts at drawing an invertible blinding factor. A random r in [1, n) fails only if it
// shares a factor with n, which for an honest key never happens; a loop that does not end
// would be worse than an error.
constexpr int kBlindingAttempts = 8;
// Largest key encoding parsed. A 4096-bit private key is about 3.3 KB in PEM; the bound keeps
// lengths within OpenSSL's int-sized parameters and stops oversized input before parsing.
constexpr size_t kMaxKeyEncodingBytes = 64 * 1024;

Error InvalidArgument(std::string reason, std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(reason), std::move(message));
}

std::shared_ptr<EVP_PKEY> Share(EVP_PKEY* pkey) {
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

// SHA-384 over the concatenation of `parts`.
template <typename... Parts>
std::string Sha384(const Parts&... parts) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), Sha384Digest(), nullptr) != 1) {
    ThrowOpenSslError("EVP_DigestInit_ex(sha384)");
  }
  for (std::string_view part : {std::string_view(parts)...}) {
    if (EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1) {
      ThrowOpenSslError("EVP_DigestUpdate");
    }
  }
  std::string out(kSha384Bytes, '\0');
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), MutableBytes(out), &len) != 1 || len != kSha384Bytes) {
    ThrowOpenSslError("EVP_DigestFinal_ex");
  }
  return out;
}

// MGF1 with SHA-384 (RFC 8017 appendix B.2.1).
std::string Mgf1Sha384(std::string_view seed, size_t len) {
  std::string mask;
  mask.reserve(len + kSha384Bytes);
  for (uint32_t counter = 0; mask.size() < len; ++counter) {
    const char c[4] = {static_cast<char>(counter >> 24), static_cast<char>(counter >> 16),
                       static_cast<char>(counter >> 8), static_cast<char>(counter)};
    mask += Sha384(seed, std::string_view(c, sizeof(c)));
  }
  mask.resize(len);
  return mask;
}

// The modulus and public exponent of an RSA key, big-endian.
std::pair<std::string, std::string> RsaPublicParts(EVP_PKEY* pkey) {
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
      EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
    BN_free(n);
    BN_free(e);
    throw InvalidArgument("INVALID_KEY", "RSA key without modulus or exponent");
  }
  BnPtr n_owned(n);
  BnPtr e_owned(e);
  return {BnToBytes(n, BN_num_bytes(n)), BnToBytes(e, BN_num_bytes(e))};
}

// Prepares `md_ctx` to verify RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt. False
// (with OpenSSL's error queue emptied) if the key refuses these parameters, which an RSA-PSS key
// restricted to other parameters does.
bool SetUpPssVerify(EVP_MD_CTX* md_ctx, EVP_PKEY* pkey) {
  EVP_PKEY_CTX* pkey_ctx = nullptr;  // Owned by md_ctx.
  bool ok = EVP_DigestVerifyInit(md_ctx, &pkey_ctx, Sha384Digest(), nullptr, pkey) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_ctx, static_cast<int>(kBlindRsaSaltBytes)) == 1 &&
            EVP_PKEY_CTX_set_rsa_mgf1_md(pkey_ctx, Sha384Digest()) == 1;
  if (!ok) ClearOpenSslErrors();
  return ok;
}

// Checks what every key we accept must satisfy; throws INVALID_KEY otherwise.
void CheckRsaKey(EVP_PKEY* pkey, bool allow_pss) {
  int id = EVP_PKEY_get_base_id(pkey);
  if (id != EVP_PKEY_RSA && !(allow_pss && id == EVP_PKEY_RSA_PSS)) {
    throw InvalidArgument("INVALID_KEY", "not an RSA key");
  }
  int bits = EVP_PKEY_get_bits(pkey);
  if (bits < kBlindRsaMinModulusBits || bits > kBlindRsaMaxModulusBits) {
    throw InvalidArgument("INVALID_KEY", "RSA modulus must have 2048 to 4096 bits");
  }
  auto [n, e] = RsaPublicParts(pkey);
  BnPtr e_bn = BytesToBn(e);
  if (!BN_is_odd(e_bn.get()) || BN_is_one(e_bn.get())) {
    throw InvalidArgument("INVALID_KEY", "RSA public exponent must be odd and greater than 1");
  }
  MdCtxPtr md_ctx(EVP_MD_CTX_new());
  if (!md_ctx) ThrowOpenSslError("EVP_MD_CTX_new");
  if (!SetUpPssVerify(md_ctx.get(), pkey)) {
    throw InvalidArgument("INVALID_KEY", "key cannot verify RSASSA-PSS with SHA-384 and salt 48");
  }
}

// DER SubjectPublicKeyInfo of `pkey` (only the public half, whatever `pkey` holds).
std::string PublicKeyDer(EVP_PKEY* pkey) {
  int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) ThrowOpenSslError("i2d_PUBKEY");
  std::string der(static_cast<size_t>(len), '\0');
  unsigned char* p = MutableBytes(der);
  if (i2d_PUBKEY(pkey, &p) != len) ThrowOpenSslError("i2d_PUBKEY");
  return der;
}

// The public half of a private key, as a key object that holds no private material.
BlindRsaPublicKey PublicHalf(EVP_PKEY* pkey) {
  return BlindRsaPublicKey::FromDer(PublicKeyDer(pkey));
}

// Steps 1-9 of RFC 9474 section 4.2 Blind, with r = inv^-1 mod n when `inv` is given and a
// fresh random r otherwise.
BlindingResult BlindPrepared(const BlindRsaPublicKey& key, std::string_view prepared_msg,
                             std::string_view salt, std::optional<std::string_view> inv) {
  std::string encoded = internal::EmsaPssEncodeSha384(prepared_msg, salt, key.modulus_bits());
  BnCtxPtr ctx = NewBnCtx();
  BnPtr n = BytesToBn(key.modulus());
  BnPtr e = BytesToBn(key.public_exponent());
  SecretBnPtr m = SecretBytesToBn(encoded);
  OPENSSL_cleanse(encoded.data(), encoded.size());

  SecretBnPtr gcd(BN_secure_new());
  if (!gcd || BN_gcd(gcd.get(), m.get(), n.get(), ctx.get()) != 1) ThrowOpenSslError("BN_gcd");
  if (!BN_is_one(gcd.get())) {
    throw InvalidArgument("INVALID_MESSAGE", "encoded message is not coprime with the modulus");
  }

  SecretBnPtr r(BN_secure_new());
  SecretBnPtr r_inv(BN_secure_new());
  if (!r || !r_inv) ThrowOpenSslError("BN_secure_new");
  BN_set_flags(r.get(), BN_FLG_CONSTTIME);
  BN_set_flags(r_inv.get(), BN_FLG_CONSTTIME);
  if (inv.has_value()) {
    if (BN_bin2bn(Bytes(*inv), static_cast<int>(inv->size()), r_inv.get()) == nullptr) {
      ThrowOpenSslError("BN_bin2bn");
    }
    if (BN_is_zero(r_inv.get()) || BN_cmp(r_inv.get(), n.get()) >= 0 ||
        BN_mod_inverse(r.get(), r_inv.get(), n.get(), ctx.get()) == nullptr) {
      ClearOpenSslErrors();
      throw InvalidArgument("INVALID_MESSAGE", "inv is not invertible modulo n");
    }
  } else {
    bool found = false;
    for (int attempt = 0; attempt < kBlindingAttempts && !found; ++attempt) {
      if (BN_priv_rand_range_ex(r.get(), n.get(), 0, ctx.get()) != 1) {
        ThrowOpenSslError("BN_priv_rand_range_ex");
      }
      if (BN_is_zero(r.get())) continue;
      found = BN_mod_inverse(r_inv.get(), r.get(), n.get(), ctx.get()) != nullptr;
      ClearOpenSslErrors();
    }
    if (!found) throw std::runtime_error("no invertible blinding factor found");
  }

  // blinded = m * r^e mod n. r carries BN_FLG_CONSTTIME, so the exponentiation does not leak it.
  SecretBnPtr x(BN_secure_new());
  SecretBnPtr z(BN_secure_new());
  if (!x || !z || BN_mod_exp(x.get(), r.get(), e.get(), n.get(), ctx.get()) != 1 ||
      BN_mod_mul(z.get(), m.get(), x.get(), n.get(), ctx.get()) != 1) {
    ThrowOpenSslError("blinding arithmetic");
  }
  return BlindingResult{
      .blinded_msg = BnToBytes(z.get(), key.modulus_bytes()),
      .inv = BnToBytes(r_inv.get(), key.modulus_bytes()),
      .prepared_msg = std::string(prepared_msg),
  };
}

}  // namespace

std::string PrepareMessage(BlindRsaVariant variant, std::string_view msg) {
  switch (variant) {
    case BlindRsaVariant::kSha384PssRandomized:
      return RandomBytes(kBlindRsaRandomizedPrefixBytes) + std::string(msg);
    case BlindRsaVariant::kSha384PssDeterministic:
      return std::string(msg);
  }
  throw InvalidArgument("INVALID_VARIANT", "unknown blind RSA variant");
}

// --- BlindRsaPublicKey ---

BlindRsaPublicKey::BlindRsaPublicKey(std::shared_ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {
  MdCtxPtr verifier(EVP_MD_CTX_new());
  if (!verifier) ThrowOpenSslError("EVP_MD_CTX_new");
  // Every way of making a key checked that it accepts these parameters.
  if (!SetUpPssVerify(verifier.get(), pkey_.get())) ThrowOpenSslError("RSA-PSS verify setup");
  verifier_ = std::shared_ptr<const EVP_MD_CTX>(verifier.release(), EVP_MD_CTX_free);
  auto [n, e] = RsaPublicParts(pkey_.get());
  modulus_ = std::move(n);
  public_exponent_ = std::move(e);
  modulus_bits_ = EVP_PKEY_get_bits(pkey_.get());
}

BlindRsaPublicKey BlindRsaPublicKey::FromDer(std::string_view spki_der) {
  if (spki_der.empty() || spki_der.size() > kMaxKeyEncodingBytes) {
    throw InvalidArgument("INVALID_KEY", "public key encoding is empty or too large");
  }
  const unsigned char* p = Bytes(spki_der);
  PkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!pkey || p != Bytes(spki_der) + spki_der.size()) {
    ClearOpenSslErrors();
    throw InvalidArgument("INVALID_KEY", "not a DER SubjectPublicKeyInfo");
  }
  CheckRsaKey(pkey.get(), /*allow_pss=*/true);
  return BlindRsaPublicKey(Share(pkey.release()));
}

BlindRsaPublicKey BlindRsaPublicKey::FromPem(std::string_view pem) {
  if (pem.empty() || pem.size() > kMaxKeyEncodingBytes) {
    throw InvalidArgument("INVALID_KEY", "public key encoding is empty or too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) ThrowOpenSslError("BIO_new_mem_buf");
  PkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    ClearOpenSslErrors();
    throw InvalidArgument("INVALID_KEY", "not a PEM public key");
  }
  CheckRsaKey(pkey.get(), /*allow_pss=*/true);
  return BlindRsaPublicKey(Share(pkey.release()));
}

std::string BlindRsaPublicKey::ToDer() const { return PublicKeyDer(pkey_.get()); }

std::string BlindRsaPublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) {
    ThrowOpenSslError("PEM_write_bio_PUBKEY");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

BlindingResult BlindRsaPublicKey::Blind(std::string_view msg, BlindRsaVariant variant) const {
  std::string prepared = PrepareMessage(variant, msg);
  return BlindPrepared(*this, prepared, RandomBytes(kBlindRsaSaltBytes), std::nullopt);
}

std::string BlindRsaPublicKey::Finalize(std::string_view blind_sig, std::string_view inv,
                                        std::string_view prepared_msg) const {
  if (blind_sig.size() != modulus_bytes() || inv.size() != modulus_bytes()) {
    throw InvalidArgument("INVALID_BLIND_SIGNATURE", "blind signature or inv has the wrong size");
  }
  BnCtxPtr ctx = NewBnCtx();
  BnPtr n = BytesToBn(modulus_);
  BnPtr z = BytesToBn(blind_sig);
  SecretBnPtr r_inv = SecretBytesToBn(inv);
  if (BN_cmp(z.get(), n.get()) >= 0 || BN_cmp(r_inv.get(), n.get()) >= 0) {
    throw InvalidArgument("INVALID_BLIND_SIGNATURE", "blind signature or inv not below n");
  }
  BnPtr s(BN_new());
  if (!s || BN_mod_mul(s.get(), z.get(), r_inv.get(), n.get(), ctx.get()) != 1) {
    ThrowOpenSslError("BN_mod_mul");
  }
  std::string sig = BnToBytes(s.get(), modulus_bytes());
  if (!Verify(prepared_msg, sig)) {
    throw InvalidArgument("INVALID_BLIND_SIGNATURE", "unblinded signature does not verify");
  }
  return sig;
}

bool BlindRsaPublicKey::Verify(std::string_view prepared_msg, std::string_view sig) const {
  if (sig.size() != modulus_bytes()) return false;
  MdCtxPtr md_ctx(EVP_MD_CTX_new());
  if (!md_ctx || EVP_MD_CTX_copy_ex(md_ctx.get(), verifier_.get()) != 1) {
    ThrowOpenSslError("RSA-PSS verify setup");
  }
  int rc = EVP_DigestVerify(md_ctx.get(), Bytes(sig), sig.size(), Bytes(prepared_msg),
                            prepared_msg.size());
  ClearOpenSslErrors();
  return rc == 1;
}

// --- BlindRsaPrivateKey ---

BlindRsaPrivateKey::BlindRsaPrivateKey(std::shared_ptr<EVP_PKEY> pkey, BlindRsaPublicKey public_key)
    : pkey_(std::move(pkey)), public_key_(std::move(public_key)) {}

BlindRsaPrivateKey BlindRsaPrivateKey::Generate(int bits) {
  if (bits != 2048 && bits != 3072 && bits != 4096) {
    throw InvalidArgument("INVALID_KEY_SIZE", "RSA key size must be 2048, 3072 or 4096 bits");
  }
  PkeyPtr pkey(EVP_RSA_gen(static_cast<unsigned int>(bits)));
  if (!pkey) ThrowOpenSslError("EVP_RSA_gen");
  BlindRsaPublicKey pub = PublicHalf(pkey.get());
  return BlindRsaPrivateKey(Share(pkey.release()), std::move(pub));
}

BlindRsaPrivateKey BlindRsaPrivateKey::FromPem(std::string_view pem) {
  if (pem.empty() || pem.size() > kMaxKeyEncodingBytes) {
    throw InvalidArgument("INVALID_KEY", "private key encoding is empty or too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) ThrowOpenSslError("BIO_new_mem_buf");
  // A callback that supplies no passphrase: an encrypted key fails instead of prompting on the
  // terminal, which the default callback would do.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!pkey) {
    ClearOpenSslErrors();
    throw InvalidArgument("INVALID_KEY", "not an unencrypted PEM private key");
  }
  CheckRsaKey(pkey.get(), /*allow_pss=*/false);
  BlindRsaPublicKey pub = PublicHalf(pkey.get());
  return BlindRsaPrivateKey(Share(pkey.release()), std::move(pub));
}

BlindRsaPrivateKey BlindRsaPrivateKey::FromComponents(std::string_view n, std::string_view e,
                                                      std::string_view d, std::string_view p,
                                                      std::string_view q) {
  BnCtxPtr ctx = NewBnCtx();
  BnPtr n_bn = BytesToBn(n);
  BnPtr e_bn = BytesToBn(e);
  SecretBnPtr d_bn = SecretBytesToBn(d);
  SecretBnPtr p_bn = SecretBytesToBn(p);
  SecretBnPtr q_bn = SecretBytesToBn(q);
  SecretBnPtr pq(BN_secure_new());
  SecretBnPtr p1(BN_secure_new());
  SecretBnPtr q1(BN_secure_new());
  SecretBnPtr dmp1(BN_secure_new());
  SecretBnPtr dmq1(BN_secure_new());
  SecretBnPtr iqmp(BN_secure_new());
  if (!pq || !p1 || !q1 || !dmp1 || !dmq1 || !iqmp) ThrowOpenSslError("BN_secure_new");
  if (BN_mul(pq.get(), p_bn.get(), q_bn.get(), ctx.get()) != 1) ThrowOpenSslError("BN_mul");
  if (BN_cmp(pq.get(), n_bn.get()) != 0 || BN_is_zero(d_bn.get())) {
    throw InvalidArgument("INVALID_KEY", "RSA components are inconsistent");
  }
  if (BN_sub(p1.get(), p_bn.get(), BN_value_one()) != 1 ||
      BN_sub(q1.get(), q_bn.get(), BN_value_one()) != 1 ||
      BN_mod(dmp1.get(), d_bn.get(), p1.get(), ctx.get()) != 1 ||
      BN_mod(dmq1.get(), d_bn.get(), q1.get(), ctx.get()) != 1) {
    ThrowOpenSslError("CRT exponents");
  }
  if (BN_mod_inverse(iqmp.get(), q_bn.get(), p_bn.get(), ctx.get()) == nullptr) {
    ClearOpenSslErrors();
    throw InvalidArgument("INVALID_KEY", "RSA primes are not coprime");
  }

  std::unique_ptr<OSSL_PARAM_BLD, internal::OpenSslDeleter<OSSL_PARAM_BLD_free>> bld(
      OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, p_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, q_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, iqmp.get()) != 1) {
    ThrowOpenSslError("OSSL_PARAM_BLD_push_BN");
  }
  std::unique_ptr<OSSL_PARAM, internal::OpenSslDeleter<OSSL_PARAM_free>> params(
      OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr pctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !pctx || EVP_PKEY_fromdata_init(pctx.get()) != 1 ||
      EVP_PKEY_fromdata(pctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
    ClearOpenSslErrors();
    throw InvalidArgument("INVALID_KEY", "RSA components do not form a key");
  }
  PkeyPtr pkey(raw);
  CheckRsaKey(pkey.get(), /*allow_pss=*/false);
  BlindRsaPublicKey pub = PublicHalf(pkey.get());
  return BlindRsaPrivateKey(Share(pkey.release()), std::move(pub));
}

std::string BlindRsaPrivateKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    ThrowOpenSslError("PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string BlindRsaPrivateKey::BlindSign(std::string_view blinded_msg) const {
  const size_t k = public_key_.modulus_bytes();
  if (blinded_msg.size() != k) {
    throw InvalidArgument("INVALID_BLINDED_MESSAGE", "blinded message must be modulus-length");
  }
  BnCtxPtr ctx = NewBnCtx();
  BnPtr n = BytesToBn(public_key_.modulus());
  BnPtr m = BytesToBn(blinded_msg);
  if (BN_cmp(m.get(), n.get()) >= 0) {
    throw InvalidArgument("INVALID_BLINDED_MESSAGE", "blinded message is not below n");
  }

  // RSASP1 through OpenSSL's private-key operation without padding, which uses CRT and
  // OpenSSL's own base blinding against timing attacks.
  PkeyCtxPtr pctx(EVP_PKEY_CTX_new(pkey_.get(), nullptr));
  std::string sig(k, '\0');
  size_t sig_len = sig.size();
  if (!pctx || EVP_PKEY_decrypt_init(pctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx.get(), RSA_NO_PADDING) != 1 ||
      EVP_PKEY_decrypt(pctx.get(), MutableBytes(sig), &sig_len, Bytes(blinded_msg), k) != 1 ||
      sig_len != k) {
    ThrowOpenSslError("RSA private operation");
  }

  // RSAVP1 on the result must give back the input (RFC 9474 section 4.3 step 3): a fault in the
  // CRT computation would otherwise hand the caller a value that factors n.
  BnPtr s = BytesToBn(sig);
  BnPtr e = BytesToBn(public_key_.public_exponent());
  BnPtr check(BN_new());
  if (!check || BN_mod_exp(check.get(), s.get(), e.get(), n.get(), ctx.get()) != 1) {
    ThrowOpenSslError("BN_mod_exp");
  }
  if (!ConstantTimeEquals(BnToBytes(check.get(), k), blinded_msg)) {
    throw std::runtime_error("blind signature failed its self-check");
  }
  return sig;
}

// --- internal ---

namespace internal {

std::string EmsaPssEncodeSha384(std::string_view msg, std::string_view salt, int modulus_bits) {
  const size_t em_bits = static_cast<size_t>(modulus_bits) - 1;
  const size_t em_len = (em_bits + 7) / 8;
  if (modulus_bits < 2 || em_len < kSha384Bytes + salt.size() + 2) {
    throw InvalidArgument("INVALID_MESSAGE", "modulus too small for EMSA-PSS with this salt");
  }
  static constexpr std::array<char, 8> kZeros{};
  std::string m_hash = Sha384(msg);
  std::string h = Sha384(std::string_view(kZeros.data(), kZeros.size()), m_hash, salt);

  // DB = PS || 0x01 || salt, then masked with MGF1(H).
  const size_t db_len = em_len - kSha384Bytes - 1;
  std::string db(db_len - salt.size() - 1, '\0');
  db.push_back('\x01');
  db.append(salt);
  std::string mask = Mgf1Sha384(h, db_len);
  for (size_t i = 0; i < db_len; ++i) db[i] = static_cast<char>(db[i] ^ mask[i]);
  // Clear the leftmost 8 * emLen - emBits bits so that EM, as an integer, is below n.
  db[0] = static_cast<char>(static_cast<unsigned char>(db[0]) & (0xffu >> (8 * em_len - em_bits)));

  std::string em = std::move(db);
  em += h;
  em.push_back('\xbc');
  return em;
}

BlindingResult BlindWithInverse(const BlindRsaPublicKey& key, std::string_view prepared_msg,
                                std::string_view salt, std::string_view inv) {
  return BlindPrepared(key, prepared_msg, salt, inv);
}

}  // namespace internal
std::string BlindRsaKeyId(const BlindRsaPublicKey& key) {
  return ToHex(Sha256(key.ToDer()).substr(0, 8));
}

}  // namespace bizrelay::crypto
