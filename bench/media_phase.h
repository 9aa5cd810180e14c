#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace bizrelay::bench {

struct MediaOptions {
  std::string bizrelayd;
  std::vector<std::string> server_args;  // the user's --server-arg values
  int file_mib = 32;                     // size of the document moved in each run
  int runs = 5;
};

// One run: the same bytes through the relay and straight into PostgreSQL.
struct MediaRun {
  double upload_mib_s = 0;        // UploadMedia, 128 KiB messages, until the answer (committed)
  double download_mib_s = 0;      // DownloadMedia from offset 0 to the last byte
  double direct_write_mib_s = 0;  // INSERT of 256 KiB bytea rows, 4 per transaction
  double direct_read_mib_s = 0;   // SELECT of those rows, one per statement
};

struct MediaResult {
  std::vector<std::string> argv;
  std::vector<MediaRun> runs;
  MediaRun median;
};

// Starts a bizrelayd of its own (embedded PostgreSQL), one business and one user with a chat,
// and per run: the user uploads a `file_mib` MiB PDF and sends it, the business downloads it
// (SHA-256 checked), and the bench writes and reads the same bytes in the same chunking to a
// table of its own in the same database as its superuser, without sealing (the baseline).
MediaResult RunMediaPhase(const MediaOptions& o);
void ReportMedia(const MediaResult& r);
nlohmann::json ToJson(const MediaResult& r);

}  // namespace bizrelay::bench
