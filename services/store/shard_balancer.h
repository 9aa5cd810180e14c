#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

namespace bizrelay::store {

// Places writes on a fixed number of shards by key (for example the business whose rows a
// write locks), so that each key's pending writes are all in one shard and the shards carry
// even loads. A key with writes pending stays where they are; a key with none goes to the
// shard with the fewest writes pending right now. A plain hash of the key leaves shards uneven
// when there are few keys (16 businesses split 6/10 as easily as 8/8), and the fuller shard's
// batches are slower for every write in them.
//
// Remembers only keys with writes pending. Not thread-safe.
class ShardBalancer {
 public:
  explicit ShardBalancer(size_t shards);

  // The shard for one more pending write of `key`.
  size_t Acquire(const std::string& key);
  // One pending write of `key` is done.
  void Release(const std::string& key);

  size_t pending(size_t shard) const { return pending_.at(shard); }
  size_t keys() const { return placed_.size(); }

 private:
  struct Placed {
    size_t shard;
    size_t pending;
  };
  std::vector<size_t> pending_;  // per shard
  std::unordered_map<std::string, Placed> placed_;
};

}  // namespace bizrelay::store
