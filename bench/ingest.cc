#include "bench/ingest.h"

#include <atomic>
#include <cstdio>
#include <pqxx/pqxx>
#include <thread>

#include "bench/server_process.h"
#include "bench/setup.h"
#include "bench/stats.h"
#include "services/hosting/keyring.h"
#include "services/hosting/message_repository.h"
#include "services/platform/token.h"

namespace bizrelay::bench {
namespace {

using Bodies = hosting::MessageRepository::Bodies;

// Stores batches for `seconds` from o.writers connections; returns the messages stored per
// second. Writer w sends for the users whose business index is w modulo the writers, so
// writers never wait for each other's locks (bizrelayd shards its batches the same way).
double Ingest(const IngestOptions& o, const std::string& conninfo, hosting::KeyRing& keys,
              const std::vector<std::vector<hosting::PostItem>>& senders, Bodies bodies,
              const std::string& key_prefix, double seconds) {
  std::atomic<int64_t> stored{0};
  std::atomic<bool> failed{false};
  const int64_t start = NowNs();
  const int64_t until = start + static_cast<int64_t>(seconds * 1e9);
  std::vector<std::thread> threads;
  for (int w = 0; w < o.writers; ++w) {
    threads.emplace_back([&, w] {
      try {
        pqxx::connection conn(conninfo);
        const auto& mine = senders[static_cast<size_t>(w)];
        int64_t n = 0;
        while (NowNs() < until) {
          std::vector<hosting::PostItem> batch;
          for (int i = 0; i < o.batch; ++i, ++n) {
            hosting::PostItem item = mine[static_cast<size_t>(n) % mine.size()];
            item.idempotency_key = key_prefix + "-" + std::to_string(w) + "-" + std::to_string(n);
            batch.push_back(std::move(item));
          }
          pqxx::nontransaction tx(conn);  // as the daemon's writers do
          auto results =
              hosting::MessageRepository::PostUserMessages(tx, batch, keys, 2592000, bodies);
          for (const auto& r : results) {
            if (r.outcome == hosting::PostOutcome::kStored) stored.fetch_add(1);
          }
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "ingest: writer %d failed: %s\n", w, e.what());
        failed = true;
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failed) throw std::runtime_error("ingest: a writer failed");
  // Until the last batch committed: the writers finish the batch they are in at `until`.
  return static_cast<double>(stored.load()) / (static_cast<double>(NowNs() - start) / 1e9);
}

}  // namespace

IngestResult RunIngestPhase(const IngestOptions& o) {
  IngestResult res;
  // The write path runs in this process; the server only sets the database up (accounts,
  // chats, data keys under its master key).
  ServerProcess server(o.bizrelayd, o.server_args);
  server.Start(std::chrono::seconds(120));
  res.argv = server.argv();
  auto operator_channel = MakeChannel("127.0.0.1:" + std::to_string(server.operator_port()));
  auto channel = MakeChannel("127.0.0.1:" + std::to_string(server.public_port()));
  auto businesses =
      CreateBusinesses(operator_channel, server.OperatorToken(), o.businesses, o.setup_threads);
  auto users = CreateUsers(channel, businesses, o.users, o.setup_threads);

  std::vector<std::vector<hosting::PostItem>> senders(static_cast<size_t>(o.writers));
  const std::string text(o.text_bytes, 'x');
  for (size_t i = 0; i < users.size(); ++i) {
    size_t business = i % businesses.size();
    hosting::PostItem item{.token_hash = Sha256(users[i].token),
                           .business_id = users[i].business_id,
                           .idempotency_key = "",
                           .text = text,
                           .request_hash = Sha256(users[i].business_id + text)};
    senders[business % senders.size()].push_back(std::move(item));
  }
  hosting::KeyRing keys(hosting::MasterKey::FromHex(
                            ReadTrimmed((server.log_path().parent_path() / "master.key").string())),
                        {});
  const std::string conninfo = server.ConnInfo() + " user=bizrelay_hosting";
  const std::string prefix = "ingest-" + ToHex(RandomBytes(4));
  Ingest(o, conninfo, keys, senders, Bodies::kSealed, prefix + "-warm", o.warmup_seconds);
  for (int run = 1; run <= o.runs; ++run) {
    // Alternate which goes first, so that neither always meets the larger table.
    bool sealed_first = run % 2 == 1;
    for (int k = 0; k < 2; ++k) {
      bool sealed = (k == 0) == sealed_first;
      double rate = Ingest(o, conninfo, keys, senders,
                           sealed ? Bodies::kSealed : Bodies::kUnsealedBenchmarkBaseline,
                           prefix + "-" + std::to_string(run) + (sealed ? "s" : "u"), o.seconds);
      (sealed ? res.sealed : res.unsealed).push_back(rate);
    }
    std::printf("ingest: run %d: sealed %8.0f msgs/s; unsealed %8.0f msgs/s\n", run,
                res.sealed.back(), res.unsealed.back());
    std::fflush(stdout);
  }
  res.sealed_median = Median(res.sealed);
  res.unsealed_median = Median(res.unsealed);
  res.ratio = res.unsealed_median > 0 ? res.sealed_median / res.unsealed_median : 0;
  server.Stop();
  return res;
}

nlohmann::json ToJson(const IngestResult& r) {
  return {{"server", r.argv},
          {"sealed_msgs_per_second", r.sealed},
          {"unsealed_msgs_per_second", r.unsealed},
          {"sealed_median", r.sealed_median},
          {"unsealed_median", r.unsealed_median},
          {"sealed_to_unsealed_ratio", r.ratio}};
}

}  // namespace bizrelay::bench
