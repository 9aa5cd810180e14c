#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace bizrelay::personal {

// The access-key hashes of recently used mailboxes, so that a batch of sealed sends whose
// senders all present the right key needs no read of them from the database. A mailbox's
// access key never changes; a deleted mailbox is forgotten here when a send finds it gone.
//
// Holds at most `capacity` entries in two generations: entries are added to the young one,
// and an entry found in the old one moves up; when the young generation is half the
// capacity, the old one is dropped and the young one becomes old. Mailboxes in use therefore
// stay, and the ones not used for a generation leave. A capacity under 2 holds nothing.
// Thread-safe.
class AccessKeyCache {
 public:
  explicit AccessKeyCache(size_t capacity) : half_(capacity / 2) {}

  // The access-key hash of `mailbox_id`, if held.
  std::optional<std::string> Find(const std::string& mailbox_id);
  void Put(const std::string& mailbox_id, const std::string& access_hash);
  void Forget(const std::string& mailbox_id);
  size_t size() const;

 private:
  void PutLocked(const std::string& mailbox_id, const std::string& access_hash);

  const size_t half_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> young_;  // guarded by mu_
  std::unordered_map<std::string, std::string> old_;    // guarded by mu_
};

}  // namespace bizrelay::personal
