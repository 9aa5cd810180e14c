#include "services/hosting/keyring.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

#include "services/platform/aead.h"
#include "services/platform/evp.h"
#include "services/platform/token.h"

namespace bizrelay::hosting {
namespace {

constexpr const char* kSelectKey =
    "SELECT wrapped_key, master_key_id FROM hosting.business_keys WHERE business_id = $1::uuid";
constexpr const char* kInsertKey =
    "INSERT INTO hosting.business_keys (business_id, wrapped_key, master_key_id) "
    "VALUES ($1::uuid, $2, $3) ON CONFLICT (business_id) DO NOTHING";
constexpr const char* kDeleteKey = "DELETE FROM hosting.business_keys WHERE business_id = $1::uuid";
constexpr const char* kStaleKeys =
    "SELECT business_id::text, wrapped_key, master_key_id FROM hosting.business_keys "
    "WHERE master_key_id <> $1 FOR UPDATE";
constexpr const char* kUpdateKey =
    "UPDATE hosting.business_keys SET wrapped_key = $2, master_key_id = $3 "
    "WHERE business_id = $1::uuid";

std::string WrapAad(const std::string& business_id) { return "bizrelay-dek-v1|" + business_id; }

}  // namespace

MasterKey MasterKey::FromHex(const std::string& text) {
  std::string hex;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) hex += c;
  }
  std::string key;
  if (hex.size() != 64 || !bizrelay::FromHex(hex, &key)) {
    throw std::runtime_error("a master key is 64 hex characters (32 bytes)");
  }
  return {key, bizrelay::ToHex(Sha256(key).substr(0, 8))};
}

MasterKey MasterKey::Generate() {
  std::string key = RandomBytes(32);
  return {key, bizrelay::ToHex(Sha256(key).substr(0, 8))};
}

std::string MasterKey::ToHex() const { return bizrelay::ToHex(key); }

KeyRing::KeyRing(MasterKey current, std::vector<MasterKey> previous)
    : current_(std::move(current)), previous_(std::move(previous)) {}

std::string KeyRing::Wrap(const std::string& business_id, const std::string& data_key) const {
  return Aes256GcmSeal(current_.key, data_key, WrapAad(business_id));
}

std::string KeyRing::Unwrap(const std::string& business_id, const std::string& wrapped,
                            const std::string& master_key_id) const {
  const MasterKey* master = master_key_id == current_.id ? &current_ : nullptr;
  for (const auto& p : previous_) {
    if (p.id == master_key_id) master = &p;
  }
  if (master == nullptr) {
    throw std::runtime_error("data key wrapped by unknown master key " + master_key_id);
  }
  auto key = Aes256GcmOpen(master->key, wrapped, WrapAad(business_id));
  if (!key) throw std::runtime_error("data key does not unwrap with master key " + master_key_id);
  return *key;
}

std::optional<std::string> KeyRing::DataKey(pqxx::transaction_base& tx,
                                            const std::string& business_id, bool create) {
  {
    std::lock_guard lock(mu_);
    auto it = cache_.find(business_id);
    if (it != cache_.end()) return it->second;
  }
  auto rows = tx.exec_params(kSelectKey, business_id);
  if (rows.empty() && create) {
    tx.exec_params0(kInsertKey, business_id, pqxx::binarystring(Wrap(business_id, RandomBytes(32))),
                    current_.id);
    rows = tx.exec_params(kSelectKey, business_id);  // ours, or a concurrent creator's
  }
  if (rows.empty()) return std::nullopt;
  std::string key =
      Unwrap(business_id, pqxx::binarystring(rows[0][0]).str(), rows[0][1].as<std::string>());
  std::lock_guard lock(mu_);
  cache_[business_id] = key;
  return key;
}

void KeyRing::Destroy(pqxx::transaction_base& tx, const std::string& business_id) {
  tx.exec_params0(kDeleteKey, business_id);
  Forget(business_id);
}

void KeyRing::Forget(const std::string& business_id) {
  std::lock_guard lock(mu_);
  cache_.erase(business_id);
}

std::string KeyRing::SealBody(const std::string& data_key, const std::string& business_id,
                              const std::string& conversation_id, const std::string& message_id,
                              const std::string& text) {
  return Aes256GcmSeal(data_key, text, business_id + "|" + conversation_id + "|" + message_id);
}

std::optional<std::string> KeyRing::OpenBody(const std::string& data_key,
                                             const std::string& business_id,
                                             const std::string& conversation_id,
                                             const std::string& message_id,
                                             const std::string& sealed) {
  return Aes256GcmOpen(data_key, sealed, business_id + "|" + conversation_id + "|" + message_id);
}

namespace {

std::string ChunkAad(const std::string& media_id, int64_t index) {
  return "bizrelay-media-v1|" + media_id + "|" + std::to_string(index);
}

}  // namespace

std::string KeyRing::SealChunk(const std::string& data_key, const std::string& media_id,
                               int64_t index, std::string_view bytes) {
  return Aes256GcmSeal(data_key, bytes, ChunkAad(media_id, index));
}

std::optional<std::string> KeyRing::OpenChunk(const std::string& data_key,
                                              const std::string& media_id, int64_t index,
                                              std::string_view sealed) {
  return Aes256GcmOpen(data_key, sealed, ChunkAad(media_id, index));
}

int KeyRing::RewrapAll(pqxx::transaction_base& tx) {
  int n = 0;
  for (const auto& r : tx.exec_params(kStaleKeys, current_.id)) {
    std::string business = r[0].as<std::string>();
    std::string key = Unwrap(business, pqxx::binarystring(r[1]).str(), r[2].as<std::string>());
    tx.exec_params0(kUpdateKey, business, pqxx::binarystring(Wrap(business, key)), current_.id);
    ++n;
  }
  return n;
}

std::string KeyRing::Pseudonym(const std::string& purpose, const std::string& id) const {
  std::string key = Sha256(current_.key + "|bizrelay-pseudonym-v1|" + purpose);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(Sha256Digest(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(id.data()), id.size(), out, &len) == nullptr) {
    throw std::runtime_error("HMAC failed");
  }
  return ToHex(std::string(reinterpret_cast<const char*>(out), len)).substr(0, 32);
}

}  // namespace bizrelay::hosting
