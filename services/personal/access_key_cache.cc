#include "services/personal/access_key_cache.h"

namespace bizrelay::personal {

std::optional<std::string> AccessKeyCache::Find(const std::string& mailbox_id) {
  std::lock_guard lock(mu_);
  if (auto it = young_.find(mailbox_id); it != young_.end()) return it->second;
  auto it = old_.find(mailbox_id);
  if (it == old_.end()) return std::nullopt;
  std::string hash = std::move(it->second);
  old_.erase(it);
  PutLocked(mailbox_id, hash);
  return hash;
}

void AccessKeyCache::Put(const std::string& mailbox_id, const std::string& access_hash) {
  std::lock_guard lock(mu_);
  old_.erase(mailbox_id);
  PutLocked(mailbox_id, access_hash);
}

void AccessKeyCache::PutLocked(const std::string& mailbox_id, const std::string& access_hash) {
  if (half_ == 0) return;
  if (young_.size() >= half_ && !young_.contains(mailbox_id)) {
    old_ = std::move(young_);
    young_.clear();
  }
  young_.insert_or_assign(mailbox_id, access_hash);
}

void AccessKeyCache::Forget(const std::string& mailbox_id) {
  std::lock_guard lock(mu_);
  young_.erase(mailbox_id);
  old_.erase(mailbox_id);
}

size_t AccessKeyCache::size() const {
  std::lock_guard lock(mu_);
  return young_.size() + old_.size();
}

}  // namespace bizrelay::personal
