#include "bench/sweep.h"

#include <cstdio>
#include <memory>
#include <pqxx/pqxx>
#include <thread>

#include "bench/server_process.h"
#include "bench/setup.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/hosting/sweeper.h"
#include "services/platform/token.h"

namespace bizrelay::bench {
namespace {

using std::chrono::milliseconds;

constexpr const char* kCountUnexpired =
    "SELECT count(*) FROM hosting.messages WHERE expires_at > now()";
constexpr const char* kCountExpired =
    "SELECT count(*) FROM hosting.messages WHERE expires_at <= now()";
constexpr const char* kCountAll = "SELECT count(*) FROM hosting.messages";
constexpr const char* kPlainDelete = "DELETE FROM hosting.messages WHERE expires_at <= now()";

int64_t Count(const std::string& conninfo, const char* sql) {
  pqxx::connection conn(conninfo);
  pqxx::read_transaction tx(conn);
  return tx.exec1(sql)[0].as<int64_t>();
}

// Vacuums the tables a deletion touches, so that each timed deletion starts from the same
// state rather than behind the dead rows of the previous one.
void Vacuum(const std::string& conninfo) {
  pqxx::connection conn(conninfo);
  pqxx::nontransaction tx(conn);
  tx.exec0("VACUUM ANALYZE hosting.messages");
  tx.exec0("VACUUM ANALYZE hosting.events");
}

// A server of the phase with its businesses (lifetime set) and users (one chat each).
struct SweepServer {
  std::unique_ptr<ServerProcess> process;
  std::string public_target;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::UserChatService::Stub>> stubs;
  std::vector<User> users;
  std::unique_ptr<CpuSampler> cpu;
};

SweepServer StartServer(const SweepOptions& o, std::vector<std::string> args) {
  SweepServer s;
  std::vector<std::string> all = o.server_args;
  all.insert(all.end(), args.begin(), args.end());
  s.process = std::make_unique<ServerProcess>(o.bizrelayd, all);
  s.process->Start(std::chrono::seconds(120));
  s.public_target = "127.0.0.1:" + std::to_string(s.process->public_port());
  auto operator_channel = MakeChannel("127.0.0.1:" + std::to_string(s.process->operator_port()));
  auto setup_channel = MakeChannel(s.public_target);
  auto businesses =
      CreateBusinesses(operator_channel, s.process->OperatorToken(), o.businesses, o.setup_threads);
  SetDefaultLifetime(setup_channel, businesses, o.lifetime_seconds, o.setup_threads);
  s.users = CreateUsers(setup_channel, businesses, o.users, o.setup_threads);
  for (int i = 0; i < o.channels; ++i) {
    s.channels.push_back(MakeChannel(s.public_target));
    s.stubs.push_back(v1::UserChatService::NewStub(s.channels.back()));
  }
  s.cpu = std::make_unique<CpuSampler>(s.process->pid(), s.process->PostmasterPid());
  return s;
}

std::vector<std::unique_ptr<CallSlot>> SendSlots(SweepServer& s, const SweepOptions& o,
                                                 const std::string& key_prefix,
                                                 OkCounter* ok_total) {
  std::vector<std::unique_ptr<CallSlot>> slots;
  for (int i = 0; i < o.inflight; ++i) {
    const User& u = s.users[static_cast<size_t>(i) % s.users.size()];
    slots.push_back(std::make_unique<SendMessageSlot>(
        Sender{s.stubs[static_cast<size_t>(i % o.channels)].get(), u.token, u.business_id},
        key_prefix + "-" + std::to_string(i), o.text_bytes, ok_total));
  }
  return slots;
}

// Sends `rows` messages and waits until every message stored is expired; returns the send rate.
double FillExpired(SweepServer& s, const SweepOptions& o, const std::string& key_prefix) {
  OkCounter ok{0};
  auto slots = SendSlots(s, o, key_prefix, &ok);
  CountResult r = RunUntilOk(slots, static_cast<uint64_t>(o.rows));
  const std::string conninfo = s.process->ConnInfo();
  const int64_t until = NowNs() + static_cast<int64_t>(120e9);
  while (Count(conninfo, kCountUnexpired) > 0) {
    if (NowNs() > until) throw std::runtime_error("sweep: messages did not expire in 120 s");
    std::this_thread::sleep_for(milliseconds(200));
  }
  return r.seconds > 0 ? static_cast<double>(r.ok) / r.seconds : 0;
}

}  // namespace

SweepResult RunSweepPhase(const SweepOptions& o) {
  SweepResult res;
  const std::string lifetime_min = std::to_string(o.lifetime_seconds);
  const std::string prefix = "sweep-" + ToHex(RandomBytes(4));

  // (a) on a server without the sweeper role: nothing deletes but the bench.
  SweepServer a = StartServer(
      o, {"--retention-min-seconds", lifetime_min, "--roles", "hosting,operator,personal"});
  res.argv = a.process->argv();
  const std::string conninfo = a.process->ConnInfo();
  std::printf("sweep: server without the sweeper role: pid %d\n", a.process->pid());
  std::fflush(stdout);

  // Set 1: the sweeper's own code (Sweeper::SweepOnce, batches with FOR UPDATE SKIP LOCKED).
  double fill1 = FillExpired(a, o, prefix + "-a1");
  int64_t expired1 = Count(conninfo, kCountExpired);
  Vacuum(conninfo);
  int64_t t0 = NowNs();
  hosting::SweepReport report =
      hosting::Sweeper::SweepOnce(conninfo, o.batch, o.max_lifetime_seconds);
  res.sweeper_seconds = static_cast<double>(NowNs() - t0) / 1e9;
  res.sweeper_rows = report.deleted_messages;
  if (res.sweeper_rows != expired1) {
    res.warnings.push_back(Fmt("sweeper deleted %lld rows of %lld expired",
                               static_cast<long long>(res.sweeper_rows),
                               static_cast<long long>(expired1)));
  }
  // Set 2: one plain DELETE of every expired row in one transaction.
  double fill2 = FillExpired(a, o, prefix + "-a2");
  int64_t expired2 = Count(conninfo, kCountExpired);
  Vacuum(conninfo);
  {
    pqxx::connection conn(conninfo);
    t0 = NowNs();
    pqxx::work tx(conn);
    res.delete_rows = static_cast<int64_t>(tx.exec0(kPlainDelete).affected_rows());
    tx.commit();
    res.delete_seconds = static_cast<double>(NowNs() - t0) / 1e9;
  }
  if (res.delete_rows != expired2) {
    res.warnings.push_back(Fmt("plain DELETE removed %lld rows of %lld expired",
                               static_cast<long long>(res.delete_rows),
                               static_cast<long long>(expired2)));
  }
  res.fill_msgs_per_second = (fill1 + fill2) / 2;
  res.sweeper_rows_per_second =
      res.sweeper_seconds > 0 ? static_cast<double>(res.sweeper_rows) / res.sweeper_seconds : 0;
  res.delete_rows_per_second =
      res.delete_seconds > 0 ? static_cast<double>(res.delete_rows) / res.delete_seconds : 0;
  res.ratio =
      res.delete_rows_per_second > 0 ? res.sweeper_rows_per_second / res.delete_rows_per_second : 0;
  std::printf(
      "sweep: (a) sweeper %lld rows in %.3f s (%.0f rows/s); plain DELETE %lld rows in %.3f s "
      "(%.0f rows/s); ratio %.3f  [filled at %.0f msgs/s]\n",
      static_cast<long long>(res.sweeper_rows), res.sweeper_seconds, res.sweeper_rows_per_second,
      static_cast<long long>(res.delete_rows), res.delete_seconds, res.delete_rows_per_second,
      res.ratio, res.fill_msgs_per_second);
  std::fflush(stdout);
  Vacuum(conninfo);

  // (b) ingest with 1-second lifetimes on the same server, alternating runs without and with a
  // sweeper (the sweeper role's own code, hosting::Sweeper, every interval_ms) running beside
  // it. Before each run an untimed sweep removes what expired, so both start alike.
  const std::string hosting_conninfo = conninfo + " user=bizrelay_hosting";
  std::printf("sweep: (b) sweeper every %d ms, batch %d, in this process\n", o.interval_ms,
              o.batch);
  const auto warmup = milliseconds(static_cast<int64_t>(o.warmup_seconds * 1000));
  const auto measure = milliseconds(static_cast<int64_t>(o.seconds * 1000));
  OkCounter ok{0};
  std::vector<double> without, with;
  for (int run = 1; run <= o.runs; ++run) {
    for (int k = 0; k < 2; ++k) {
      const bool sweeping = (k == 0) == (run % 2 == 0);  // alternate which goes first
      hosting::Sweeper::SweepOnce(hosting_conninfo, o.batch, o.max_lifetime_seconds);
      std::unique_ptr<hosting::Sweeper> sweeper;
      if (sweeping) {
        sweeper = std::make_unique<hosting::Sweeper>(hosting_conninfo, milliseconds(o.interval_ms),
                                                     o.batch, o.max_lifetime_seconds);
        sweeper->Start();
      }
      auto slots =
          SendSlots(a, o, prefix + "-b" + std::to_string(run) + (sweeping ? "s" : "n"), &ok);
      auto r = RunClosedLoop(slots, warmup, measure, a.cpu.get());
      if (sweeper) {
        sweeper->Stop();
        res.with_rows_left = Count(conninfo, kCountAll);
        res.with_expired_left = Count(conninfo, kCountExpired);
      } else {
        res.without_expired_left = Count(conninfo, kCountExpired);
      }
      (sweeping ? res.with : res.without).push_back(r);
      (sweeping ? with : without).push_back(r.ok_per_second);
    }
    std::printf(
        "sweep: (b) run %d: ingest without sweeper %8.0f msgs/s (p99 %.2f ms); with sweeper "
        "%8.0f msgs/s (p99 %.2f ms, postgres %.2f cores)\n",
        run, without.back(), res.without.back().latency.p99_ms, with.back(),
        res.with.back().latency.p99_ms, res.with.back().cpu.postgres);
    std::fflush(stdout);
  }
  res.without_median = Median(without);
  res.with_median = Median(with);
  res.ingest_ratio = res.without_median > 0 ? res.with_median / res.without_median : 0;
  int code = a.process->Stop();
  if (code != 0) res.warnings.push_back(Fmt("the sweep-phase bizrelayd exited with %d", code));
  return res;
}

nlohmann::json ToJson(const SweepResult& r) {
  nlohmann::json runs = nlohmann::json::array();
  for (size_t i = 0; i < r.without.size(); ++i) {
    runs.push_back({{"without_sweeper_msgs_per_second", r.without[i].ok_per_second},
                    {"without_sweeper_p99_ms", r.without[i].latency.p99_ms},
                    {"without_sweeper_cpu", ToJson(r.without[i].cpu)},
                    {"with_sweeper_msgs_per_second", r.with[i].ok_per_second},
                    {"with_sweeper_p99_ms", r.with[i].latency.p99_ms},
                    {"with_sweeper_cpu", ToJson(r.with[i].cpu)}});
  }
  return {{"server", r.argv},
          {"deletion",
           {{"fill_msgs_per_second", r.fill_msgs_per_second},
            {"sweeper_rows", r.sweeper_rows},
            {"sweeper_seconds", r.sweeper_seconds},
            {"sweeper_rows_per_second", r.sweeper_rows_per_second},
            {"plain_delete_rows", r.delete_rows},
            {"plain_delete_seconds", r.delete_seconds},
            {"plain_delete_rows_per_second", r.delete_rows_per_second},
            {"sweeper_to_plain_delete_ratio", r.ratio}}},
          {"ingest",
           {{"runs", runs},
            {"without_sweeper_msgs_per_second", r.without_median},
            {"with_sweeper_msgs_per_second", r.with_median},
            {"with_to_without_ratio", r.ingest_ratio},
            {"with_sweeper_rows_left", r.with_rows_left},
            {"with_sweeper_expired_rows_left", r.with_expired_left},
            {"without_sweeper_expired_rows_left", r.without_expired_left}}},
          {"warnings", r.warnings}};
}

}  // namespace bizrelay::bench
