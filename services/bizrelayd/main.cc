// bizrelayd: the relay daemon. See `bizrelayd --help`.
#include <csignal>
#include <iostream>
#include <string_view>

#include "services/bizrelayd/config.h"
#include "services/bizrelayd/daemon.h"
#include "services/bizrelayd/health_probe.h"
#include "services/platform/log.h"
#include "services/rpc/process.h"

int main(int argc, char** argv) {
  // `bizrelayd health ...`: the container image's health check (see health_probe.h).
  if (argc > 1 && std::string_view(argv[1]) == "health") {
    return bizrelay::daemon::RunHealthProbe(argc - 1, argv + 1, std::cout, std::cerr);
  }
  using bizrelay::daemon::LoadResult;
  LoadResult loaded =
      bizrelay::daemon::LoadConfig(argc, argv, bizrelay::daemon::BizrelayEnvironment());
  if (loaded.outcome == LoadResult::Outcome::kHelp) {
    std::cout << loaded.message
              << "\nbizrelayd health --help: the grpc.health.v1 client for container health "
                 "checks.\n";
    return 0;
  }
  if (loaded.outcome == LoadResult::Outcome::kError) {
    std::cerr << "bizrelayd: configuration error: " << loaded.message << "\n";
    return 2;
  }
  bizrelay::SetUpLogging(loaded.config.log_level);
  bizrelay::rpc::SetUpGrpcProcess();

  // Signals are taken synchronously by this thread only; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  bizrelay::daemon::Daemon daemon(loaded.config);
  try {
    daemon.Start();
  } catch (const std::exception& e) {
    spdlog::critical("event=start_failed error=\"{}\"", e.what());
    daemon.Stop();
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("event=signal_received signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  daemon.Stop();
  return 0;
}
