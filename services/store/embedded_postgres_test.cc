#include "services/store/embedded_postgres.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <iterator>
#include <pqxx/pqxx>
#include <thread>

#include "services/store/process.h"

namespace bizrelay::store {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bizrelay-emb-XXXXXX";
    path_ = mkdtemp(tmpl);
    std::filesystem::permissions(path_, std::filesystem::perms::others_exec,
                                 std::filesystem::perm_options::add);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(EmbeddedPostgresTest, CreatesStartsStopsAndKeepsDataAcrossRestarts) {
  TempDir dir;
  EmbeddedPostgresOptions options{.data_dir = dir.path()};
  {
    EmbeddedPostgres pg(options);
    pg.Start();
    pqxx::connection c(pg.ConnInfo());
    pqxx::work tx(c);
    tx.exec0("CREATE TABLE kept (v text)");
    tx.exec0("INSERT INTO kept VALUES ('still here')");
    tx.commit();
  }
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "pg" / "PG_VERSION"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "pg" / "postmaster.pid"));
  {
    EmbeddedPostgres pg(options);
    pg.Start();
    pqxx::connection c(pg.ConnInfo());
    pqxx::nontransaction tx(c);
    EXPECT_EQ(tx.exec1("SELECT v FROM kept")[0].as<std::string>(), "still here");
  }
}

TEST(EmbeddedPostgresTest, TakesOverAServerLeftRunning) {
  TempDir dir;
  EmbeddedPostgresOptions options{.data_dir = dir.path()};
  EmbeddedPostgres first(options);
  first.Start();
  // A second owner (as after a crash of the first) stops the old server and starts anew.
  EmbeddedPostgres second(options);
  second.Start();
  pqxx::connection c(second.ConnInfo());
  EXPECT_TRUE(c.is_open());
}

TEST(EmbeddedPostgresTest, ServerKeepsFreedMemoryInsteadOfReturningItPerStatement) {
  TempDir dir;
  EmbeddedPostgres pg(EmbeddedPostgresOptions{.data_dir = dir.path()});
  pg.Start();
  std::ifstream pid_file(dir.path() / "pg" / "postmaster.pid");
  std::string pid;
  std::getline(pid_file, pid);
  ASSERT_FALSE(pid.empty());
  std::ifstream environ_file("/proc/" + pid + "/environ");
  std::string environ_text((std::istreambuf_iterator<char>(environ_file)),
                           std::istreambuf_iterator<char>());
  EXPECT_NE(environ_text.find("MALLOC_TRIM_THRESHOLD_=268435456"), std::string::npos);
  EXPECT_NE(environ_text.find("MALLOC_MMAP_THRESHOLD_="), std::string::npos);
}

pid_t PostmasterPid(const std::filesystem::path& data_dir) {
  std::ifstream pid_file(data_dir / "pg" / "postmaster.pid");
  pid_t pid = 0;
  pid_file >> pid;
  return pid;
}

TEST(EmbeddedPostgresTest, SupervisorStartsAKilledServerAgainWithItsData) {
  TempDir dir;
  EmbeddedPostgres pg(EmbeddedPostgresOptions{.data_dir = dir.path()});
  pg.Start();
  {
    pqxx::connection c(pg.ConnInfo());
    pqxx::work tx(c);
    tx.exec0("CREATE TABLE kept (v text)");
    tx.exec0("INSERT INTO kept VALUES ('committed before the crash')");
    tx.commit();
  }
  metrics::Counter restarts;
  pg.Supervise(&restarts);
  pid_t first = PostmasterPid(dir.path());
  ASSERT_GT(first, 0);
  ASSERT_EQ(kill(first, SIGKILL), 0);
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (restarts.value() == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(restarts.value(), 1u);
  EXPECT_TRUE(pg.PostmasterAlive());
  EXPECT_NE(PostmasterPid(dir.path()), first);
  pqxx::connection c(pg.ConnInfo());
  pqxx::nontransaction tx(c);
  EXPECT_EQ(tx.exec1("SELECT v FROM kept")[0].as<std::string>(), "committed before the crash");
  pg.Stop();
  EXPECT_FALSE(pg.PostmasterAlive());
  EXPECT_EQ(restarts.value(), 1u) << "a stop is not a crash";
}

TEST(RunCommandTest, ExtraEnvironmentAddsAndOverrides) {
  setenv("BIZRELAY_RUN_COMMAND_TEST", "outer", 1);
  EXPECT_EQ(RunCommand({"sh", "-c", "test \"$BIZRELAY_RUN_COMMAND_TEST\" = outer"}, ""), 0);
  EXPECT_EQ(RunCommand({"sh", "-c", "test \"$BIZRELAY_RUN_COMMAND_TEST\" = inner"}, "", "",
                       {"BIZRELAY_RUN_COMMAND_TEST=inner"}),
            0);
  EXPECT_EQ(RunCommand({"sh", "-c", "test \"$BIZRELAY_RUN_COMMAND_TEST_2\" = added"}, "", "",
                       {"BIZRELAY_RUN_COMMAND_TEST_2=added"}),
            0);
  EXPECT_NE(RunCommand({"sh", "-c", "test -n \"$BIZRELAY_RUN_COMMAND_TEST_2\""}, ""), 0);
  unsetenv("BIZRELAY_RUN_COMMAND_TEST");
}

}  // namespace
}  // namespace bizrelay::store
