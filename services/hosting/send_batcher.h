#pragma once

#include <memory>

#include "services/hosting/keyring.h"
#include "services/hosting/message_repository.h"
#include "services/store/group_commit.h"

namespace bizrelay::hosting {

// Group commit for user messages: every batch is one transaction of
// MessageRepository::PostUserMessages. `done` gets the result of its own send, or the error
// that failed the whole batch.
using SendBatcher = store::GroupCommit<PostItem, PostResult>;

// Bodies are sealed with `keys`; `default_lifetime` is the operator's default retention.
// `pool` and `keys` must outlive the batcher; its in-flight batches are the pool's workers.
std::unique_ptr<SendBatcher> MakeSendBatcher(store::DbPool* pool, KeyRing* keys,
                                             int64_t default_lifetime, int writers,
                                             size_t max_batch, size_t max_queue,
                                             store::GroupCommitMetrics metrics = {});

}  // namespace bizrelay::hosting
