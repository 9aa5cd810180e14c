#include "bench/metrics_cost.h"

#include <cstdio>
#include <memory>

#include "bench/load.h"
#include "bench/server_process.h"
#include "bench/setup.h"
#include "bench/stats.h"
#include "services/platform/token.h"

namespace bizrelay::bench {
namespace {

// One server under test, set up with its businesses and users and ready for load.
struct Side {
  std::unique_ptr<ServerProcess> server;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::UserChatService::Stub>> stubs;
  std::vector<User> users;
};

Side Prepare(const MetricsCostOptions& o, const std::string& listen_metrics) {
  Side s;
  std::vector<std::string> args = o.server_args;
  args.insert(args.end(), {"--listen-metrics", listen_metrics});
  s.server = std::make_unique<ServerProcess>(o.bizrelayd, args);
  s.server->Start(std::chrono::seconds(120));
  std::string target = "127.0.0.1:" + std::to_string(s.server->public_port());
  auto businesses =
      CreateBusinesses(MakeChannel("127.0.0.1:" + std::to_string(s.server->operator_port())),
                       s.server->OperatorToken(), o.businesses, 8);
  s.users = CreateUsers(MakeChannel(target), businesses, o.users, 8);
  for (int i = 0; i < o.channels; ++i) {
    s.channels.push_back(MakeChannel(target));
    s.stubs.push_back(v1::UserChatService::NewStub(s.channels.back()));
  }
  return s;
}

double RunSends(Side& s, const MetricsCostOptions& o, const std::string& key_prefix) {
  OkCounter ok{0};
  std::vector<std::unique_ptr<CallSlot>> slots;
  for (int i = 0; i < o.inflight; ++i) {
    const User& u = s.users[static_cast<size_t>(i) % s.users.size()];
    slots.push_back(std::make_unique<SendMessageSlot>(
        Sender{s.stubs[static_cast<size_t>(i % o.channels)].get(), u.token, u.business_id},
        key_prefix + "-" + std::to_string(i), o.text_bytes, &ok));
  }
  CpuSampler cpu(s.server->pid(), s.server->PostmasterPid());
  PhaseResult r = RunClosedLoop(slots, o.warmup, o.measure, &cpu);
  return r.ok_per_second;
}

}  // namespace

MetricsCostResult RunMetricsCost(const MetricsCostOptions& o) {
  Side on = Prepare(o, "127.0.0.1:0");
  Side off = Prepare(o, "");
  MetricsCostResult result;
  const std::string prefix = "metrics-" + ToHex(RandomBytes(6));
  for (int run = 1; run <= o.runs; ++run) {
    bool on_first = run % 2 == 1;
    for (int k = 0; k < 2; ++k) {
      bool with = (k == 0) == on_first;
      double rate = RunSends(with ? on : off, o, prefix + "-r" + std::to_string(run));
      (with ? result.on : result.off).push_back(rate);
      std::printf("metrics-cost run %d: metrics %-3s %9.0f msgs/s\n", run, with ? "on" : "off",
                  rate);
      std::fflush(stdout);
    }
  }
  result.on_median = Median(result.on);
  result.off_median = Median(result.off);
  result.ratio = result.off_median > 0 ? result.on_median / result.off_median : 0;
  std::printf("metrics-cost: median on %.0f msgs/s, off %.0f msgs/s, ratio %.3f\n",
              result.on_median, result.off_median, result.ratio);
  return result;
}

}  // namespace bizrelay::bench
