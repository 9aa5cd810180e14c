#include "tests/harness/daemon_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "services/platform/token.h"
#include "tests/harness/command.h"

extern char** environ;

namespace bizrelay::e2e {
namespace fs = std::filesystem;

namespace {

std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

DaemonProcess::DaemonProcess(Options options) : options_(std::move(options)) {
  char tmpl[] = "/tmp/bizrelay-e2e-XXXXXX";
  data_dir_ = mkdtemp(tmpl);
  // The embedded cluster runs as user postgres when we are root: it must traverse this dir.
  fs::permissions(data_dir_, fs::perms::others_exec | fs::perms::group_exec, fs::perm_options::add);

  std::vector<std::string> args = {BIZRELAYD_PATH,
                                   "--data-dir",
                                   data_dir_.string(),
                                   "--tls-plaintext",
                                   "true",
                                   "--listen-public",
                                   "127.0.0.1:0",
                                   "--listen-operator",
                                   "127.0.0.1:0",
                                   "--listen-personal",
                                   "127.0.0.1:0",
                                   "--listen-metrics",
                                   "127.0.0.1:0",
                                   "--ready-file",
                                   (data_dir_ / "ready.json").string(),
                                   "--log-level",
                                   "debug"};
  if (!options_.database_url.empty()) {
    args.push_back("--database-url");
    args.push_back(options_.database_url);
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string(*e).starts_with("BIZRELAY_")) env_strings.emplace_back(*e);
  }
  // Processes that share a database must share the master key that wraps its data keys.
  // ... and the key that signs send tokens.
  if (!options_.database_url.empty() && !options_.env.count("BIZRELAY_CRYPTO_MASTER_KEY_HEX")) {
    env_strings.push_back("BIZRELAY_CRYPTO_MASTER_KEY_HEX=" + ToHex(Sha256(options_.database_url)));
  }
  if (!options_.database_url.empty()) {
    std::string issuer =
        "/tmp/bizrelay-issuer-" + ToHex(Sha256(options_.database_url)).substr(0, 16) + ".pem";
    if (!fs::exists(issuer)) {
      // Processes started at once may race here: each writes its own file and links it into
      // place; linking fails if a file is there already, so the first key stays the only one.
      std::string tmp = issuer + "." + ToHex(RandomBytes(8));
      RunCommand({"openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                  "-out", tmp});
      std::error_code ec;
      fs::create_hard_link(tmp, issuer, ec);
      fs::remove(tmp, ec);
    }
    env_strings.push_back("BIZRELAY_TOKENS_ISSUER_KEY_FILE=" + issuer);
  }
  for (const auto& [k, v] : options_.env) env_strings.push_back(k + "=" + v);

  std::vector<char*> cargv, cenv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  std::string log = log_path().string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  if (posix_spawn(&pid_, BIZRELAYD_PATH, &actions, nullptr, cargv.data(), cenv.data()) != 0) {
    pid_ = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  if (options_.expect_ready && !WaitReady()) {
    ADD_FAILURE() << "bizrelayd did not become ready; log:\n" << Log();
  }
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) Terminate();
  std::error_code ec;
  fs::remove_all(data_dir_, ec);
}

bool DaemonProcess::WaitReady() {
  auto ready = data_dir_ / "ready.json";
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < until) {
    if (fs::exists(ready)) {
      auto j = nlohmann::json::parse(Slurp(ready));
      public_port_ = j.at("public_port").get<int>();
      operator_port_ = j.at("operator_port").get<int>();
      personal_port_ = j.at("personal_port").get<int>();
      metrics_port_ = j.value("metrics_port", 0);
      return true;
    }
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

int DaemonProcess::WaitExit(int timeout_seconds) {
  if (pid_ <= 0) return exit_code_;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return exit_code_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

int DaemonProcess::Terminate() {
  if (pid_ <= 0) return exit_code_;
  kill(pid_, SIGTERM);
  int code = WaitExit(30);
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  return code;
}

void DaemonProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string DaemonProcess::Log() const { return Slurp(log_path()); }

std::string DaemonProcess::OperatorToken() const {
  std::string t = Slurp(data_dir_ / "operator.token");
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  return t;
}

std::shared_ptr<grpc::Channel> DaemonProcess::PublicChannel() const {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(public_port_),
                             grpc::InsecureChannelCredentials());
}

std::shared_ptr<grpc::Channel> DaemonProcess::PersonalChannel() const {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(personal_port_),
                             grpc::InsecureChannelCredentials());
}

std::shared_ptr<grpc::Channel> DaemonProcess::OperatorChannel() const {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(operator_port_),
                             grpc::InsecureChannelCredentials());
}

void Authorize(grpc::ClientContext* ctx, const std::string& token) {
  ctx->AddMetadata("authorization", "Bearer " + token);
}

std::string ErrorReason(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return "";
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info.reason();
  }
  return "";
}

}  // namespace bizrelay::e2e
