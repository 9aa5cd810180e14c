#include "services/store/shard_balancer.h"

#include <algorithm>

namespace bizrelay::store {

ShardBalancer::ShardBalancer(size_t shards) : pending_(std::max<size_t>(1, shards), 0) {}

size_t ShardBalancer::Acquire(const std::string& key) {
  auto [it, fresh] = placed_.try_emplace(key, Placed{0, 0});
  if (fresh) {
    it->second.shard =
        static_cast<size_t>(std::min_element(pending_.begin(), pending_.end()) - pending_.begin());
  }
  ++it->second.pending;
  ++pending_[it->second.shard];
  return it->second.shard;
}

void ShardBalancer::Release(const std::string& key) {
  auto it = placed_.find(key);
  if (it == placed_.end()) return;
  --pending_[it->second.shard];
  if (--it->second.pending == 0) placed_.erase(it);
}

}  // namespace bizrelay::store
