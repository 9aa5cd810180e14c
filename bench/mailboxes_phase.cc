#include "bench/mailboxes_phase.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <thread>

#include "bench/setup.h"
#include "services/platform/token.h"

namespace bizrelay::bench {

using std::chrono::milliseconds;

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
  StopReadersOnExit stop(&readers);
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
