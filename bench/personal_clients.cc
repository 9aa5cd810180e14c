#include "bench/personal_clients.h"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "bench/setup.h"
#include "bizrelay/v1/account_service.grpc.pb.h"
#include "services/crypto/sealed_box.h"
#include "services/platform/token.h"

namespace bizrelay::bench {
namespace {

using std::chrono::milliseconds;

constexpr size_t kTokenNonceBytes = 32;

void SetToken(const SendToken& t, v1::SendToken* out) {
  out->set_message(t.message);
  out->set_signature(t.signature);
  out->set_key_id(t.key_id);
}

}  // namespace

std::vector<SendToken> TakeTokens(TokenPool* pool, int n) {
  std::vector<SendToken> out(static_cast<size_t>(n));
  for (auto& t : out) {
    if (!pool->Take(&t)) throw std::runtime_error("internal: token pool ran dry during setup");
  }
  return out;
}

void SendSealedOnce(v1::PersonalRelayService::Stub* stub, const Mailbox& m, const SendToken& t,
                    const std::string& ciphertext) {
  v1::SendSealedRequest req;
  req.set_mailbox_id(m.id);
  req.set_access_key(m.access_key);
  SetToken(t, req.mutable_token());
  req.set_ciphertext(ciphertext);
  v1::SendSealedResponse resp;
  CallWithRetry("PersonalRelayService.SendSealed", [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    return stub->SendSealed(&ctx, req, &resp);
  });
}

// --- tokens ----------------------------------------------------------------------------------

void TokenPool::Add(std::vector<SendToken> tokens) {
  std::lock_guard lock(mu_);
  for (auto& t : tokens) tokens_.push_back(std::move(t));
}

bool TokenPool::Take(SendToken* out) {
  std::lock_guard lock(mu_);
  if (tokens_.empty()) return false;
  *out = std::move(tokens_.back());
  tokens_.pop_back();
  return true;
}

size_t TokenPool::size() const {
  std::lock_guard lock(mu_);
  return tokens_.size();
}

TokenIssuer::TokenIssuer(const std::shared_ptr<grpc::Channel>& public_channel,
                         std::vector<std::string> user_tokens, int threads)
    : channel_(public_channel), users_(std::move(user_tokens)), threads_(threads) {
  auto stub = v1::AccountService::NewStub(channel_);
  v1::GetSendTokenKeyResponse resp;
  CallWithRetry("AccountService.GetSendTokenKey", [&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    return stub->GetSendTokenKey(&ctx, v1::GetSendTokenKeyRequest(), &resp);
  });
  key_ = crypto::BlindRsaPublicKey::FromDer(resp.public_key());
  key_id_ = crypto::BlindRsaKeyId(*key_);
  if (key_id_ != resp.key_id()) throw std::runtime_error("issuer key id does not match its key");
}

void TokenIssuer::Issue(int n, TokenPool* pool) {
  if (n <= 0) return;
  const int64_t start = NowNs();
  const int calls = (n + kPerCall - 1) / kPerCall;
  const uint64_t first_user = next_user_;
  next_user_ += static_cast<uint64_t>(calls);
  auto stub = v1::AccountService::NewStub(channel_);
  ParallelFor(calls, threads_, [&](int c) {
    const std::string& user = users_[(first_user + static_cast<uint64_t>(c)) % users_.size()];
    std::vector<crypto::BlindingResult> blindings;
    v1::IssueSendTokensRequest req;
    for (int i = 0; i < kPerCall; ++i) {
      blindings.push_back(key_->Blind(RandomBytes(kTokenNonceBytes),
                                      crypto::BlindRsaVariant::kSha384PssRandomized));
      req.add_blinded_messages(blindings.back().blinded_msg);
    }
    v1::IssueSendTokensResponse resp;
    CallWithRetry("AccountService.IssueSendTokens", [&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, user);
      return stub->IssueSendTokens(&ctx, req, &resp);
    });
    if (resp.blind_signatures_size() != kPerCall || resp.key_id() != key_id_) {
      throw std::runtime_error("IssueSendTokens answered with the wrong signatures or key");
    }
    std::vector<SendToken> tokens;
    for (int i = 0; i < kPerCall; ++i) {
      const auto& b = blindings[static_cast<size_t>(i)];
      tokens.push_back({b.prepared_msg,
                        key_->Finalize(resp.blind_signatures(i), b.inv, b.prepared_msg), key_id_});
    }
    pool->Add(std::move(tokens));
  });
  issued_ += static_cast<uint64_t>(calls) * kPerCall;
  seconds_ += static_cast<double>(NowNs() - start) / 1e9;
}

// --- mailboxes -------------------------------------------------------------------------------

std::vector<Mailbox> CreateMailboxes(v1::PersonalRelayService::Stub* stub, int n, TokenPool* pool,
                                     bool publish_keys, int threads) {
  std::vector<SendToken> tokens = TakeTokens(pool, n);
  std::vector<Mailbox> out(static_cast<size_t>(n));
  ParallelFor(n, threads, [&](int i) {
    Mailbox& m = out[static_cast<size_t>(i)];
    m.access_key = RandomBytes(32);
    v1::CreateMailboxRequest req;
    SetToken(tokens[static_cast<size_t>(i)], req.mutable_token());
    req.set_access_key(m.access_key);
    v1::CreateMailboxResponse resp;
    CallWithRetry("PersonalRelayService.CreateMailbox", [&] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
      return stub->CreateMailbox(&ctx, req, &resp);
    });
    m.id = resp.mailbox_id();
    m.owner_secret = resp.owner_secret();
    if (!publish_keys) return;
    crypto::KeyPair identity = crypto::GenerateEd25519KeyPair();
    crypto::KeyPair prekey = crypto::GenerateX25519KeyPair();
    v1::PublishKeysRequest keys;
    keys.set_identity_key(identity.public_key);
    keys.set_signed_prekey(prekey.public_key);
    keys.set_signed_prekey_signature(crypto::Ed25519Sign(identity.private_key, prekey.public_key));
    keys.set_signed_prekey_id(1);
    v1::PublishKeysResponse published;
    CallWithRetry("PersonalRelayService.PublishKeys", [&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, m.owner_secret);
      return stub->PublishKeys(&ctx, keys, &published);
    });
  });
  return out;
}

void EmptyMailboxes(v1::PersonalRelayService::Stub* stub, const std::vector<Mailbox>& mailboxes,
                    int threads) {
  ParallelFor(static_cast<int>(mailboxes.size()), threads, [&](int i) {
    v1::AcknowledgeEnvelopesRequest req;
    req.set_up_to_sequence(std::numeric_limits<int64_t>::max());
    v1::AcknowledgeEnvelopesResponse resp;
    CallWithRetry("PersonalRelayService.AcknowledgeEnvelopes", [&] {
      grpc::ClientContext ctx;
      Authorize(&ctx, mailboxes[static_cast<size_t>(i)].owner_secret);
      return stub->AcknowledgeEnvelopes(&ctx, req, &resp);
    });
  });
}

std::string RandomCiphertext(std::mt19937_64* rng, size_t bytes) {
  std::string s(bytes, '\0');
  for (size_t i = 0; i < bytes; i += 8) {
    uint64_t v = (*rng)();
    for (size_t j = i; j < std::min(bytes, i + 8); ++j, v >>= 8) s[j] = static_cast<char>(v);
  }
  return s;
}

std::string TimedCiphertext(std::mt19937_64* rng, int64_t send_ns, size_t bytes) {
  std::string s = "t=" + std::to_string(send_ns) + ";";
  if (s.size() < bytes) s += RandomCiphertext(rng, bytes - s.size());
  return s;
}

// --- sending ---------------------------------------------------------------------------------

void SendSealedSlot::Start(grpc::ClientContext* ctx, int64_t,
                           std::function<void(const grpc::Status&)> done) {
  SendToken token;
  if (!tokens_->Take(&token)) {
    out_of_tokens_->fetch_add(1, std::memory_order_relaxed);
    // Not from inside Start: the loop would call Start again at once, recursively.
    std::thread([done = std::move(done)] {
      std::this_thread::sleep_for(milliseconds(1));
      done(grpc::Status(grpc::StatusCode::ABORTED, "the benchmark ran out of send tokens"));
    }).detach();
    return;
  }
  const Mailbox& m = (*mailboxes_)[rng_() % mailboxes_->size()];
  request_.set_mailbox_id(m.id);
  request_.set_access_key(m.access_key);
  SetToken(token, request_.mutable_token());
  request_.set_ciphertext(RandomCiphertext(&rng_, ciphertext_bytes_));
  stub_->async()->SendSealed(ctx, &request_, &response_,
                             [done = std::move(done)](grpc::Status s) { done(s); });
}

PacedResult RunPacedSealed(v1::PersonalRelayService::Stub* stub,
                           const std::vector<Mailbox>& mailboxes, double rate, milliseconds warmup,
                           milliseconds measure, TokenPool* tokens, size_t bytes,
                           uint64_t* ok_total) {
  struct Call {
    grpc::ClientContext ctx;
    v1::SendSealedRequest request;
    v1::SendSealedResponse response;
    int64_t sent = 0;
    bool counted = false;  // started inside the window
  };
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;  // guarded by mu
  PacedResult r;           // guarded by mu while sends are outstanding
  std::vector<int64_t> latencies;
  std::map<grpc::StatusCode, uint64_t> errors;
  uint64_t ok_all = 0;  // guarded by mu
  std::mt19937_64 rng(std::random_device{}());

  const int64_t start = NowNs();
  r.rate = rate;
  r.window_start_ns = start + std::chrono::nanoseconds(warmup).count();
  r.window_end_ns = r.window_start_ns + std::chrono::nanoseconds(measure).count();
  const double period_ns = 1e9 / rate;
  for (uint64_t i = 0;; ++i) {
    const auto due = start + static_cast<int64_t>(static_cast<double>(i) * period_ns);
    if (due >= r.window_end_ns) break;
    std::this_thread::sleep_until(Clock::time_point(std::chrono::nanoseconds(due)));
    SendToken token;
    if (!tokens->Take(&token)) throw std::runtime_error("paced sealed sends ran out of tokens");
    const Mailbox& m = mailboxes[i % mailboxes.size()];
    auto* call = new Call;
    call->sent = NowNs();
    call->counted = call->sent >= r.window_start_ns && call->sent < r.window_end_ns;
    {
      std::lock_guard lock(mu);
      ++outstanding;
      if (call->counted) {
        ++r.sent;
        r.max_behind_ms = std::max(r.max_behind_ms, static_cast<double>(call->sent - due) / 1e6);
      }
    }
    call->ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    call->request.set_mailbox_id(m.id);
    call->request.set_access_key(m.access_key);
    SetToken(token, call->request.mutable_token());
    call->request.set_ciphertext(TimedCiphertext(&rng, call->sent, bytes));
    stub->async()->SendSealed(&call->ctx, &call->request, &call->response,
                              [&, call](grpc::Status s) {
                                std::unique_ptr<Call> owned(call);
                                const int64_t now = NowNs();
                                std::lock_guard lock(mu);
                                if (s.ok()) ++ok_all;
                                if (call->counted) {
                                  if (s.ok()) {
                                    ++r.ok;
                                    latencies.push_back(now - call->sent);
                                  } else {
                                    ++errors[s.error_code()];
                                  }
                                }
                                if (--outstanding == 0) cv.notify_all();
                              });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return outstanding == 0; });
  r.latency = Summarize(&latencies);
  for (const auto& [code, n] : errors) r.errors[CodeName(code)] += n;
  *ok_total = ok_all;
  return r;
}

// --- reading ---------------------------------------------------------------------------------

MailboxReader::MailboxReader(v1::PersonalRelayService::Stub* stub, std::string owner_secret)
    : stub_(stub) {
  // No deadline: the stream stays open until Cancel().
  ctx_.AddMetadata("authorization", "Bearer " + owner_secret);
}

void MailboxReader::Start() {
  started_ = true;
  stub_->async()->StreamMailbox(&ctx_, &request_, this);
  StartRead(&response_);
  StartCall();
}

void MailboxReader::Cancel() {
  if (started_) ctx_.TryCancel();
}

void MailboxReader::Wait() {
  if (!started_) return;
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return done_; });
}

bool MailboxReader::WaitForReceived(uint64_t n, int64_t until_ns) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, Clock::time_point(std::chrono::nanoseconds(until_ns)), [&] {
    return received_ >= n || done_;
  }) && received_ >= n;
}

uint64_t MailboxReader::received() const {
  std::lock_guard lock(mu_);
  return received_;
}

std::vector<int64_t> MailboxReader::LatenciesSentIn(int64_t from_ns, int64_t to_ns) const {
  std::lock_guard lock(mu_);
  std::vector<int64_t> out;
  for (const auto& s : samples_) {
    if (s.send_ns >= from_ns && s.send_ns < to_ns) out.push_back(s.recv_ns - s.send_ns);
  }
  return out;
}

std::optional<grpc::Status> MailboxReader::ended() const {
  std::lock_guard lock(mu_);
  if (!done_) return std::nullopt;
  return status_;
}

void MailboxReader::OnReadDone(bool ok) {
  if (!ok) return;  // the stream ended; OnDone follows
  const int64_t now = NowNs();
  int64_t sent = 0;
  {
    std::lock_guard lock(mu_);
    ++received_;
    if (ParseSendTime(response_.ciphertext(), &sent)) samples_.push_back({sent, now});
  }
  cv_.notify_all();
  StartRead(&response_);
}

void MailboxReader::OnDone(const grpc::Status& status) {
  {
    std::lock_guard lock(mu_);
    done_ = true;
    status_ = status;
  }
  cv_.notify_all();
}

}  // namespace bizrelay::bench
