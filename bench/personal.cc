#include "bench/personal.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>

#include "bench/crypto_cost.h"
#include "bench/setup.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/platform/token.h"

namespace bizrelay::bench {

using std::chrono::milliseconds;

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
    r.baseline = RunNullCalls(health_stubs, o.inflight, warmup, measure, cpu);
    std::printf(
        "run %d: null call (personal port)  %9.0f calls/s  p50 %6.2f ms  p99 %6.2f ms  "
        "errors: %s\n",
        run, r.baseline.ok_per_second, r.baseline.latency.p50_ms, r.baseline.latency.p99_ms,
        ErrorCounts(r.baseline.errors).c_str());

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
        r.main.latency.max_ms, ErrorCounts(r.main.errors).c_str());
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
    StopReadersOnExit stop(&readers);
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
    j["runs"].push_back({{"null_call", ToJson(run.baseline)},
                         {"sealed_send", ToJson(run.main)},
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

}  // namespace bizrelay::bench
