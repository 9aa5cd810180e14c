// End-to-end: health tells the truth about the database. The real bizrelayd, a real
// PostgreSQL that the test kills or stops, and real gRPC clients (health Check and Watch, and
// user sends that retry with their idempotency keys).
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/store/testing/test_postgres.h"
#include "tests/harness/clients.h"
#include "tests/harness/daemon_process.h"

namespace bizrelay::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// The status Check answers for the whole server, or UNKNOWN if the call failed.
HealthCheckResponse::ServingStatus Check(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 2s);
  HealthCheckResponse resp;
  auto s = grpc::health::v1::Health::NewStub(channel)->Check(&ctx, HealthCheckRequest(), &resp);
  return s.ok() ? resp.status() : HealthCheckResponse::UNKNOWN;
}

// Polls Check until it answers `want`; returns how long that took, or nullopt after `limit`.
std::optional<Clock::duration> WaitForCheck(const std::shared_ptr<grpc::Channel>& channel,
                                            HealthCheckResponse::ServingStatus want,
                                            Clock::duration limit) {
  auto start = Clock::now();
  while (Clock::now() - start < limit) {
    if (Check(channel) == want) return Clock::now() - start;
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

// A Watch stream of the whole server, recording each status with when it arrived.
class Watcher {
 public:
  explicit Watcher(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(grpc::health::v1::Health::NewStub(channel)) {
    stream_ = stub_->Watch(&ctx_, HealthCheckRequest());
    thread_ = std::thread([this] {
      HealthCheckResponse r;
      while (stream_->Read(&r)) {
        std::lock_guard lock(mu_);
        seen_.emplace_back(r.status(), Clock::now());
      }
    });
  }
  ~Watcher() {
    ctx_.TryCancel();
    thread_.join();
  }
  // When `status` first arrived at or after `after`.
  std::optional<Clock::time_point> First(HealthCheckResponse::ServingStatus status,
                                         Clock::time_point after) {
    std::lock_guard lock(mu_);
    for (const auto& [s, t] : seen_) {
      if (s == status && t >= after) return t;
    }
    return std::nullopt;
  }

 private:
  std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<HealthCheckResponse>> stream_;
  std::mutex mu_;
  std::vector<std::pair<HealthCheckResponse::ServingStatus, Clock::time_point>> seen_;
  std::thread thread_;
};

pid_t PostmasterPid(const std::filesystem::path& data_dir) {
  std::ifstream in(data_dir / "pg" / "postmaster.pid");
  pid_t pid = 0;
  in >> pid;
  return pid;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

TEST(HealthE2E, EmbeddedPostgresKilledUnderLoadIsRestartedAndNoAcknowledgedSendIsLost) {
  DaemonProcess d(DaemonProcess::Options{
      .extra_args = {"--hosting-sends-per-second", "100000", "--limits-call-timeout-ms", "2000"}});
  ASSERT_GT(d.public_port(), 0);
  Biz biz = CreateBusiness(d, "Toko Tahan Banting");
  constexpr int kClients = 8;
  std::vector<Usr> users;
  for (int i = 0; i < kClients; ++i) {
    users.push_back(Register(d, "Pelanggan " + std::to_string(i)));
    StartChat(d, users.back(), biz);
  }
  ASSERT_EQ(Check(d.PublicChannel()), HealthCheckResponse::SERVING);
  Watcher public_watch(d.PublicChannel());
  Watcher personal_watch(d.PersonalChannel());

  // Each client sends one message after another; a failed send is retried with the same key
  // until it is acknowledged, as a client that wants exactly-once delivery does.
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::mutex mu;
  std::set<std::string> acknowledged;
  std::vector<std::thread> clients;
  // Stops and joins the clients however the test ends (an ASSERT returns early).
  struct JoinAll {
    std::atomic<bool>& stop;
    std::vector<std::thread>& threads;
    ~JoinAll() {
      stop = true;
      for (auto& t : threads) {
        if (t.joinable()) t.join();
      }
    }
  } join_all{stop, clients};
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto give_up = Clock::now() + 60s;
      for (int n = 0; !stop; ++n) {
        std::string key = "c" + std::to_string(c) + "-" + std::to_string(n);
        while (true) {
          auto s = Send(d, users[c], biz, "pesan " + key, key);
          if (s.ok()) break;
          ++failures;
          EXPECT_TRUE(s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                      s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED)
              << s.error_code() << " " << s.error_message();
          if (Clock::now() > give_up) {
            ADD_FAILURE() << "send " << key << " never acknowledged";
            return;
          }
          std::this_thread::sleep_for(50ms);
        }
        std::lock_guard lock(mu);
        acknowledged.insert(key);
      }
    });
  }
  std::this_thread::sleep_for(1s);
  size_t before_kill;
  {
    std::lock_guard lock(mu);
    before_kill = acknowledged.size();
  }
  pid_t postmaster = PostmasterPid(d.data_dir());
  ASSERT_GT(postmaster, 0);
  auto killed = Clock::now();
  ASSERT_EQ(kill(postmaster, SIGKILL), 0);

  auto down = WaitForCheck(d.PublicChannel(), HealthCheckResponse::NOT_SERVING, 10s);
  ASSERT_TRUE(down) << "Check never said NOT_SERVING; log:\n" << d.Log();
  auto up = WaitForCheck(d.PublicChannel(), HealthCheckResponse::SERVING, 15s);
  ASSERT_TRUE(up) << "Check never said SERVING again; log:\n" << d.Log();
  auto recovered = Clock::now();
  std::this_thread::sleep_for(2s);  // load continues on the restarted database
  stop = true;
  for (auto& t : clients) t.join();
  clients.clear();

  double to_down = Seconds(*down);
  double to_up = Seconds(recovered - killed);
  std::cout << "killed under load: NOT_SERVING after " << to_down << " s, SERVING after " << to_up
            << " s; " << before_kill << " sends acknowledged before the kill, "
            << acknowledged.size() << " in all, " << failures << " failed attempts retried\n";
  EXPECT_LT(to_down, 5.0);
  EXPECT_LT(to_up, 10.0);
  EXPECT_GT(before_kill, 0u);
  EXPECT_GT(acknowledged.size(), before_kill) << "sends succeed again after the restart";
  EXPECT_EQ(Check(d.OperatorChannel()), HealthCheckResponse::SERVING);
  EXPECT_EQ(Check(d.PersonalChannel()), HealthCheckResponse::SERVING);
  // Watch saw it too, on the public and the personal port.
  for (Watcher* w : {&public_watch, &personal_watch}) {
    auto watched_down = w->First(HealthCheckResponse::NOT_SERVING, killed);
    ASSERT_TRUE(watched_down);
    EXPECT_TRUE(w->First(HealthCheckResponse::SERVING, *watched_down));
  }

  // Every acknowledged send is stored exactly once, and nothing else is.
  pqxx::connection db("host=" + (d.data_dir() / "run").string() + " dbname=bizrelay user=bizrelay");
  pqxx::nontransaction tx(db);
  std::map<std::string, int> stored;
  for (const auto& r : tx.exec("SELECT idempotency_key, count(*) FROM hosting.messages "
                               "WHERE direction = 1 GROUP BY idempotency_key")) {
    stored[r[0].as<std::string>()] = r[1].as<int>();
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(stored.size(), acknowledged.size());
  for (const auto& key : acknowledged) EXPECT_EQ(stored[key], 1) << key;

  std::string log = d.Log();
  EXPECT_NE(log.find("event=embedded_postgres_died"), std::string::npos);
  EXPECT_NE(log.find("event=embedded_postgres_restarted"), std::string::npos);
  EXPECT_NE(log.find("event=database_unreachable path=hosting"), std::string::npos);
  EXPECT_NE(log.find("event=database_reachable path=hosting"), std::string::npos);
}

TEST(HealthE2E, ExternalDatabaseStoppedMeansNotServingUntilItIsBack) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(DaemonProcess::Options{.database_url = url});
  ASSERT_GT(d.public_port(), 0);
  for (auto channel : {d.PublicChannel(), d.OperatorChannel(), d.PersonalChannel()}) {
    EXPECT_EQ(Check(channel), HealthCheckResponse::SERVING);
  }
  Watcher watch(d.PublicChannel());
  auto stopped = Clock::now();
  store::testing::TestCluster().Stop();
  for (auto channel : {d.PublicChannel(), d.OperatorChannel(), d.PersonalChannel()}) {
    auto down = WaitForCheck(channel, HealthCheckResponse::NOT_SERVING, 10s);
    ASSERT_TRUE(down) << d.Log();
  }
  double to_down = Seconds(Clock::now() - stopped);
  EXPECT_LT(to_down, 5.0);
  // A call that needs the database fails fast with the standard code.
  {
    grpc::ClientContext ctx;
    v1::RegisterUserRequest req;
    req.set_display_name("Siti");
    v1::RegisterUserResponse resp;
    auto s = v1::AccountService::NewStub(d.PublicChannel())->RegisterUser(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
    EXPECT_EQ(ErrorReason(s), "DATABASE_UNAVAILABLE");
  }
  // Nothing restarts an external database: it stays NOT_SERVING until the operator's
  // database is back.
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(Check(d.PublicChannel()), HealthCheckResponse::NOT_SERVING);
  auto started = Clock::now();
  store::testing::TestCluster().Start();
  for (auto channel : {d.PublicChannel(), d.OperatorChannel(), d.PersonalChannel()}) {
    ASSERT_TRUE(WaitForCheck(channel, HealthCheckResponse::SERVING, 10s)) << d.Log();
  }
  double to_up = Seconds(Clock::now() - started);
  std::cout << "external database stopped: NOT_SERVING on all three ports after " << to_down
            << " s; SERVING after its start returned, " << to_up << " s\n";
  EXPECT_LT(to_up, 5.0);
  auto watched_down = watch.First(HealthCheckResponse::NOT_SERVING, stopped);
  ASSERT_TRUE(watched_down);
  EXPECT_TRUE(watch.First(HealthCheckResponse::SERVING, *watched_down));
  // And it serves again.
  Usr u = Register(d, "Budi");
  EXPECT_FALSE(u.token.empty());
}

}  // namespace
}  // namespace bizrelay::e2e
