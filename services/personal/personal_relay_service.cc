#include "services/personal/personal_relay_service.h"

#include "services/platform/error.h"
#include "services/rpc/bearer.h"
#include "services/rpc/log_stream.h"
#include "services/rpc/status.h"

namespace bizrelay::personal {
namespace {

SendTokenInput TokenOf(const v1::SendToken& t) { return {t.message(), t.signature(), t.key_id()}; }

Error NoSecret() {
  return Error(ErrorCode::kUnauthenticated, "UNAUTHENTICATED", "unknown mailbox secret");
}

}  // namespace

std::unique_ptr<SealedBatcher> MakeSealedBatcher(store::DbPool* pool, const PersonalRelay* relay,
                                                 int writers, size_t max_batch, size_t max_queue,
                                                 store::GroupCommitMetrics metrics) {
  auto write = [relay](pqxx::connection& conn, const std::vector<SealedSend>& sends) {
    // Two statements, each committing on its own: reading the access keys, then storing the
    // batch atomically (no BEGIN or COMMIT round trips).
    pqxx::nontransaction tx(conn);
    return relay->SendSealed(tx, sends);
  };
  // A batch locks its mailboxes: batches of different writers take disjoint mailboxes, so they
  // never wait for each other.
  auto key_of = [](const SealedSend& s) { return s.mailbox_id; };
  return std::make_unique<SealedBatcher>(pool, write, key_of, writers, max_batch, max_queue,
                                         metrics);
}

grpc::ServerUnaryReactor* PersonalRelayServiceImpl::AsOwner(
    grpc::CallbackServerContext* ctx,
    std::function<void(pqxx::transaction_base&, const std::string&)> work) {
  auto secret = rpc::BearerToken(ctx->client_metadata());
  return rpc::RunUnary(
      ctx, env_,
      [&] {
        if (!secret) throw NoSecret();
      },
      [this, secret, work = std::move(work)](pqxx::connection& conn) {
        pqxx::work tx(conn);
        work(tx, relay_->Authenticate(tx, *secret));
        tx.commit();
      });
}

grpc::ServerUnaryReactor* PersonalRelayServiceImpl::CreateMailbox(
    grpc::CallbackServerContext* ctx, const v1::CreateMailboxRequest* request,
    v1::CreateMailboxResponse* response) {
  SendTokenInput token = TokenOf(request->token());
  std::string access = request->access_key();
  return rpc::RunUnary(
      ctx, env_,
      [&] {
        relay_->CheckAccessKey(access);
        relay_->CheckToken(token);
      },
      [this, token, access, response](pqxx::connection& conn) {
        pqxx::work tx(conn);
        auto created = relay_->CreateMailbox(tx, token, access);
        tx.commit();
        if (tokens_spent_) tokens_spent_->Add();
        response->set_mailbox_id(created.mailbox_id);
        response->set_owner_secret(created.owner_secret);
      });
}

grpc::ServerUnaryReactor* PersonalRelayServiceImpl::PublishKeys(
    grpc::CallbackServerContext* ctx, const v1::PublishKeysRequest* request,
    v1::PublishKeysResponse* response) {
  PublishedKeys keys{request->identity_key(),
                     request->signed_prekey(),
                     request->signed_prekey_signature(),
                     request->signed_prekey_id(),
                     {}};
  for (const auto& p : request->one_time_prekeys()) {
    keys.one_time_prekeys.push_back({p.prekey_id(), p.public_key()});
  }
  return AsOwner(ctx, [this, keys, response](auto& tx, const std::string& mailbox) {
    response->set_one_time_prekeys_left(relay_->PublishKeys(tx, mailbox, keys));
  });
}

grpc::ServerUnaryReactor* PersonalRelayServiceImpl::GetPrekeyCount(
    grpc::CallbackServerContext* ctx, const v1::GetPrekeyCountRequest*,
    v1::GetPrekeyCountResponse* response) {
  return AsOwner(ctx, [this, response](auto& tx, const std::string& mailbox) {
    response->set_one_time_prekeys_left(relay_->PrekeyCount(tx, mailbox));
  });
}

grpc::ServerUnaryReactor* PersonalRelayServiceImpl::FetchBundle(
    grpc::CallbackServerContext* ctx, const v1::FetchBundleRequest* request,
    v1::FetchBundleResponse* response) {
  return rpc::RunUnary(
      ctx, env_, nullptr,
      [this, id = request->mailbox_id(), access = request->access_key(),
       response](pqxx::connection& conn) {
        pqxx::work tx(conn);
        Bundle b = relay_->FetchBundle(tx, id, access);
        tx.commit();
        response->set_identity_key(b.identity_key);
        response->set_signed_prekey(b.signed_prekey);
        response->set_signed_prekey_signature(b.signed_prekey_signature);
        response->set_signed_prekey_id(b.signed_prekey_id);
        if (b.one_time_prekey) {
          response->mutable_one_time_prekey()->set_prekey_id(b.one_time_prekey->id);
          response->mutable_one_time_prekey()->set_public_key(b.one_time_prekey->public_key);
        }
      });
}

grpc::ServerUnaryReactor* PersonalRelayServiceImpl::SendSealed(grpc::CallbackServerContext* ctx,
                                                               const v1::SendSealedRequest* request,
                                                               v1::SendSealedResponse*) {
  auto* reactor = ctx->DefaultReactor();
  SealedSend send{request->mailbox_id(), request->access_key(), request->ciphertext(),
                  TokenOf(request->token())};
  try {
    relay_->CheckEnvelope(send.ciphertext);
    relay_->CheckToken(send.token);
  } catch (const Error& e) {
    reactor->Finish(rpc::ToGrpcStatus(e));
    return reactor;
  }
  batcher_->Submit(
      std::move(send),
      [reactor, spent = tokens_spent_](const SendOutcome* outcome, const Error* error) {
        if (error == nullptr && outcome->has_value()) error = &outcome->value();
        if (error == nullptr && spent) spent->Add();
        reactor->Finish(error == nullptr ? grpc::Status::OK : rpc::ToGrpcStatus(*error));
      },
      rpc::CallDeadline(ctx, env_.call_timeout));
  return reactor;
}

grpc::ServerWriteReactor<v1::StreamMailboxResponse>* PersonalRelayServiceImpl::StreamMailbox(
    grpc::CallbackServerContext* ctx, const v1::StreamMailboxRequest* request) {
  auto secret = rpc::BearerToken(ctx->client_metadata());
  const PersonalRelay* relay = relay_;
  return rpc::LogStream<v1::StreamMailboxResponse>::Start(
      {env_.pool, hub_, relay_->options().stream_page, env_.call_timeout},
      std::max<int64_t>(0, request->after_sequence()),
      [relay, secret](pqxx::connection& conn) {
        if (!secret) throw NoSecret();
        pqxx::read_transaction tx(conn);
        return relay->Authenticate(tx, *secret);
      },
      [](pqxx::connection& conn, const std::string& mailbox, int64_t after, int limit,
         std::deque<v1::StreamMailboxResponse>* out) {
        // One statement: no BEGIN and ROLLBACK round trips around it.
        pqxx::nontransaction tx(conn);
        int64_t last = after;
        for (auto& e : PersonalRepository::Envelopes(tx, mailbox, after, limit)) {
          auto& r = out->emplace_back();
          r.set_sequence(e.seq);
          r.set_ciphertext(std::move(e.ciphertext));
          last = e.seq;
        }
        return last;
      });
}

grpc::ServerUnaryReactor* PersonalRelayServiceImpl::AcknowledgeEnvelopes(
    grpc::CallbackServerContext* ctx, const v1::AcknowledgeEnvelopesRequest* request,
    v1::AcknowledgeEnvelopesResponse* response) {
  return AsOwner(ctx, [this, up_to = request->up_to_sequence(), response](
                          auto& tx, const std::string& mailbox) {
    response->set_deleted(relay_->Acknowledge(tx, mailbox, up_to));
  });
}

grpc::ServerUnaryReactor* PersonalRelayServiceImpl::ExportMailbox(
    grpc::CallbackServerContext* ctx, const v1::ExportMailboxRequest*,
    v1::ExportMailboxResponse* response) {
  return AsOwner(ctx, [response](auto& tx, const std::string& mailbox) {
    int prekeys = 0, envelopes = 0;
    Bundle keys = PersonalRepository::Keys(tx, mailbox, &prekeys, &envelopes);
    response->set_mailbox_id(mailbox);
    response->set_identity_key(keys.identity_key);
    response->set_signed_prekey(keys.signed_prekey);
    response->set_signed_prekey_id(keys.signed_prekey_id);
    response->set_one_time_prekeys_left(prekeys);
    response->set_envelopes_held(envelopes);
  });
}

grpc::ServerUnaryReactor* PersonalRelayServiceImpl::DeleteMailbox(grpc::CallbackServerContext* ctx,
                                                                  const v1::DeleteMailboxRequest*,
                                                                  v1::DeleteMailboxResponse*) {
  return AsOwner(
      ctx, [this](auto& tx, const std::string& mailbox) { relay_->DeleteMailbox(tx, mailbox); });
}

}  // namespace bizrelay::personal
