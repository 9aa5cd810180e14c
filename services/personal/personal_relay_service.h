#pragma once

#include "bizrelay/v1/personal_relay_service.grpc.pb.h"
#include "services/personal/personal_relay.h"
#include "services/rpc/unary.h"
#include "services/store/group_commit.h"
#include "services/store/notify_hub.h"

namespace bizrelay::personal {

// Group commit for sealed sends: every batch is one transaction of PersonalRelay::SendSealed.
using SealedBatcher = store::GroupCommit<SealedSend, SendOutcome>;

// `pool` and `relay` must outlive the batcher; its in-flight batches are the pool's workers.
std::unique_ptr<SealedBatcher> MakeSealedBatcher(store::DbPool* pool, const PersonalRelay* relay,
                                                 int writers, size_t max_batch, size_t max_queue,
                                                 store::GroupCommitMetrics metrics = {});

// gRPC glue for bizrelay.v1.PersonalRelayService. It logs nothing about calls: no mailbox,
// no peer address, no token.
class PersonalRelayServiceImpl final : public v1::PersonalRelayService::CallbackService {
 public:
  // `tokens_spent` (may be null) counts send tokens spent: stored sends and created
  // mailboxes. It is a plain count: nothing of a token or mailbox is recorded.
  PersonalRelayServiceImpl(rpc::RpcEnv env, const PersonalRelay* relay, SealedBatcher* batcher,
                           store::NotifyHub* hub, metrics::Counter* tokens_spent = nullptr)
      : env_(env), relay_(relay), batcher_(batcher), hub_(hub), tokens_spent_(tokens_spent) {}

  grpc::ServerUnaryReactor* CreateMailbox(grpc::CallbackServerContext* ctx,
                                          const v1::CreateMailboxRequest* request,
                                          v1::CreateMailboxResponse* response) override;
  grpc::ServerUnaryReactor* PublishKeys(grpc::CallbackServerContext* ctx,
                                        const v1::PublishKeysRequest* request,
                                        v1::PublishKeysResponse* response) override;
  grpc::ServerUnaryReactor* GetPrekeyCount(grpc::CallbackServerContext* ctx,
                                           const v1::GetPrekeyCountRequest* request,
                                           v1::GetPrekeyCountResponse* response) override;
  grpc::ServerUnaryReactor* FetchBundle(grpc::CallbackServerContext* ctx,
                                        const v1::FetchBundleRequest* request,
                                        v1::FetchBundleResponse* response) override;
  grpc::ServerUnaryReactor* SendSealed(grpc::CallbackServerContext* ctx,
                                       const v1::SendSealedRequest* request,
                                       v1::SendSealedResponse* response) override;
  grpc::ServerWriteReactor<v1::StreamMailboxResponse>* StreamMailbox(
      grpc::CallbackServerContext* ctx, const v1::StreamMailboxRequest* request) override;
  grpc::ServerUnaryReactor* AcknowledgeEnvelopes(
      grpc::CallbackServerContext* ctx, const v1::AcknowledgeEnvelopesRequest* request,
      v1::AcknowledgeEnvelopesResponse* response) override;
  grpc::ServerUnaryReactor* ExportMailbox(grpc::CallbackServerContext* ctx,
                                          const v1::ExportMailboxRequest* request,
                                          v1::ExportMailboxResponse* response) override;
  grpc::ServerUnaryReactor* DeleteMailbox(grpc::CallbackServerContext* ctx,
                                          const v1::DeleteMailboxRequest* request,
                                          v1::DeleteMailboxResponse* response) override;

 private:
  // Runs `work(tx, mailbox_id)` for the mailbox whose owner secret is the bearer token.
  grpc::ServerUnaryReactor* AsOwner(
      grpc::CallbackServerContext* ctx,
      std::function<void(pqxx::transaction_base&, const std::string&)> work);

  const rpc::RpcEnv env_;
  const PersonalRelay* const relay_;
  SealedBatcher* const batcher_;
  store::NotifyHub* const hub_;
  metrics::Counter* const tokens_spent_;
};

}  // namespace bizrelay::personal
