#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bizrelay::bench {

// Ingest through the hosting write path in process (MessageRepository::PostUserMessages, the
// statement sequence of bizrelayd's group commit), with message bodies sealed (AES-256-GCM with
// each business's data key, as stored) against the same path storing them unsealed, on one
// database in alternating runs. gRPC is left out, so what sealing costs shows at its largest.
struct IngestOptions {
  std::string bizrelayd;
  std::vector<std::string> server_args;  // the user's --server-arg values
  int businesses = 16;
  int users = 256;
  int writers = 2;  // connections writing at once, each its own businesses (as bizrelayd's)
  int batch = 128;  // messages per transaction
  size_t text_bytes = 100;
  double warmup_seconds = 2;
  double seconds = 5;
  int runs = 3;
  int setup_threads = 8;
};

struct IngestResult {
  std::vector<std::string> argv;
  std::vector<double> sealed, unsealed;  // msgs/s per run
  double sealed_median = 0;
  double unsealed_median = 0;
  double ratio = 0;  // sealed / unsealed
};

IngestResult RunIngestPhase(const IngestOptions& o);
nlohmann::json ToJson(const IngestResult& r);

}  // namespace bizrelay::bench
