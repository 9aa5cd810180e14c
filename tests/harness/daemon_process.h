#pragma once

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace bizrelay::e2e {

// A real bizrelayd process for end-to-end tests. By default it runs plaintext on loopback with
// free ports (metrics included) and its own embedded PostgreSQL in a fresh data directory;
// `database_url` points it at a shared database instead (several processes, one database). Its log
// goes to log_path(). The destructor stops it (SIGTERM, then SIGKILL after 30 s) and removes the
// data directory.
class DaemonProcess {
 public:
  struct Options {
    std::string database_url;  // empty: embedded
    std::vector<std::string> extra_args;
    std::map<std::string, std::string> env;
    bool expect_ready = true;
  };

  explicit DaemonProcess(Options options);
  DaemonProcess() : DaemonProcess(Options{}) {}
  ~DaemonProcess();

  // Waits up to 90 s for the ready file; false if the process exited first.
  bool WaitReady();
  // Sends SIGTERM and returns the exit status (or -1 on a signal or timeout).
  int Terminate();
  // Kills the process with SIGKILL (a crash: nothing is let go of) and reaps it.
  void Kill();
  // Waits for the process to exit by itself; returns its exit status (-1 on timeout).
  int WaitExit(int timeout_seconds);

  int public_port() const { return public_port_; }
  int operator_port() const { return operator_port_; }
  int personal_port() const { return personal_port_; }
  // The Prometheus endpoint's port (0 if metrics are off).
  int metrics_port() const { return metrics_port_; }
  // The process id of bizrelayd (-1 once it exited).
  pid_t pid() const { return pid_; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  std::filesystem::path log_path() const { return data_dir_ / "bizrelayd.log"; }
  std::string Log() const;
  std::string OperatorToken() const;

  std::shared_ptr<grpc::Channel> PublicChannel() const;
  std::shared_ptr<grpc::Channel> OperatorChannel() const;
  std::shared_ptr<grpc::Channel> PersonalChannel() const;

 private:
  Options options_;
  std::filesystem::path data_dir_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  int public_port_ = 0;
  int operator_port_ = 0;
  int personal_port_ = 0;
  int metrics_port_ = 0;
};

// Adds `authorization: Bearer <token>` to a client context.
void Authorize(grpc::ClientContext* ctx, const std::string& token);

// The ErrorInfo reason of a failed call ("" if none).
std::string ErrorReason(const grpc::Status& status);

}  // namespace bizrelay::e2e
