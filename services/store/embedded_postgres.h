#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "services/metrics/metrics.h"

namespace bizrelay::store {

struct EmbeddedPostgresOptions {
  // The cluster lives in <data_dir>/pg, its Unix socket in <data_dir>/run.
  std::filesystem::path data_dir;
  // Directory holding initdb, pg_ctl and postgres; empty: the newest /usr/lib/postgresql/*/bin.
  std::string bin_dir;
  // When started as root, the cluster runs as this user (PostgreSQL refuses to run as root).
  std::string run_as_user = "postgres";
  // The database created for bizrelay on first start.
  std::string database = "bizrelay";
  // Extra `-c name=value` settings for the server.
  std::vector<std::string> settings;
};

// A private PostgreSQL cluster that bizrelay creates (first start), starts and stops itself. It
// listens only on a Unix socket in a directory only its owner can enter, and trusts local
// connections; nothing else can reach it.
//
// Supervision: after Supervise, a thread checks the postmaster every 200 ms and, if it has
// died (crash, OOM kill, SIGKILL), starts it again, retrying with backoff (250 ms doubling to
// 5 s) until it runs; each death, attempt and restart is logged. Clients see broken
// connections meanwhile and reconnect (DbPool does). Start, Supervise and Stop are called by
// one owner thread; Stop joins the supervisor before it stops the server, so a stop never
// races a restart.
class EmbeddedPostgres {
 public:
  explicit EmbeddedPostgres(EmbeddedPostgresOptions options);
  ~EmbeddedPostgres();
  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  // Creates the cluster if absent, stops a server left running by a crashed earlier owner,
  // starts the server and waits until it accepts connections, then creates the database.
  // Throws std::runtime_error with the log path on failure.
  void Start();
  // Starts the supervisor thread (see above); `restarts`, if not null, counts restarts.
  // `on_death`, if set, is called on the supervisor thread as soon as a death is seen, before
  // the restart (for example to report NOT_SERVING at once); it must not call back into this.
  void Supervise(metrics::Counter* restarts = nullptr, std::function<void()> on_death = {});
  // Stops the supervisor, then the server (fast shutdown); waits for the server to exit. Safe
  // to call twice.
  void Stop();
  // True if the postmaster process of the cluster is running (not a zombie).
  bool PostmasterAlive() const;

  // A libpq connection string for `database` as the cluster superuser.
  std::string ConnInfo(const std::string& database) const;
  std::string ConnInfo() const { return ConnInfo(options_.database); }
  const std::filesystem::path& log_path() const { return log_path_; }

 private:
  std::string Tool(const std::string& name) const;
  std::string RunAs() const;
  int Run(const std::vector<std::string>& argv) const;
  // Starts the server (pg_ctl start -w); throws std::runtime_error if it did not start.
  void StartServer();
  void SuperviseLoop(metrics::Counter* restarts, const std::function<void()>& on_death);

  EmbeddedPostgresOptions options_;
  std::filesystem::path cluster_dir_;
  std::filesystem::path socket_dir_;
  std::filesystem::path log_path_;
  std::string bin_dir_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;   // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread supervisor_;
};

// The superuser name of embedded clusters.
inline constexpr const char* kEmbeddedSuperuser = "bizrelay";

}  // namespace bizrelay::store
