#include "bench/media_phase.h"

#include <cstdio>
#include <memory>
#include <pqxx/pqxx>

#include "bench/server_process.h"
#include "bench/setup.h"
#include "bench/stats.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/platform/token.h"

namespace bizrelay::bench {
namespace {

constexpr size_t kUploadChunk = 128 << 10;
// What the relay stores per row, and per transaction, so the baseline writes alike.
constexpr size_t kStorageChunk = 256 << 10;
constexpr size_t kChunksPerTransaction = 4;

constexpr const char* kCreateBaseline =
    "CREATE TABLE IF NOT EXISTS public.bench_media_baseline ("
    "  media_id uuid NOT NULL, idx integer NOT NULL, body bytea NOT NULL, "
    "  PRIMARY KEY (media_id, idx)); "
    "ALTER TABLE public.bench_media_baseline ALTER COLUMN body SET STORAGE EXTERNAL";
constexpr const char* kInsertBaseline =
    "INSERT INTO public.bench_media_baseline (media_id, idx, body) "
    "SELECT $1::uuid, $2 + c.ord - 1, substring($3::bytea FROM c.s + 1 FOR c.l) "
    "FROM unnest($4::int[], $5::int[]) WITH ORDINALITY AS c(s, l, ord)";
constexpr const char* kReadBaseline =
    "SELECT body FROM public.bench_media_baseline WHERE media_id = $1::uuid AND idx = $2";

double MiBPerSecond(size_t bytes, int64_t ns) {
  return ns > 0 ? static_cast<double>(bytes) / (1 << 20) / (static_cast<double>(ns) / 1e9) : 0;
}

void Bearer(grpc::ClientContext* ctx, const std::string& token) {
  ctx->AddMetadata("authorization", "Bearer " + token);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
}

std::string Document(size_t bytes) {
  std::string out = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n";
  std::string noise = RandomBytes(1 << 20);
  while (out.size() < bytes) out += noise;
  out.resize(bytes);
  return out;
}

std::string IntArray(const std::vector<size_t>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
  return out + "}";
}

double DirectWrite(const std::string& conninfo, const std::string& id, const std::string& doc) {
  pqxx::connection conn(conninfo);
  int64_t t0 = NowNs();
  for (size_t at = 0, idx = 0; at < doc.size();) {
    std::string packed;
    std::vector<size_t> starts, lengths;
    size_t first = idx;
    for (size_t k = 0; k < kChunksPerTransaction && at < doc.size(); ++k, ++idx) {
      size_t n = std::min(kStorageChunk, doc.size() - at);
      starts.push_back(packed.size());
      lengths.push_back(n);
      packed.append(doc, at, n);
      at += n;
    }
    pqxx::work tx(conn);
    tx.exec_params0(kInsertBaseline, id, static_cast<int64_t>(first), pqxx::binarystring(packed),
                    IntArray(starts), IntArray(lengths));
    tx.commit();
  }
  return MiBPerSecond(doc.size(), NowNs() - t0);
}

double DirectRead(const std::string& conninfo, const std::string& id, const std::string& doc) {
  pqxx::connection conn(conninfo);
  std::string got;
  int64_t t0 = NowNs();
  for (int64_t idx = 0; got.size() < doc.size(); ++idx) {
    pqxx::nontransaction tx(conn);
    got += pqxx::binarystring(tx.exec_params1(kReadBaseline, id, idx)[0]).str();
  }
  double rate = MiBPerSecond(doc.size(), NowNs() - t0);
  if (got != doc) throw std::runtime_error("media: the baseline read back other bytes");
  return rate;
}

}  // namespace

MediaResult RunMediaPhase(const MediaOptions& o) {
  MediaResult res;
  std::vector<std::string> args = o.server_args;
  ServerProcess server(o.bizrelayd, args);
  server.Start(std::chrono::seconds(120));
  res.argv = server.argv();
  std::string target = "127.0.0.1:" + std::to_string(server.public_port());
  auto operator_channel = MakeChannel("127.0.0.1:" + std::to_string(server.operator_port()));
  auto channel = MakeChannel(target);
  auto businesses = CreateBusinesses(operator_channel, server.OperatorToken(), 1, 1);
  auto users = CreateUsers(channel, businesses, 1, 1);
  auto chat = v1::UserChatService::NewStub(channel);
  auto business = v1::BusinessService::NewStub(channel);
  {
    pqxx::connection conn(server.ConnInfo());
    pqxx::nontransaction tx(conn);
    tx.exec0(kCreateBaseline);
  }
  const size_t bytes = static_cast<size_t>(o.file_mib) << 20;
  std::printf("media: %d MiB document, %d run(s), server pid %d\n", o.file_mib, o.runs,
              server.pid());
  std::fflush(stdout);

  for (int run = 0; run < o.runs; ++run) {
    const std::string doc = Document(bytes);
    const std::string sha = Sha256(doc);
    MediaRun r;
    // Through the relay: upload (sealed, committed) ...
    v1::UploadMediaResponse uploaded;
    {
      grpc::ClientContext ctx;
      Bearer(&ctx, users[0].token);
      int64_t t0 = NowNs();
      auto writer = chat->UploadMedia(&ctx, &uploaded);
      v1::UploadMediaRequest header;
      header.mutable_header()->set_mime_type("application/pdf");
      header.mutable_header()->set_size_bytes(static_cast<int64_t>(bytes));
      header.mutable_header()->set_business_id(users[0].business_id);
      bool open = writer->Write(header);
      for (size_t at = 0; open && at < bytes; at += kUploadChunk) {
        v1::UploadMediaRequest part;
        part.set_chunk(doc.substr(at, kUploadChunk));
        open = writer->Write(part);
      }
      writer->WritesDone();
      grpc::Status s = writer->Finish();
      if (!s.ok()) throw std::runtime_error("media: upload failed: " + s.error_message());
      r.upload_mib_s = MiBPerSecond(bytes, NowNs() - t0);
      if (uploaded.media().sha256() != sha) throw std::runtime_error("media: SHA-256 differs");
    }
    {
      grpc::ClientContext ctx;
      Bearer(&ctx, users[0].token);
      v1::SendMessageRequest req;
      req.set_business_id(users[0].business_id);
      req.set_media_id(uploaded.media().media_id());
      req.set_idempotency_key("bench-media-" + std::to_string(run));
      v1::SendMessageResponse resp;
      grpc::Status s = chat->SendMessage(&ctx, req, &resp);
      if (!s.ok()) throw std::runtime_error("media: send failed: " + s.error_message());
    }
    // ... and download (opened, streamed).
    {
      grpc::ClientContext ctx;
      Bearer(&ctx, businesses[0].api_key);
      v1::BusinessServiceDownloadMediaRequest req;
      req.set_media_id(uploaded.media().media_id());
      std::string got;
      got.reserve(bytes);
      int64_t t0 = NowNs();
      auto reader = business->DownloadMedia(&ctx, req);
      v1::BusinessServiceDownloadMediaResponse part;
      while (reader->Read(&part)) got += part.chunk();
      grpc::Status s = reader->Finish();
      r.download_mib_s = MiBPerSecond(bytes, NowNs() - t0);
      if (!s.ok()) throw std::runtime_error("media: download failed: " + s.error_message());
      if (Sha256(got) != sha) throw std::runtime_error("media: downloaded bytes differ");
    }
    // The same bytes straight into PostgreSQL and back, in the same run.
    const std::string id = uploaded.media().media_id();
    r.direct_write_mib_s = DirectWrite(server.ConnInfo(), id, doc);
    r.direct_read_mib_s = DirectRead(server.ConnInfo(), id, doc);
    std::printf(
        "media run %d: upload %.1f MiB/s, download %.1f MiB/s; PostgreSQL directly: write "
        "%.1f MiB/s, read %.1f MiB/s\n",
        run + 1, r.upload_mib_s, r.download_mib_s, r.direct_write_mib_s, r.direct_read_mib_s);
    std::fflush(stdout);
    res.runs.push_back(r);
  }
  auto median = [&](double MediaRun::*field) {
    std::vector<double> v;
    for (const auto& r : res.runs) v.push_back(r.*field);
    return Median(v);
  };
  res.median.upload_mib_s = median(&MediaRun::upload_mib_s);
  res.median.download_mib_s = median(&MediaRun::download_mib_s);
  res.median.direct_write_mib_s = median(&MediaRun::direct_write_mib_s);
  res.median.direct_read_mib_s = median(&MediaRun::direct_read_mib_s);
  server.Stop();
  return res;
}

void ReportMedia(const MediaResult& r) {
  const MediaRun& m = r.median;
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0; };
  std::printf("media (medians of %zu runs):\n", r.runs.size());
  std::printf(
      "  upload   %.1f MiB/s  vs writing the same bytes to PostgreSQL directly %.1f MiB/s "
      "(ratio %.2f)\n",
      m.upload_mib_s, m.direct_write_mib_s, ratio(m.upload_mib_s, m.direct_write_mib_s));
  std::printf("  download %.1f MiB/s  vs reading them directly %.1f MiB/s (ratio %.2f)\n",
              m.download_mib_s, m.direct_read_mib_s, ratio(m.download_mib_s, m.direct_read_mib_s));
}

nlohmann::json ToJson(const MediaResult& r) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& x : r.runs) {
    runs.push_back({{"upload_mib_s", x.upload_mib_s},
                    {"download_mib_s", x.download_mib_s},
                    {"direct_write_mib_s", x.direct_write_mib_s},
                    {"direct_read_mib_s", x.direct_read_mib_s}});
  }
  return {{"argv", r.argv},
          {"runs", runs},
          {"median",
           {{"upload_mib_s", r.median.upload_mib_s},
            {"download_mib_s", r.median.download_mib_s},
            {"direct_write_mib_s", r.median.direct_write_mib_s},
            {"direct_read_mib_s", r.median.direct_read_mib_s}}}};
}

}  // namespace bizrelay::bench
