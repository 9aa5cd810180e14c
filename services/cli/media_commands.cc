#include "services/cli/media_commands.h"

#include <filesystem>
#include <fstream>

#include "services/media/content_type.h"

namespace bizrelay::cli {
namespace {

// Chunks sent per upload message: the relay's default media.max_chunk_bytes.
constexpr size_t kUploadChunk = 128 << 10;

std::string ReadHead(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(media::kSniffBytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

// Streams the file to the relay: the header, then the file in chunks.
template <typename Request, typename Response, typename Open>
v1::MediaInfo UploadFile(const Session& session, const std::string& path,
                         const std::string& mime_type, const std::string& business_id, Open open) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("cannot read " + path);
  int64_t size = static_cast<int64_t>(std::filesystem::file_size(path));
  Response response;
  grpc::Status status = session.Stream([&](grpc::ClientContext* ctx) {
    auto writer = open(ctx, &response);
    Request header;
    header.mutable_header()->set_mime_type(mime_type);
    header.mutable_header()->set_size_bytes(size);
    header.mutable_header()->set_business_id(business_id);
    bool open_stream = writer->Write(header);
    std::string buffer(kUploadChunk, '\0');
    while (open_stream && in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      auto n = static_cast<size_t>(in.gcount());
      if (n == 0) break;
      Request part;
      part.set_chunk(buffer.data(), n);
      open_stream = writer->Write(part);
    }
    writer->WritesDone();
    return writer->Finish();
  });
  if (!status.ok()) throw RpcError(std::move(status));
  return response.media();
}

}  // namespace

std::string DeclaredType(const std::string& given, const std::string& head) {
  return given.empty() ? media::DetectMimeType(head) : given;
}

int MediaCommands::Do(const SendFile& request) {
  std::string type = DeclaredType(request.mime_type, ReadHead(request.path));
  v1::MediaInfo media = UploadFile<v1::UploadMediaRequest, v1::UploadMediaResponse>(
      session_, request.path, type, request.message.business_id(),
      [&](grpc::ClientContext* ctx, v1::UploadMediaResponse* response) {
        return session_.chat().UploadMedia(ctx, response);
      });
  v1::SendMessageRequest message = request.message;
  message.set_media_id(media.media_id());
  v1::SendMessageResponse response;
  session_.SendOnce(message.idempotency_key(), [&](auto* ctx) {
    return session_.chat().SendMessage(ctx, message, &response);
  });
  session_.PrintSent(response, message.idempotency_key());
  return 0;
}

int MediaCommands::Do(const ReplyFile& request) {
  std::string type = DeclaredType(request.mime_type, ReadHead(request.path));
  v1::MediaInfo media =
      UploadFile<v1::BusinessServiceUploadMediaRequest, v1::BusinessServiceUploadMediaResponse>(
          session_, request.path, type, "",
          [&](grpc::ClientContext* ctx, v1::BusinessServiceUploadMediaResponse* response) {
            return session_.business().UploadMedia(ctx, response);
          });
  v1::SendReplyRequest reply = request.reply;
  reply.set_media_id(media.media_id());
  v1::SendReplyResponse response;
  session_.SendOnce(reply.idempotency_key(), [&](auto* ctx) {
    return session_.business().SendReply(ctx, reply, &response);
  });
  session_.PrintSent(response, reply.idempotency_key());
  return 0;
}

namespace {

template <typename Request, typename Response, typename Open>
int DownloadInto(const Session& session, const DownloadFile& request, Open open) {
  int64_t offset = request.offset;
  std::error_code ec;
  if (request.resume) {
    auto size = std::filesystem::file_size(request.out, ec);
    offset = ec ? 0 : static_cast<int64_t>(size);
  }
  v1::MediaInfo media;
  int64_t written = offset;
  std::ofstream out;
  // The file is cut at the offset (or created) only once the relay answered with the media,
  // so a refused download leaves it as it was.
  auto open_out = [&] {
    { std::ofstream create(request.out, std::ios::binary | std::ios::app); }
    std::filesystem::resize_file(request.out, static_cast<uintmax_t>(offset), ec);
    if (ec) throw UsageError("cannot write " + request.out + " from " + std::to_string(offset));
    out.open(request.out, std::ios::binary | std::ios::app);
    if (!out) throw UsageError("cannot write " + request.out);
  };
  grpc::Status status = session.Stream([&](grpc::ClientContext* ctx) {
    Request req;
    req.set_media_id(request.media_id);
    req.set_offset(offset);
    auto reader = open(ctx, req);
    Response part;
    while (reader->Read(&part)) {
      if (part.has_media()) {
        media = part.media();
        try {
          open_out();
        } catch (const UsageError&) {
          ctx->TryCancel();
          reader->Finish();
          throw;
        }
      }
      out.write(part.chunk().data(), static_cast<std::streamsize>(part.chunk().size()));
      written += static_cast<int64_t>(part.chunk().size());
    }
    return reader->Finish();
  });
  out.close();
  if (!status.ok()) {
    std::string hint;
    if (written > offset) hint = "to go on from here, add: --resume\n";
    throw RpcError(std::move(status), std::move(hint));
  }
  session.Print(media, FormatMedia(media) + "written: " + Printable(request.out) + "\n");
  return 0;
}

}  // namespace

int MediaCommands::Do(const DownloadFile& request) {
  if (request.as_business) {
    return DownloadInto<v1::BusinessServiceDownloadMediaRequest,
                        v1::BusinessServiceDownloadMediaResponse>(
        session_, request, [&](grpc::ClientContext* ctx, const auto& req) {
          return session_.business().DownloadMedia(ctx, req);
        });
  }
  return DownloadInto<v1::DownloadMediaRequest, v1::DownloadMediaResponse>(
      session_, request, [&](grpc::ClientContext* ctx, const auto& req) {
        return session_.chat().DownloadMedia(ctx, req);
      });
}

}  // namespace bizrelay::cli
