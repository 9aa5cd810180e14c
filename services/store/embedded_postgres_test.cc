#include "services/store/embedded_postgres.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>

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

}  // namespace
}  // namespace bizrelay::store
