#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

namespace bizrelay::hosting {

// The operator's master key: 32 bytes, loaded from a file or the environment, never stored in
// the database. Its id (hex of the first 8 bytes of its SHA-256) is stored beside what it
// wraps.
struct MasterKey {
  std::string key;
  std::string id;

  // From 64 hex characters (surrounding whitespace ignored); throws std::runtime_error.
  static MasterKey FromHex(const std::string& hex);
  static MasterKey Generate();
  std::string ToHex() const;
};

// Per-business data keys (AES-256-GCM), stored wrapped by the master key in
// hosting.business_keys, and the sealing of message bodies with them. The associated data of a
// body binds business, conversation and message ids, so a sealed body moved to another row no
// longer opens. Unwrapped keys are cached in memory; Forget drops one. Thread-safe.
class KeyRing {
 public:
  // `previous` are earlier master keys still accepted for unwrapping (rotation).
  KeyRing(MasterKey current, std::vector<MasterKey> previous);

  // The business's data key; with `create`, one is made and stored (wrapped) if it has none.
  // nullopt if there is none (never created, or destroyed: crypto-shredded).
  std::optional<std::string> DataKey(pqxx::transaction_base& tx, const std::string& business_id,
                                     bool create);
  // Destroys the business's data key (crypto-shredding). Idempotent.
  void Destroy(pqxx::transaction_base& tx, const std::string& business_id);
  void Forget(const std::string& business_id);

  static std::string SealBody(const std::string& data_key, const std::string& business_id,
                              const std::string& conversation_id, const std::string& message_id,
                              const std::string& text);
  static std::optional<std::string> OpenBody(const std::string& data_key,
                                             const std::string& business_id,
                                             const std::string& conversation_id,
                                             const std::string& message_id,
                                             const std::string& sealed);

  // Media content (hosting.media_chunks): chunk `index` of media `media_id`, with
  // "bizrelay-media-v1|media id|index" as associated data, so a chunk moved to another media or
  // position no longer opens. Index -1 seals the content's SHA-256.
  static std::string SealChunk(const std::string& data_key, const std::string& media_id,
                               int64_t index, std::string_view bytes);
  static std::optional<std::string> OpenChunk(const std::string& data_key,
                                              const std::string& media_id, int64_t index,
                                              std::string_view sealed);

  // Re-wraps every data key not wrapped by the current master key (messages are untouched).
  // Returns how many were re-wrapped; throws if a key was wrapped by an unknown master key.
  int RewrapAll(pqxx::transaction_base& tx);

  const std::string& master_key_id() const { return current_.id; }

  // A stable pseudonym of `id` for exports: hex HMAC-SHA256 under a key derived from the master
  // key and `purpose`. Not reversible without the master key.
  std::string Pseudonym(const std::string& purpose, const std::string& id) const;

 private:
  std::string Unwrap(const std::string& business_id, const std::string& wrapped,
                     const std::string& master_key_id) const;
  std::string Wrap(const std::string& business_id, const std::string& data_key) const;

  const MasterKey current_;
  const std::vector<MasterKey> previous_;
  std::mutex mu_;
  std::map<std::string, std::string> cache_;  // guarded by mu_
};

}  // namespace bizrelay::hosting
