#include "services/bizrelayd/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

namespace bizrelay::daemon {
namespace {

LoadResult Load(std::vector<const char*> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "bizrelayd");
  return LoadConfig(static_cast<int>(args.size()), args.data(), env);
}

std::string WriteYaml(const std::string& text) {
  std::string path = ::testing::TempDir() + "/bizrelay_config_test.yaml";
  std::ofstream(path) << text;
  return path;
}

TEST(ConfigTest, DefaultsNeedTlsOrPlaintext) {
  auto r = Load({});
  EXPECT_EQ(r.outcome, LoadResult::Outcome::kError);
  EXPECT_NE(r.message.find("tls.cert_file"), std::string::npos);
  r = Load({"--tls-plaintext", "true"});
  ASSERT_EQ(r.outcome, LoadResult::Outcome::kOk) << r.message;
  EXPECT_EQ(r.config.listen_operator, "127.0.0.1:7002");
  EXPECT_EQ(r.config.listen_metrics, "127.0.0.1:7003") << "metrics stay on loopback by default";
  EXPECT_EQ(r.config.health_probe_interval_ms, 1000);
  EXPECT_EQ(r.config.database_pool_size, 8);
  EXPECT_TRUE(r.config.HasRole("hosting"));
  EXPECT_TRUE(r.config.HasRole("operator"));
}

TEST(ConfigTest, MetricsCanBeTurnedOffWithAnEmptyAddress) {
  auto r = Load({"--tls-plaintext", "true", "--listen-metrics", ""});
  ASSERT_EQ(r.outcome, LoadResult::Outcome::kOk) << r.message;
  EXPECT_EQ(r.config.listen_metrics, "");
  r = Load({"--tls-plaintext", "true", "--health-probe-interval-ms", "10"});
  EXPECT_EQ(r.outcome, LoadResult::Outcome::kError);
  EXPECT_NE(r.message.find("health.probe_interval_ms"), std::string::npos);
}

TEST(ConfigTest, MediaLimitsAndAllowlist) {
  auto r = Load({"--tls-plaintext", "true"});
  ASSERT_EQ(r.outcome, LoadResult::Outcome::kOk) << r.message;
  EXPECT_EQ(r.config.media_max_image_bytes, 5 << 20);
  EXPECT_EQ(r.config.media_max_audio_bytes, 16 << 20);
  EXPECT_EQ(r.config.media_max_video_bytes, 16 << 20);
  EXPECT_EQ(r.config.media_max_document_bytes, 100 << 20);
  EXPECT_EQ(r.config.media_unattached_ttl_seconds, 900);
  EXPECT_NE(std::find(r.config.media_allowed_types.begin(), r.config.media_allowed_types.end(),
                      "application/pdf"),
            r.config.media_allowed_types.end());
  // A list in the file, a list in the environment.
  r = Load({"--config", WriteYaml("tls: {plaintext: true}\nmedia:\n  allowed_types: [image/png, "
                                  "application/pdf]\n")
                            .c_str()});
  ASSERT_EQ(r.outcome, LoadResult::Outcome::kOk) << r.message;
  EXPECT_EQ(r.config.media_allowed_types,
            (std::vector<std::string>{"image/png", "application/pdf"}));
  r = Load({"--tls-plaintext", "true"}, {{"BIZRELAY_MEDIA_ALLOWED_TYPES", "text/plain"}});
  ASSERT_EQ(r.outcome, LoadResult::Outcome::kOk) << r.message;
  EXPECT_EQ(r.config.media_allowed_types, std::vector<std::string>{"text/plain"});
  r = Load({"--tls-plaintext", "true", "--media-allowed-types", "pdf"});
  EXPECT_EQ(r.outcome, LoadResult::Outcome::kError);
  EXPECT_NE(r.message.find("media.allowed_types"), std::string::npos);
  // A chunk must fit in a gRPC message.
  r = Load({"--tls-plaintext", "true", "--media-max-chunk-bytes", "262144"});
  EXPECT_EQ(r.outcome, LoadResult::Outcome::kError);
  EXPECT_NE(r.message.find("media.max_chunk_bytes"), std::string::npos);
  r = Load({"--tls-plaintext", "true", "--media-max-chunk-bytes", "262144",
            "--limits-max-message-bytes", "1048576"});
  EXPECT_EQ(r.outcome, LoadResult::Outcome::kOk) << r.message;
}

TEST(ConfigTest, FlagBeatsEnvironmentBeatsFile) {
  std::string file = WriteYaml("tls:\n  plaintext: true\ndatabase:\n  pool_size: 3\n");
  auto r = Load({"--config", file.c_str()});
  ASSERT_EQ(r.outcome, LoadResult::Outcome::kOk) << r.message;
  EXPECT_EQ(r.config.database_pool_size, 3);
  r = Load({"--config", file.c_str()}, {{"BIZRELAY_DATABASE_POOL_SIZE", "5"}});
  EXPECT_EQ(r.config.database_pool_size, 5);
  r = Load({"--config", file.c_str(), "--database-pool-size", "7"},
           {{"BIZRELAY_DATABASE_POOL_SIZE", "5"}});
  EXPECT_EQ(r.config.database_pool_size, 7);
}

TEST(ConfigTest, UnknownKeysAndBadValuesNameTheKey) {
  auto r = Load({"--config", WriteYaml("tls:\n  plaintext: true\ndatabse:\n  url: x\n").c_str()});
  EXPECT_EQ(r.outcome, LoadResult::Outcome::kError);
  EXPECT_NE(r.message.find("databse.url"), std::string::npos);

  r = Load({"--tls-plaintext", "true", "--database-pool-size", "many"});
  EXPECT_EQ(r.outcome, LoadResult::Outcome::kError);
  EXPECT_NE(r.message.find("database.pool_size"), std::string::npos);

  r = Load({"--tls-plaintext", "true", "--database-pool-size", "0"});
  EXPECT_EQ(r.outcome, LoadResult::Outcome::kError);

  r = Load({"--tls-plaintext", "maybe"});
  EXPECT_NE(r.message.find("tls.plaintext"), std::string::npos);

  r = Load({"--tls-plaintext", "true", "--roles", "hosting,teleport"});
  EXPECT_NE(r.message.find("roles"), std::string::npos);

  r = Load({"--tls-plaintext", "true"}, {{"BIZRELAY_DATABSE_URL", "x"}});
  EXPECT_NE(r.message.find("BIZRELAY_DATABSE_URL"), std::string::npos);

  r = Load({"--no-such-flag"});
  EXPECT_EQ(r.outcome, LoadResult::Outcome::kError);
}

TEST(ConfigTest, HelpListsEveryOption) {
  auto r = Load({"--help"});
  ASSERT_EQ(r.outcome, LoadResult::Outcome::kHelp);
  for (const char* flag : {"--database-url", "--tls-client-ca-file", "--limits-max-message-bytes",
                           "--shutdown-grace-ms", "--roles", "BIZRELAY_DATABASE_URL"}) {
    EXPECT_NE(r.message.find(flag), std::string::npos) << flag;
  }
}

TEST(ConfigTest, RolesSubset) {
  auto r = Load({"--tls-plaintext", "true", "--roles", "operator"});
  ASSERT_EQ(r.outcome, LoadResult::Outcome::kOk);
  EXPECT_FALSE(r.config.HasRole("hosting"));
  EXPECT_TRUE(r.config.HasRole("operator"));
}

}  // namespace
}  // namespace bizrelay::daemon
