#include "bench/personal.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>

#include "bench/crypto_cost.h"
#include "bench/setup.h"
#include "bizrelay/v1/account_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
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

// Takes `n` tokens from `pool`; throws if it has fewer.
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

std::string Errors(const std::map<std::string, uint64_t>& errors) {
  if (errors.empty()) return "none";
  std::string s;
  for (const auto& [code, n] : errors)
    s += (s.empty() ? "" : ", ") + code + " " + std::to_string(n);
  return s;
}

nlohmann::json PhaseJson(const PhaseResult& p) {
  return {{"seconds", p.seconds},         {"ok", p.ok},         {"ok_per_second", p.ok_per_second},
          {"latency", ToJson(p.latency)}, {"errors", p.errors}, {"cpu", ToJson(p.cpu)}};
}

}  // namespace

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

// --- the personal phase ----------------------------------------------------------------------

PersonalResult RunPersonalPhase(PersonalContext* pc, const PersonalOptions& o, CpuSampler* cpu) {
  PersonalResult result;
  const int64_t setup_start = NowNs();
  pc->issuer->Issue(o.mailboxes, &pc->pool);
  std::vector<Mailbox> mailboxes =
      CreateMailboxes(pc->setup_stub.get(), o.mailboxes, &pc->pool, true, pc->setup_threads);
  result.mailboxes = o.mailboxes;
  result.setup_seconds = static_cast<double>(NowNs() - setup_start) / 1e9;
  std::printf("personal: %d mailboxes created with published keys in %.1f s\n", o.mailboxes,
              result.setup_seconds);
  std::fflush(stdout);

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health_stubs;
  std::vector<std::unique_ptr<v1::PersonalRelayService::Stub>> stubs;
  for (int i = 0; i < o.channels; ++i) {
    channels.push_back(MakeChannel(pc->personal_target));
    health_stubs.push_back(grpc::health::v1::Health::NewStub(channels.back()));
    stubs.push_back(v1::PersonalRelayService::NewStub(channels.back()));
  }
  const auto warmup = milliseconds(static_cast<int64_t>(o.warmup_seconds * 1000));
  const auto measure = milliseconds(static_cast<int64_t>(o.seconds * 1000));
  double estimate = o.rate_estimate;
  std::random_device seeds;
  for (int run = 1; run <= o.runs; ++run) {
    // Enough tokens for the run at the expected rate, with room to spare: a slot that finds
    // none fails its call, which would spoil the run.
    const double need =
        std::ceil(1.5 * estimate * (o.warmup_seconds + o.seconds)) + 2.0 * o.inflight;
    if (static_cast<double>(pc->pool.size()) < need) {
      const int64_t t0 = NowNs();
      const int n = static_cast<int>(need) - static_cast<int>(pc->pool.size());
      pc->issuer->Issue(n, &pc->pool);
      std::printf("personal: issued %d tokens in %.1f s (%.0f tokens/s)\n", n,
                  static_cast<double>(NowNs() - t0) / 1e9,
                  n / (static_cast<double>(NowNs() - t0) / 1e9));
    }
    if (run > 1) EmptyMailboxes(pc->setup_stub.get(), mailboxes, pc->setup_threads);

    PersonalRun r;
    std::vector<std::unique_ptr<CallSlot>> health_slots;
    for (int i = 0; i < o.inflight; ++i) {
      health_slots.push_back(std::make_unique<HealthCheckSlot>(
          health_stubs[static_cast<size_t>(i % o.channels)].get()));
    }
    r.baseline = RunClosedLoop(health_slots, warmup, measure, cpu);
    std::printf(
        "run %d: null call (personal port)  %9.0f calls/s  p50 %6.2f ms  p99 %6.2f ms  "
        "errors: %s\n",
        run, r.baseline.ok_per_second, r.baseline.latency.p50_ms, r.baseline.latency.p99_ms,
        Errors(r.baseline.errors).c_str());

    std::atomic<uint64_t> out_of_tokens{0};
    std::vector<std::unique_ptr<CallSlot>> slots;
    for (int i = 0; i < o.inflight; ++i) {
      slots.push_back(std::make_unique<SendSealedSlot>(
          stubs[static_cast<size_t>(i % o.channels)].get(), &mailboxes, &pc->pool,
          o.ciphertext_bytes, (static_cast<uint64_t>(seeds()) << 32) | seeds(), &out_of_tokens));
    }
    r.main = RunClosedLoop(slots, warmup, measure, cpu);
    r.out_of_tokens = out_of_tokens.load();
    std::printf(
        "run %d: sealed send (SendSealed)   %9.0f sends/s  p50 %6.2f ms  p99 %6.2f ms  "
        "max %7.2f ms  errors: %s\n",
        run, r.main.ok_per_second, r.main.latency.p50_ms, r.main.latency.p99_ms,
        r.main.latency.max_ms, Errors(r.main.errors).c_str());
    if (r.out_of_tokens > 0) {
      result.warnings.push_back(
          Fmt("personal run %d ran out of send tokens (%llu calls): its "
              "rate is a lower bound",
              run, static_cast<unsigned long long>(r.out_of_tokens)));
      estimate *= 2;
    } else if (r.main.ok_per_second > 0) {
      estimate = r.main.ok_per_second;
    }
    std::fflush(stdout);
    result.runs.push_back(std::move(r));
  }
  result.tokens_issued = pc->issuer->issued();
  result.token_issue_seconds = pc->issuer->seconds();

  auto median = [&](const std::function<double(const PersonalRun&)>& get) {
    std::vector<double> v;
    for (const auto& r : result.runs) v.push_back(get(r));
    return Median(v);
  };
  auto& m = result.median;
  m["null_calls_per_second"] = median([](auto& r) { return r.baseline.ok_per_second; });
  m["null_p50_ms"] = median([](auto& r) { return r.baseline.latency.p50_ms; });
  m["null_p99_ms"] = median([](auto& r) { return r.baseline.latency.p99_ms; });
  m["sealed_sends_per_second"] = median([](auto& r) { return r.main.ok_per_second; });
  m["sealed_p50_ms"] = median([](auto& r) { return r.main.latency.p50_ms; });
  m["sealed_p99_ms"] = median([](auto& r) { return r.main.latency.p99_ms; });
  m["sealed_max_ms"] = median([](auto& r) { return r.main.latency.max_ms; });
  m["sealed_to_null_ratio"] = median([](auto& r) {
    return r.baseline.ok_per_second > 0 ? r.main.ok_per_second / r.baseline.ok_per_second : 0;
  });
  m["cpu_bench_cores"] = median([](auto& r) { return r.main.cpu.bench; });
  m["cpu_bizrelayd_cores"] = median([](auto& r) { return r.main.cpu.server; });
  m["cpu_postgres_cores"] = median([](auto& r) { return r.main.cpu.postgres; });
  m["cpu_machine_busy_cores"] = median([](auto& r) { return r.main.cpu.machine_busy; });

  // The token check alone, in process: what the relay does per send before any database work.
  {
    SendToken t;
    if (!pc->pool.Take(&t)) {
      pc->issuer->Issue(1, &pc->pool);
      pc->pool.Take(&t);
    }
    const crypto::BlindRsaPublicKey& key = pc->issuer->key();
    bool all_ok = true;
    result.verify_ns =
        MedianNsPerCall(101, 200, [&] { all_ok &= key.Verify(t.message, t.signature); });
    if (!all_ok) result.warnings.push_back("a token did not verify in process");
  }

  // Delivery latency at a fixed rate to a few streamed mailboxes.
  if (o.e2e_rate > 0 && o.e2e_seconds > 0) {
    const int k = std::min(o.stream_mailboxes, o.mailboxes);
    std::vector<Mailbox> streamed(mailboxes.begin(), mailboxes.begin() + k);
    EmptyMailboxes(pc->setup_stub.get(), streamed, pc->setup_threads);
    const int needed = static_cast<int>(o.e2e_rate * (1 + o.e2e_seconds)) + k + 100;
    if (static_cast<int>(pc->pool.size()) < needed) {
      pc->issuer->Issue(needed - static_cast<int>(pc->pool.size()), &pc->pool);
    }
    auto channel = MakeChannel(pc->personal_target);
    auto stub = v1::PersonalRelayService::NewStub(channel);
    std::vector<std::unique_ptr<MailboxReader>> readers;
    for (const auto& mb : streamed) {
      readers.push_back(std::make_unique<MailboxReader>(stub.get(), mb.owner_secret));
      readers.back()->Start();
    }
    struct StopReaders {
      std::vector<std::unique_ptr<MailboxReader>>* readers;
      ~StopReaders() {
        for (auto& r : *readers) r->Cancel();
        for (auto& r : *readers) r->Wait();
      }
    } stop{&readers};
    // One envelope each, to know every stream is open before the clock starts.
    std::mt19937_64 rng(seeds());
    for (int i = 0; i < k; ++i) {
      SendToken t;
      pc->pool.Take(&t);
      SendSealedOnce(pc->setup_stub.get(), streamed[static_cast<size_t>(i)], t,
                     RandomCiphertext(&rng, o.ciphertext_bytes));
    }
    for (auto& r : readers) {
      if (!r->WaitForReceived(1, NowNs() + static_cast<int64_t>(30e9))) {
        throw std::runtime_error("a StreamMailbox reader did not get its first envelope");
      }
    }
    uint64_t ok_all = 0;
    result.paced = RunPacedSealed(stubs[0].get(), streamed, o.e2e_rate, milliseconds(1000),
                                  milliseconds(static_cast<int64_t>(o.e2e_seconds * 1000)),
                                  &pc->pool, o.ciphertext_bytes, &ok_all);
    // Every OK send (warm-up included) must arrive, after the envelope each stream got first.
    const uint64_t expected = static_cast<uint64_t>(k) + ok_all;
    const int64_t until = NowNs() + static_cast<int64_t>(o.drain_timeout_seconds * 1e9);
    auto total = [&] {
      uint64_t n = 0;
      for (auto& r : readers) n += r->received();
      return n;
    };
    while (total() < expected && NowNs() < until) std::this_thread::sleep_for(milliseconds(5));
    result.paced_all_delivered = total() >= expected;
    std::vector<int64_t> all;
    for (auto& r : readers) {
      auto part = r->LatenciesSentIn(result.paced->window_start_ns, result.paced->window_end_ns);
      all.insert(all.end(), part.begin(), part.end());
    }
    result.paced_delivery = Summarize(&all);
  }
  return result;
}

nlohmann::json ToJson(const PersonalResult& r) {
  nlohmann::json j;
  j["mailboxes"] = r.mailboxes;
  j["setup_seconds"] = r.setup_seconds;
  j["tokens_issued"] = r.tokens_issued;
  j["token_issue_seconds"] = r.token_issue_seconds;
  j["runs"] = nlohmann::json::array();
  for (const auto& run : r.runs) {
    j["runs"].push_back({{"null_call", PhaseJson(run.baseline)},
                         {"sealed_send", PhaseJson(run.main)},
                         {"out_of_tokens", run.out_of_tokens}});
  }
  j["median"] = r.median;
  j["token_verify_ns"] = r.verify_ns;
  if (r.paced) {
    j["delivery_paced"] = {{"rate", r.paced->rate},
                           {"sent", r.paced->sent},
                           {"ok", r.paced->ok},
                           {"max_behind_schedule_ms", r.paced->max_behind_ms},
                           {"ack_latency", ToJson(r.paced->latency)},
                           {"errors", r.paced->errors},
                           {"delivery_latency", ToJson(r.paced_delivery)},
                           {"all_delivered", r.paced_all_delivered}};
  }
  j["warnings"] = r.warnings;
  return j;
}

// --- the mailboxes phase ---------------------------------------------------------------------

MailboxesResult RunMailboxesPhase(PersonalContext* pc, const MailboxesOptions& o, pid_t server_pid,
                                  pid_t postmaster_pid) {
  MailboxesResult result;
  result.mailboxes = o.mailboxes;
  const int64_t setup_start = NowNs();
  // One token per mailbox to create it, one per mailbox for the envelope it holds.
  const int needed = 2 * o.mailboxes + 1;
  if (static_cast<int>(pc->pool.size()) < needed) {
    pc->issuer->Issue(needed - static_cast<int>(pc->pool.size()), &pc->pool);
  }
  const int threads = std::max(pc->setup_threads, 32);
  std::vector<Mailbox> mailboxes =
      CreateMailboxes(pc->setup_stub.get(), o.mailboxes, &pc->pool, false, threads);
  // An envelope held in every mailbox: a stream that delivers it is open and registered.
  std::vector<SendToken> tokens = TakeTokens(&pc->pool, o.mailboxes);
  ParallelFor(o.mailboxes, threads, [&](int i) {
    thread_local std::mt19937_64 rng(std::random_device{}());
    SendSealedOnce(pc->setup_stub.get(), mailboxes[static_cast<size_t>(i)],
                   tokens[static_cast<size_t>(i)], RandomCiphertext(&rng, 245));
  });
  result.setup_seconds = static_cast<double>(NowNs() - setup_start) / 1e9;
  std::printf("mailboxes: %d mailboxes created, one envelope each, in %.1f s\n", o.mailboxes,
              result.setup_seconds);
  std::fflush(stdout);
  std::this_thread::sleep_for(milliseconds(1000));
  result.before = ReadMemory(server_pid, postmaster_pid);

  result.channels = (o.mailboxes + o.streams_per_channel - 1) / o.streams_per_channel;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::PersonalRelayService::Stub>> stubs;
  for (int i = 0; i < result.channels; ++i) {
    channels.push_back(MakeChannel(pc->personal_target));
    stubs.push_back(v1::PersonalRelayService::NewStub(channels.back()));
  }
  std::vector<std::unique_ptr<MailboxReader>> readers;
  struct StopReaders {
    std::vector<std::unique_ptr<MailboxReader>>* readers;
    ~StopReaders() {
      for (auto& r : *readers) r->Cancel();
      for (auto& r : *readers) r->Wait();
    }
  } stop{&readers};
  const int64_t open_start = NowNs();
  for (int first = 0; first < o.mailboxes; first += o.open_wave) {
    const int last = std::min(o.mailboxes, first + o.open_wave);
    for (int i = first; i < last; ++i) {
      readers.push_back(std::make_unique<MailboxReader>(
          stubs[static_cast<size_t>(i / o.streams_per_channel)].get(),
          mailboxes[static_cast<size_t>(i)].owner_secret));
      readers.back()->Start();
    }
    const int64_t until = NowNs() + static_cast<int64_t>(60e9);
    for (int i = first; i < last; ++i) {
      if (readers[static_cast<size_t>(i)]->WaitForReceived(1, until)) ++result.streams_open;
    }
  }
  result.open_seconds = static_cast<double>(NowNs() - open_start) / 1e9;
  int ended = 0;
  std::string first_end;
  for (auto& r : readers) {
    if (auto s = r->ended()) {
      if (ended++ == 0) first_end = CodeName(s->error_code()) + " " + s->error_message();
    }
  }
  if (ended > 0) {
    result.warnings.push_back(
        Fmt("%d mailbox streams ended early (first: %s)", ended, first_end.c_str()));
  }
  std::printf("mailboxes: %d of %d streams open over %d connections in %.1f s\n",
              result.streams_open, o.mailboxes, result.channels, result.open_seconds);
  std::fflush(stdout);
  std::this_thread::sleep_for(milliseconds(2000));
  result.open = ReadMemory(server_pid, postmaster_pid);

  // A message to one recipient among them arrives on its stream.
  {
    std::mt19937_64 rng(std::random_device{}());
    const size_t who = rng() % mailboxes.size();
    SendToken t;
    if (!pc->pool.Take(&t)) {
      pc->issuer->Issue(1, &pc->pool);
      pc->pool.Take(&t);
    }
    const int64_t sent = NowNs();
    SendSealedOnce(pc->setup_stub.get(), mailboxes[who], t, TimedCiphertext(&rng, sent, 245));
    const uint64_t before = 1;
    if (readers[who]->WaitForReceived(before + 1, NowNs() + static_cast<int64_t>(30e9))) {
      auto lat = readers[who]->LatenciesSentIn(sent, sent + 1);
      result.probe_delivered = !lat.empty();
      if (!lat.empty()) result.probe_latency_ms = static_cast<double>(lat.front()) / 1e6;
    }
  }

  for (auto& r : readers) r->Cancel();
  for (auto& r : readers) r->Wait();
  std::this_thread::sleep_for(milliseconds(1000));
  result.after = ReadMemory(server_pid, postmaster_pid);
  return result;
}

nlohmann::json ToJson(const MailboxesResult& r) {
  return {{"mailboxes", r.mailboxes},
          {"connections", r.channels},
          {"setup_seconds", r.setup_seconds},
          {"streams_open", r.streams_open},
          {"open_seconds", r.open_seconds},
          {"memory_before", ToJson(r.before)},
          {"memory_streams_open", ToJson(r.open)},
          {"memory_after_close", ToJson(r.after)},
          {"probe_delivered", r.probe_delivered},
          {"probe_latency_ms", r.probe_latency_ms},
          {"warnings", r.warnings}};
}

}  // namespace bizrelay::bench
