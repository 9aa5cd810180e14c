#include "services/hosting/send_batcher.h"

namespace bizrelay::hosting {

std::unique_ptr<SendBatcher> MakeSendBatcher(store::DbPool* pool, KeyRing* keys,
                                             int64_t default_lifetime, int writers,
                                             size_t max_batch, size_t max_queue,
                                             store::GroupCommitMetrics metrics) {
  auto write = [keys, default_lifetime](pqxx::connection& conn,
                                        const std::vector<PostItem>& items) {
    // Each statement commits on its own: two round trips per batch instead of four (no BEGIN,
    // no COMMIT). The second statement stores the whole batch atomically and returns only once
    // it is durable.
    pqxx::nontransaction tx(conn);
    return MessageRepository::PostUserMessages(tx, items, *keys, default_lifetime);
  };
  // A batch locks the event-log heads of its businesses: batches of different writers take
  // disjoint businesses, so they never wait for each other.
  auto key_of = [](const PostItem& item) { return item.business_id; };
  return std::make_unique<SendBatcher>(pool, write, key_of, writers, max_batch, max_queue, metrics);
}

}  // namespace bizrelay::hosting
