#include "services/store/embedded_postgres.h"

#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <pqxx/pqxx>
#include <stdexcept>

#include "services/platform/log.h"
#include "services/store/process.h"

namespace bizrelay::store {
namespace fs = std::filesystem;

namespace {

// sun_path holds 108 bytes; the socket file name adds ".s.PGSQL.5432".
constexpr size_t kMaxSocketDir = 90;

constexpr auto kSupervisePoll = std::chrono::milliseconds(200);
constexpr auto kFirstRestartBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxRestartBackoff = std::chrono::seconds(5);

std::string FindBinDir() {
  const fs::path root = "/usr/lib/postgresql";
  std::string best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "pg_ctl")) {
      best_version = version;
      best = (entry.path() / "bin").string();
    }
  }
  if (best.empty()) {
    throw std::runtime_error(
        "no PostgreSQL server found under /usr/lib/postgresql "
        "(install postgresql-15 or set database.embedded_bin_dir)");
  }
  return best;
}

void ChownTo(const fs::path& path, const std::string& user) {
  struct passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) throw std::runtime_error("no such user: " + user);
  if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
    throw std::runtime_error("cannot chown " + path.string() + " to " + user);
  }
}

// glibc's malloc settings for the server processes. By default a backend hands freed memory
// back to the kernel at the end of each statement and takes it again, zero-filled page by page,
// in the next: under load those page faults were about 8 % of the database's CPU time. These
// keep up to 256 MiB of a backend's freed heap (a backend's heap peaks at a few MiB here) and
// stop large allocations from being mapped and unmapped one by one. A variable already set in
// our environment is left as it is.
std::vector<std::string> ServerMallocEnv() {
  std::vector<std::string> env;
  for (const auto& [name, value] :
       {std::pair{"MALLOC_TRIM_THRESHOLD_", "268435456"}, std::pair{"MALLOC_TOP_PAD_", "16777216"},
        std::pair{"MALLOC_MMAP_THRESHOLD_", "33554432"}}) {
    if (std::getenv(name) == nullptr) env.push_back(std::string(name) + "=" + value);
  }
  return env;
}

}  // namespace

EmbeddedPostgres::EmbeddedPostgres(EmbeddedPostgresOptions options) : options_(std::move(options)) {
  fs::path data = fs::absolute(options_.data_dir);
  cluster_dir_ = data / "pg";
  socket_dir_ = data / "run";
  if (socket_dir_.string().size() > kMaxSocketDir) {
    // Too long for a Unix socket path: use a short directory named after the data dir.
    socket_dir_ =
        fs::path("/tmp") / ("bizrelay-" + std::to_string(std::hash<std::string>{}(data.string())));
  }
  log_path_ = data / "postgresql.log";
  bin_dir_ = options_.bin_dir.empty() ? FindBinDir() : options_.bin_dir;
}

EmbeddedPostgres::~EmbeddedPostgres() {
  try {
    Stop();
  } catch (...) {
  }
}

std::string EmbeddedPostgres::Tool(const std::string& name) const {
  return (fs::path(bin_dir_) / name).string();
}

std::string EmbeddedPostgres::RunAs() const { return RunningAsRoot() ? options_.run_as_user : ""; }

int EmbeddedPostgres::Run(const std::vector<std::string>& argv) const {
  return RunCommand(argv, log_path_.string(), RunAs());
}

void EmbeddedPostgres::Start() {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
  }
  fs::create_directories(cluster_dir_.parent_path());
  fs::create_directories(socket_dir_);
  fs::create_directories(cluster_dir_);
  fs::permissions(cluster_dir_, fs::perms::owner_all, fs::perm_options::replace);
  fs::permissions(socket_dir_, fs::perms::owner_all, fs::perm_options::replace);
  if (!RunAs().empty()) {
    ChownTo(cluster_dir_, RunAs());
    ChownTo(socket_dir_, RunAs());
    // The log is written by the server's user too.
    if (!fs::exists(log_path_)) {
      RunCommand({"touch", log_path_.string()}, "");
    }
    ChownTo(log_path_, RunAs());
    if (RunCommand({"test", "-w", cluster_dir_.string()}, "", RunAs()) != 0) {
      throw std::runtime_error("user '" + RunAs() + "' cannot reach " + cluster_dir_.string() +
                               ": choose a data directory outside private home folders");
    }
  }

  if (!fs::exists(cluster_dir_ / "PG_VERSION")) {
    spdlog::info("event=embedded_postgres_init dir={}", cluster_dir_.string());
    int rc = Run({Tool("initdb"), "-D", cluster_dir_.string(), "-U", kEmbeddedSuperuser,
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8"});
    if (rc != 0) throw std::runtime_error("initdb failed; see " + log_path_.string());
  }

  // A server left running by a killed earlier owner is stopped first.
  if (Run({Tool("pg_ctl"), "status", "-D", cluster_dir_.string()}) == 0) {
    spdlog::warn("event=embedded_postgres_stale_server dir={}", cluster_dir_.string());
    Run({Tool("pg_ctl"), "stop", "-D", cluster_dir_.string(), "-m", "fast", "-w"});
  }

  StartServer();

  pqxx::connection admin(ConnInfo("postgres"));
  pqxx::nontransaction tx(admin);
  auto exists = tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", options_.database);
  if (exists.empty()) {
    tx.exec0("CREATE DATABASE " + tx.quote_name(options_.database));
  }
  spdlog::info("event=embedded_postgres_started socket_dir={}", socket_dir_.string());
}

void EmbeddedPostgres::StartServer() {
  // New WAL segments are created sparse rather than zero-filled: filling 16 MB happens while
  // the WAL write lock is held, so under load every commit stalled for it once per segment
  // (about once a second at 12,000 sends/s). Durability is unchanged: each commit still waits
  // for fdatasync, which then also records the blocks it allocated.
  std::string server_opts = "-c listen_addresses='' -c unix_socket_directories='" +
                            socket_dir_.string() +
                            "' -c unix_socket_permissions=0700 -c wal_init_zero=off";
  for (const auto& s : options_.settings) server_opts += " -c " + s;
  int rc = RunCommand({Tool("pg_ctl"), "start", "-D", cluster_dir_.string(), "-w", "-t", "60", "-l",
                       log_path_.string(), "-o", server_opts},
                      log_path_.string(), RunAs(), ServerMallocEnv());
  if (rc != 0) throw std::runtime_error("PostgreSQL did not start; see " + log_path_.string());
  std::lock_guard lock(mu_);
  running_ = true;
}

bool EmbeddedPostgres::PostmasterAlive() const {
  std::ifstream pid_file(cluster_dir_ / "postmaster.pid");
  pid_t pid = 0;
  if (!(pid_file >> pid) || pid <= 0) return false;
  // /proc/<pid>/stat: "pid (comm) state ppid ...". A killed postmaster whose parent has not
  // reaped it yet is a zombie: dead, although kill(pid, 0) still succeeds.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return false;
  char state = line[close + 2];
  if (state != 'Z' && state != 'X') return true;
  // A zombie left to us (we are its reaper, e.g. as PID 1 of a container) is reaped, or its
  // PID in postmaster.pid would keep the new postmaster from starting.
  if (std::atoi(line.c_str() + close + 4) == getpid()) waitpid(pid, nullptr, WNOHANG);
  return false;
}

void EmbeddedPostgres::Supervise(metrics::Counter* restarts, std::function<void()> on_death) {
  supervisor_ = std::thread(
      [this, restarts, on_death = std::move(on_death)] { SuperviseLoop(restarts, on_death); });
}

void EmbeddedPostgres::SuperviseLoop(metrics::Counter* restarts,
                                     const std::function<void()>& on_death) {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, kSupervisePoll, [this] { return stopping_; })) {
    lock.unlock();
    bool alive = PostmasterAlive();
    lock.lock();
    if (alive || stopping_) continue;
    auto died = std::chrono::steady_clock::now();
    spdlog::error("event=embedded_postgres_died dir={} log={}", cluster_dir_.string(),
                  log_path_.string());
    running_ = false;
    if (on_death) on_death();
    auto backoff = std::chrono::duration_cast<std::chrono::milliseconds>(kFirstRestartBackoff);
    for (int attempt = 1; !stopping_; ++attempt) {
      try {
        // Stop joins this thread before it stops the server, so it never races this start.
        lock.unlock();
        // A dead postmaster that its parent has not reaped yet still "exists" for the new
        // one's lock-file checks (data directory and socket), which would refuse to start
        // until the zombie is gone. It is dead (checked above), so its lock files go;
        // PostgreSQL's shared-memory interlock still refuses to start while any of its old
        // backends lives.
        if (!PostmasterAlive()) {
          std::error_code ec;
          fs::remove(cluster_dir_ / "postmaster.pid", ec);
          fs::remove(socket_dir_ / ".s.PGSQL.5432.lock", ec);
        }
        StartServer();
        lock.lock();
        auto down_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - died)
                           .count();
        spdlog::warn("event=embedded_postgres_restarted attempt={} down_ms={}", attempt, down_ms);
        if (restarts != nullptr) restarts->Add();
        break;
      } catch (const std::exception& e) {
        lock.lock();
        spdlog::warn(
            "event=embedded_postgres_restart_failed attempt={} retry_in_ms={} error=\"{}\"",
            attempt, backoff.count(), e.what());
        cv_.wait_for(lock, backoff, [this] { return stopping_; });
        backoff = std::min(
            backoff * 2, std::chrono::duration_cast<std::chrono::milliseconds>(kMaxRestartBackoff));
      }
    }
  }
}

void EmbeddedPostgres::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    running_ = false;
  }
  Run({Tool("pg_ctl"), "stop", "-D", cluster_dir_.string(), "-m", "fast", "-w", "-t", "60"});
  spdlog::info("event=embedded_postgres_stopped");
}

std::string EmbeddedPostgres::ConnInfo(const std::string& database) const {
  return "host=" + socket_dir_.string() + " dbname=" + database + " user=" + kEmbeddedSuperuser;
}

}  // namespace bizrelay::store
