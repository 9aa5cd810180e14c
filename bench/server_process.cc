#include "bench/server_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace bizrelay::bench {
namespace fs = std::filesystem;

namespace {

std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

ServerProcess::ServerProcess(std::string binary, std::vector<std::string> extra_args) {
  char tmpl[] = "/tmp/bizrelay-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
  data_dir_ = tmpl;
  // Run as root, the embedded cluster runs as user postgres, which must traverse this dir.
  fs::permissions(data_dir_, fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);
  argv_ = {std::move(binary), "--tls-plaintext", "true", "--listen-public", "127.0.0.1:0",
           "--listen-operator", "127.0.0.1:0", "--listen-personal", "127.0.0.1:0",
           "--listen-metrics", "127.0.0.1:0", "--ready-file", (data_dir_ / "ready.json").string(),
           "--data-dir", data_dir_.string(), "--log-level", "warn",
           // The defaults protect a public deployment from one abusive credential; the
           // benchmark is that credential on purpose (and its few mailboxes get every send).
           "--hosting-sends-per-second", "1000000", "--limits-registrations-per-second", "100000",
           "--tokens-per-day", "1000000000", "--personal-sends-per-mailbox-per-minute", "100000000",
           "--personal-max-mailbox-depth", "100000"};
  argv_.insert(argv_.end(), extra_args.begin(), extra_args.end());
}

ServerProcess::~ServerProcess() {
  Stop();
  std::error_code ec;
  fs::remove_all(data_dir_, ec);
}

void ServerProcess::Start(std::chrono::seconds timeout) {
  // BIZRELAY_* variables would configure the server behind the benchmark's back.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string(*e).starts_with("BIZRELAY_")) env_strings.emplace_back(*e);
  }
  std::vector<char*> cargv, cenv;
  for (auto& a : argv_) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  std::string log = log_path().string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  int rc = posix_spawn(&pid_, argv_[0].c_str(), &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + argv_[0] + ": " + strerror(rc));
  }

  auto ready = data_dir_ / "ready.json";
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (fs::exists(ready)) {
      auto j = nlohmann::json::parse(Slurp(ready));
      public_port_ = j.at("public_port").get<int>();
      operator_port_ = j.at("operator_port").get<int>();
      personal_port_ = j.value("personal_port", 0);
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("bizrelayd exited before it was ready; log:\n" + LogTail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("bizrelayd was not ready in time; log:\n" + LogTail());
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return -1;
}

pid_t ServerProcess::PostmasterPid() const {
  // The first line of postmaster.pid is the postmaster's pid (PostgreSQL's file format).
  std::ifstream in(data_dir_ / "pg" / "postmaster.pid");
  long pid = -1;
  if (!(in >> pid)) return -1;
  return static_cast<pid_t>(pid);
}

std::string ServerProcess::ConnInfo() const {
  // As services/store/embedded_postgres.cc builds it for a data dir this short.
  return "host=" + (data_dir_ / "run").string() + " dbname=bizrelay user=bizrelay";
}

std::string ServerProcess::OperatorToken() const {
  std::string t = Slurp(data_dir_ / "operator.token");
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

std::string ServerProcess::LogTail() const {
  std::string log = Slurp(log_path());
  constexpr size_t kTail = 4000;
  return log.size() > kTail ? log.substr(log.size() - kTail) : log;
}

}  // namespace bizrelay::bench
