#include "services/store/testing/test_postgres.h"

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>

namespace bizrelay::store::testing {
namespace {

struct Cluster {
  std::filesystem::path dir;
  std::unique_ptr<EmbeddedPostgres> pg;
  ~Cluster() {
    pg.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Cluster& Instance() {
  static Cluster* cluster = [] {
    auto* c = new Cluster;
    char tmpl[] = "/tmp/bizrelay-test-XXXXXX";
    c->dir = mkdtemp(tmpl);
    std::filesystem::permissions(c->dir, std::filesystem::perms::owner_all |
                                             std::filesystem::perms::group_exec |
                                             std::filesystem::perms::others_exec);
    EmbeddedPostgresOptions options;
    options.data_dir = c->dir;
    options.settings = {"max_connections=200", "shared_buffers=64MB"};
    c->pg = std::make_unique<EmbeddedPostgres>(options);
    c->pg->Start();
    std::atexit([] { delete cluster; });
    return c;
  }();
  return *cluster;
}

}  // namespace

EmbeddedPostgres& TestCluster() { return *Instance().pg; }

std::string FreshDatabase() {
  static std::mutex mu;
  static int counter = 0;
  std::lock_guard lock(mu);
  std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  pqxx::connection admin(TestCluster().ConnInfo("postgres"));
  pqxx::nontransaction tx(admin);
  tx.exec0("CREATE DATABASE " + tx.quote_name(name));
  return TestCluster().ConnInfo(name);
}

}  // namespace bizrelay::store::testing
