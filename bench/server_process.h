#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace bizrelay::bench {

// A bizrelayd started for the benchmark: plaintext on loopback with free ports and its own
// embedded PostgreSQL in a fresh directory under /tmp, which the destructor removes after
// stopping the process (SIGTERM, then SIGKILL after 30 s). The server's output goes to
// log_path(). Not thread-safe.
class ServerProcess {
 public:
  // `extra_args` go after the benchmark's own arguments, so they override them.
  ServerProcess(std::string binary, std::vector<std::string> extra_args);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts the process and waits up to `timeout` until it serves; throws std::runtime_error
  // (with the tail of its log) if it exits or times out first.
  void Start(std::chrono::seconds timeout);
  // SIGTERM, then waits; returns the exit status, or -1 if it was killed or had to be.
  int Stop();

  pid_t pid() const { return pid_; }
  // The embedded cluster's postmaster, from its pid file; -1 if unknown.
  pid_t PostmasterPid() const;
  int public_port() const { return public_port_; }
  int operator_port() const { return operator_port_; }
  // 0 if the server does not run the personal role.
  int personal_port() const { return personal_port_; }
  // A libpq connection string for the embedded cluster as its superuser (the server's data
  // dir's run/ socket directory, user and database "bizrelay"); the benchmark runs as root or
  // as the cluster's owner to reach it.
  std::string ConnInfo() const;
  std::string OperatorToken() const;
  const std::vector<std::string>& argv() const { return argv_; }
  std::filesystem::path log_path() const { return data_dir_ / "bizrelayd.log"; }

 private:
  std::string LogTail() const;

  std::filesystem::path data_dir_;
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int public_port_ = 0;
  int operator_port_ = 0;
  int personal_port_ = 0;
};

}  // namespace bizrelay::bench
