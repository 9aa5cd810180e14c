// End-to-end: media in hosted chats through a real bizrelayd: upload, attach, download with
// resume, the type and size checks, isolation, retention, offboarding, erasure and the dump.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "bizrelay/v1/account_service.grpc.pb.h"
#include "bizrelay/v1/business_service.grpc.pb.h"
#include "bizrelay/v1/operator_service.grpc.pb.h"
#include "bizrelay/v1/user_chat_service.grpc.pb.h"
#include "services/platform/token.h"
#include "services/store/testing/test_postgres.h"
#include "tests/harness/clients.h"
#include "tests/harness/command.h"
#include "tests/harness/daemon_process.h"

namespace bizrelay::e2e {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr size_t kChunk = 128 << 10;

// A PDF header followed by `size` bytes in all: libmagic reads it as application/pdf.
std::string PdfLike(size_t size) {
  std::string out = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
  std::string noise = RandomBytes(1 << 16);
  while (out.size() < size) out += noise;
  out.resize(size);
  return out;
}

struct Upload {
  grpc::Status status;
  v1::MediaInfo media;
};

// Uploads `content` declared as `mime` (and `declared` bytes, if not -1) through the user's or
// the business's UploadMedia.
template <typename Stub, typename Request, typename Response>
Upload UploadWith(Stub& stub, const std::string& token, const std::string& business_id,
                  const std::string& mime, const std::string& content, int64_t declared,
                  size_t chunk) {
  grpc::ClientContext ctx;
  Authorize(&ctx, token);
  Response resp;
  auto writer = stub.UploadMedia(&ctx, &resp);
  Request req;
  req.mutable_header()->set_mime_type(mime);
  req.mutable_header()->set_size_bytes(declared >= 0 ? declared : content.size());
  req.mutable_header()->set_business_id(business_id);
  bool open = writer->Write(req);
  for (size_t at = 0; open && at < content.size(); at += chunk) {
    Request part;
    part.set_chunk(content.substr(at, chunk));
    open = writer->Write(part);
  }
  writer->WritesDone();
  Upload out;
  out.status = writer->Finish();
  out.media = resp.media();
  return out;
}

Upload UserUpload(DaemonProcess& d, const Usr& u, const std::string& business_id,
                  const std::string& mime, const std::string& content, int64_t declared = -1,
                  size_t chunk = kChunk) {
  auto stub = v1::UserChatService::NewStub(d.PublicChannel());
  return UploadWith<v1::UserChatService::Stub, v1::UploadMediaRequest, v1::UploadMediaResponse>(
      *stub, u.token, business_id, mime, content, declared, chunk);
}

Upload BusinessUpload(DaemonProcess& d, const Biz& b, const std::string& mime,
                      const std::string& content) {
  auto stub = v1::BusinessService::NewStub(d.PublicChannel());
  return UploadWith<v1::BusinessService::Stub, v1::BusinessServiceUploadMediaRequest,
                    v1::BusinessServiceUploadMediaResponse>(*stub, b.key, "", mime, content, -1,
                                                            kChunk);
}

grpc::Status SendMedia(DaemonProcess& d, const Usr& u, const std::string& business_id,
                       const std::string& media_id, const std::string& caption,
                       v1::SendMessageResponse* resp = nullptr) {
  grpc::ClientContext ctx;
  Authorize(&ctx, u.token);
  v1::SendMessageRequest req;
  req.set_business_id(business_id);
  req.set_text(caption);
  req.set_media_id(media_id);
  req.set_idempotency_key(ToHex(RandomBytes(8)));
  v1::SendMessageResponse local;
  return v1::UserChatService::NewStub(d.PublicChannel())
      ->SendMessage(&ctx, req, resp ? resp : &local);
}

grpc::Status ReplyMedia(DaemonProcess& d, const Biz& b, const std::string& conversation_id,
                        const std::string& media_id, v1::SendReplyResponse* resp = nullptr) {
  grpc::ClientContext ctx;
  Authorize(&ctx, b.key);
  v1::SendReplyRequest req;
  req.set_conversation_id(conversation_id);
  req.set_media_id(media_id);
  req.set_text("Faktur terlampir");
  req.set_idempotency_key(ToHex(RandomBytes(8)));
  v1::SendReplyResponse local;
  return v1::BusinessService::NewStub(d.PublicChannel())
      ->SendReply(&ctx, req, resp ? resp : &local);
}

struct Download {
  grpc::Status status;
  v1::MediaInfo media;
  std::string bytes;
};

// Downloads from `offset`; with `stop_after` >= 0 the client drops the stream once it holds that
// many bytes.
template <typename Stub, typename Request, typename Response>
Download DownloadWith(Stub& stub, const std::string& token, const std::string& media_id,
                      int64_t offset, int64_t stop_after) {
  grpc::ClientContext ctx;
  Authorize(&ctx, token);
  Request req;
  req.set_media_id(media_id);
  req.set_offset(offset);
  auto reader = stub.DownloadMedia(&ctx, req);
  Download out;
  Response r;
  int64_t expect = offset;
  while (reader->Read(&r)) {
    if (r.has_media()) out.media = r.media();
    EXPECT_EQ(r.offset(), expect);
    expect += static_cast<int64_t>(r.chunk().size());
    out.bytes += r.chunk();
    if (stop_after >= 0 && static_cast<int64_t>(out.bytes.size()) >= stop_after) {
      ctx.TryCancel();
      break;
    }
  }
  out.status = reader->Finish();
  return out;
}

Download UserDownload(DaemonProcess& d, const Usr& u, const std::string& media_id,
                      int64_t offset = 0, int64_t stop_after = -1) {
  auto stub = v1::UserChatService::NewStub(d.PublicChannel());
  return DownloadWith<v1::UserChatService::Stub, v1::DownloadMediaRequest,
                      v1::DownloadMediaResponse>(*stub, u.token, media_id, offset, stop_after);
}

Download BusinessDownload(DaemonProcess& d, const Biz& b, const std::string& media_id,
                          int64_t offset = 0, int64_t stop_after = -1) {
  auto stub = v1::BusinessService::NewStub(d.PublicChannel());
  return DownloadWith<v1::BusinessService::Stub, v1::BusinessServiceDownloadMediaRequest,
                      v1::BusinessServiceDownloadMediaResponse>(*stub, b.key, media_id, offset,
                                                                stop_after);
}

int64_t Count(const std::string& url, const std::string& sql) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  return tx.exec1(sql)[0].as<int64_t>();
}

// Polls until `sql` counts `want` (a refused upload is discarded just after its answer).
int64_t CountSettles(const std::string& url, const std::string& sql, int64_t want,
                     std::chrono::seconds within = 5s) {
  auto until = std::chrono::steady_clock::now() + within;
  int64_t n = Count(url, sql);
  while (n != want && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
    n = Count(url, sql);
  }
  return n;
}

const char* kMediaRows = "SELECT count(*) FROM hosting.media";
const char* kChunkRows = "SELECT count(*) FROM hosting.media_chunks";

DaemonProcess::Options On(const std::string& url, std::vector<std::string> args = {}) {
  return DaemonProcess::Options{.database_url = url, .extra_args = std::move(args)};
}

TEST(MediaE2E, FiftyMiBDocumentRoundTripsByteExactWithADownloadResumedAfterADrop) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(On(url));
  Biz biz = CreateBusiness(d, "Notaris Andi");
  Usr user = Register(d, "Rina");
  std::string conv = StartChat(d, user, biz);

  const std::string doc = PdfLike(50 << 20);
  const std::string sha = Sha256(doc);
  auto started = std::chrono::steady_clock::now();
  Upload up = UserUpload(d, user, biz.id, "application/pdf", doc);
  auto uploaded = std::chrono::steady_clock::now();
  ASSERT_TRUE(up.status.ok()) << up.status.error_message();
  EXPECT_EQ(up.media.sha256(), sha);
  EXPECT_EQ(up.media.size_bytes(), 50 << 20);
  EXPECT_EQ(up.media.kind(), v1::MEDIA_KIND_DOCUMENT);
  EXPECT_EQ(Count(url, kChunkRows), 200);  // 256 KiB storage chunks

  // The business's inbox stream carries the message with its media.
  grpc::ClientContext inbox_ctx;
  Authorize(&inbox_ctx, biz.key);
  auto business = v1::BusinessService::NewStub(d.PublicChannel());
  auto inbox = business->StreamInbox(&inbox_ctx, v1::StreamInboxRequest());
  v1::StreamInboxResponse event;
  ASSERT_TRUE(inbox->Read(&event));  // chat started
  v1::SendMessageResponse sent;
  ASSERT_TRUE(SendMedia(d, user, biz.id, up.media.media_id(), "Akta, mohon dicek", &sent).ok());
  EXPECT_EQ(sent.message().media().media_id(), up.media.media_id());
  ASSERT_TRUE(inbox->Read(&event));
  EXPECT_EQ(event.message().text(), "Akta, mohon dicek");
  EXPECT_EQ(event.message().media().media_id(), up.media.media_id());
  EXPECT_EQ(event.message().media().sha256(), sha);
  EXPECT_EQ(event.message().media().mime_type(), "application/pdf");
  inbox_ctx.TryCancel();

  // The business downloads 10 MiB, drops the stream, and resumes where it stopped.
  auto dl_started = std::chrono::steady_clock::now();
  Download first = BusinessDownload(d, biz, up.media.media_id(), 0, 10 << 20);
  EXPECT_EQ(first.status.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(first.media.sha256(), sha);
  ASSERT_GE(first.bytes.size(), size_t{10 << 20});
  ASSERT_LT(first.bytes.size(), doc.size());
  Download rest = BusinessDownload(d, biz, up.media.media_id(), first.bytes.size());
  auto dl_done = std::chrono::steady_clock::now();
  ASSERT_TRUE(rest.status.ok()) << rest.status.error_message();
  EXPECT_EQ(Sha256(first.bytes + rest.bytes), sha);
  EXPECT_TRUE(first.bytes + rest.bytes == doc);

  // The user (the other party) reads it too, in history and as content.
  Download mine = UserDownload(d, user, up.media.media_id());
  ASSERT_TRUE(mine.status.ok());
  EXPECT_EQ(Sha256(mine.bytes), sha);
  // An offset at the end gives the metadata and no bytes; past the end is refused.
  Download at_end = UserDownload(d, user, up.media.media_id(), doc.size());
  EXPECT_TRUE(at_end.status.ok());
  EXPECT_EQ(at_end.bytes.size(), 0u);
  EXPECT_EQ(UserDownload(d, user, up.media.media_id(), doc.size() + 1).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::cout << "50 MiB upload " << secs(started, uploaded) << " s, download (with a resume) "
            << secs(dl_started, dl_done) << " s\n";

  // A media message's history entry, and an upload attached once only.
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz.key);
    v1::ListMessagesRequest req;
    req.set_conversation_id(conv);
    v1::ListMessagesResponse resp;
    ASSERT_TRUE(business->ListMessages(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.messages_size(), 1);
    EXPECT_EQ(resp.messages(0).media().size_bytes(), 50 << 20);
  }
  auto again = SendMedia(d, user, biz.id, up.media.media_id(), "lagi");
  EXPECT_EQ(again.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Count(url, "SELECT count(*) FROM hosting.messages"), 1);
}

TEST(MediaE2E, BytesThatContradictTheDeclaredTypeAreRefusedWithAReasonAndNothingKept) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(On(url));
  Biz biz = CreateBusiness(d, "Toko Foto");
  Usr user = Register(d, "Agus");
  StartChat(d, user, biz);

  // Large enough that chunks were stored before the type check would be too late: it runs on
  // the first storage chunk, before anything is written.
  Upload up = UserUpload(d, user, biz.id, "image/png", PdfLike(1 << 20));
  EXPECT_EQ(up.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ErrorReason(up.status), "MEDIA_TYPE_MISMATCH");
  EXPECT_THAT(up.status.error_message(), HasSubstr("application/pdf"));
  EXPECT_THAT(up.status.error_message(), HasSubstr("image/png"));
  // A short one, checked at its end.
  Upload small = UserUpload(d, user, biz.id, "application/pdf", "just some words\n");
  EXPECT_EQ(ErrorReason(small.status), "MEDIA_TYPE_MISMATCH");
  EXPECT_THAT(small.status.error_message(), HasSubstr("text/plain"));
  // A type off the allowlist never gets as far.
  Upload exe = UserUpload(d, user, biz.id, "application/x-msdownload", "MZ\x90");
  EXPECT_EQ(ErrorReason(exe.status), "MEDIA_TYPE_NOT_ALLOWED");
  EXPECT_EQ(CountSettles(url, kMediaRows, 0), 0);
  EXPECT_EQ(Count(url, kChunkRows), 0);
  // A business upload is checked alike.
  Upload biz_up = BusinessUpload(d, biz, "image/jpeg", "not a jpeg at all\n");
  EXPECT_EQ(ErrorReason(biz_up.status), "MEDIA_TYPE_MISMATCH");
  EXPECT_EQ(CountSettles(url, kMediaRows, 0), 0);
}

TEST(MediaE2E, OversizedUploadsAreRefusedWithoutStoringAnything) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(On(url, {"--media-max-image-bytes", "1048576"}));
  Biz biz = CreateBusiness(d, "Toko");
  Usr user = Register(d, "Wati");
  StartChat(d, user, biz);
  std::string png = std::string("\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", 16) + RandomBytes(2 << 20);

  // Declared over the image limit: refused on the header.
  Upload declared = UserUpload(d, user, biz.id, "image/png", png);
  EXPECT_EQ(declared.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ErrorReason(declared.status), "MEDIA_TOO_LARGE");
  // Declared within it, but more bytes sent: refused when they pass the declaration.
  Upload lying = UserUpload(d, user, biz.id, "image/png", png, 1000);
  EXPECT_EQ(ErrorReason(lying.status), "MEDIA_SIZE_MISMATCH");
  // Fewer bytes than declared.
  Upload short_one = UserUpload(d, user, biz.id, "image/png", png.substr(0, 1000), 2000);
  EXPECT_EQ(ErrorReason(short_one.status), "MEDIA_SIZE_MISMATCH");
  // A chunk over media.max_chunk_bytes.
  Upload big_chunk = UserUpload(d, user, biz.id, "image/png", png.substr(0, 200000), -1, 200000);
  EXPECT_EQ(ErrorReason(big_chunk.status), "CHUNK_TOO_LARGE");
  EXPECT_EQ(CountSettles(url, kMediaRows, 0), 0);
  EXPECT_EQ(Count(url, kChunkRows), 0);
  // The same image within the limit goes through.
  Upload ok = UserUpload(d, user, biz.id, "image/png", png.substr(0, 1 << 20));
  EXPECT_TRUE(ok.status.ok()) << ok.status.error_message();
  EXPECT_EQ(ok.media.kind(), v1::MEDIA_KIND_IMAGE);
}

TEST(MediaE2E, OnlyTheTwoPartiesReadMediaAndEveryOtherIdAnswersAlike) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(On(url));
  Biz a = CreateBusiness(d, "Toko A");
  Biz b = CreateBusiness(d, "Toko B");
  Usr u1 = Register(d, "Satu");
  Usr u2 = Register(d, "Dua");
  std::string conv_u1_a = StartChat(d, u1, a);
  StartChat(d, u1, b);
  StartChat(d, u2, a);
  std::string content = PdfLike(300000);

  Upload up = UserUpload(d, u1, a.id, "application/pdf", content);
  ASSERT_TRUE(up.status.ok());
  const std::string id = up.media.media_id();
  // Not attached yet: nobody reads it, not even its uploader.
  auto pending = UserDownload(d, u1, id);
  EXPECT_EQ(pending.status.error_code(), grpc::StatusCode::NOT_FOUND);
  const std::string not_found_message = pending.status.error_message();
  // Attaching: only its uploader, only into a chat with the business it was uploaded for.
  EXPECT_EQ(SendMedia(d, u2, a.id, id, "").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(SendMedia(d, u1, b.id, id, "").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Count(url, "SELECT count(*) FROM hosting.messages"), 0);  // rolled back with it
  ASSERT_TRUE(Send(d, u1, a, "halo", "k1").ok());  // opens the business's service window
  EXPECT_EQ(ReplyMedia(d, a, conv_u1_a, id).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Count(url, "SELECT count(*) FROM hosting.messages"), 1);
  ASSERT_TRUE(SendMedia(d, u1, a.id, id, "").ok());

  EXPECT_TRUE(UserDownload(d, u1, id).status.ok());
  EXPECT_TRUE(BusinessDownload(d, a, id).status.ok());
  std::string random_id = "0b7d6a4e-3f1c-4d2a-9e8b-5c6d7e8f9a0b";
  std::vector<grpc::Status> refused = {
      UserDownload(d, u2, id).status,         // another user of the same business
      BusinessDownload(d, b, id).status,      // another business
      UserDownload(d, u1, random_id).status,  // an id that never existed
      BusinessDownload(d, a, random_id).status,
  };
  for (const auto& s : refused) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(ErrorReason(s), "NOT_FOUND");
    EXPECT_EQ(s.error_message(), not_found_message);
  }
  // Not even an id's shape tells anything apart.
  EXPECT_EQ(UserDownload(d, u1, "not-a-uuid").status.error_message(), not_found_message);

  // A business's reply with its own upload; the user reads it, the other business does not.
  Upload invoice = BusinessUpload(d, a, "application/pdf", PdfLike(5000));
  ASSERT_TRUE(invoice.status.ok()) << invoice.status.error_message();
  EXPECT_EQ(ReplyMedia(d, b, conv_u1_a, invoice.media.media_id()).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::SendReplyResponse reply;
  ASSERT_TRUE(ReplyMedia(d, a, conv_u1_a, invoice.media.media_id(), &reply).ok());
  EXPECT_EQ(reply.message().media().sha256(), invoice.media.sha256());
  Download got = UserDownload(d, u1, invoice.media.media_id());
  ASSERT_TRUE(got.status.ok());
  EXPECT_EQ(Sha256(got.bytes), invoice.media.sha256());
  EXPECT_EQ(BusinessDownload(d, b, invoice.media.media_id()).status.error_message(),
            not_found_message);
  EXPECT_EQ(UserDownload(d, u2, invoice.media.media_id()).status.error_message(),
            not_found_message);
}

// Sets the business's retention policy; fails the test if it is refused.
void SetPolicy(DaemonProcess& d, const Biz& b, const v1::RetentionPolicy& policy) {
  grpc::ClientContext ctx;
  Authorize(&ctx, b.key);
  v1::SetRetentionPolicyRequest req;
  *req.mutable_policy() = policy;
  v1::SetRetentionPolicyResponse resp;
  auto status =
      v1::BusinessService::NewStub(d.PublicChannel())->SetRetentionPolicy(&ctx, req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message();
}

v1::RetentionPolicy Lifetime(int64_t seconds) {
  v1::RetentionPolicy policy;
  policy.set_default_lifetime_seconds(seconds);
  return policy;
}

TEST(MediaE2E, MediaExpiresWithItsMessageAndGoesAtOnceWithOffboarding) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(
      On(url, {"--retention-min-seconds", "1", "--retention-sweep-interval-ms", "500"}));
  Biz biz = CreateBusiness(d, "Klinik");
  Usr user = Register(d, "Putri");
  StartChat(d, user, biz);
  SetPolicy(d, biz, Lifetime(2));
  Upload up = UserUpload(d, user, biz.id, "application/pdf", PdfLike(600000));
  ASSERT_TRUE(up.status.ok());
  ASSERT_TRUE(SendMedia(d, user, biz.id, up.media.media_id(), "hasil lab").ok());
  EXPECT_EQ(Count(url, kMediaRows), 1);
  EXPECT_EQ(Count(url, kChunkRows), 3);
  EXPECT_EQ(CountSettles(url, kChunkRows, 0, 15s), 0);
  EXPECT_EQ(Count(url, kMediaRows), 0);
  EXPECT_EQ(Count(url, "SELECT count(*) FROM hosting.messages"), 0);
  EXPECT_EQ(UserDownload(d, user, up.media.media_id()).status.error_code(),
            grpc::StatusCode::NOT_FOUND);

  // Offboarding: another business with a longer rule, an attached and a pending upload.
  Biz other = CreateBusiness(d, "Apotek");
  StartChat(d, user, other);
  Upload sent = UserUpload(d, user, other.id, "application/pdf", PdfLike(300000));
  Upload kept = UserUpload(d, user, other.id, "application/pdf", PdfLike(1000));
  ASSERT_TRUE(sent.status.ok() && kept.status.ok());
  ASSERT_TRUE(SendMedia(d, user, other.id, sent.media.media_id(), "").ok());
  ASSERT_TRUE(UserDownload(d, user, sent.media.media_id()).status.ok());
  EXPECT_EQ(Count(url, kMediaRows), 2);
  grpc::ClientContext ctx;
  Authorize(&ctx, d.OperatorToken());
  v1::OffboardBusinessRequest req;
  req.set_business_id(other.id);
  v1::OffboardBusinessResponse resp;
  ASSERT_TRUE(
      v1::OperatorService::NewStub(d.OperatorChannel())->OffboardBusiness(&ctx, req, &resp).ok());
  EXPECT_EQ(Count(url, kMediaRows), 0);
  EXPECT_EQ(Count(url, kChunkRows), 0);
  EXPECT_EQ(UserDownload(d, user, sent.media.media_id()).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// A download that outlives its message stops there: every chunk is read only while the message
// is readable, not only the first (the sweeper, slowed down here, has not deleted the rows yet).
TEST(MediaE2E, ADownloadStopsWhenItsMessageExpiresMidStream) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(
      On(url, {"--retention-min-seconds", "1", "--retention-sweep-interval-ms", "600000"}));
  Biz biz = CreateBusiness(d, "Notaris");
  Usr user = Register(d, "Wulan");
  StartChat(d, user, biz);
  auto business = v1::BusinessService::NewStub(d.PublicChannel());
  SetPolicy(d, biz, Lifetime(2));
  const size_t size = 48u << 20;  // more than the stream's buffers hold
  Upload up = UserUpload(d, user, biz.id, "application/pdf", PdfLike(size));
  ASSERT_TRUE(up.status.ok()) << up.status.error_message();
  ASSERT_TRUE(SendMedia(d, user, biz.id, up.media.media_id(), "akta").ok());
  auto sent = std::chrono::steady_clock::now();

  grpc::ClientContext ctx;
  Authorize(&ctx, biz.key);
  v1::BusinessServiceDownloadMediaRequest req;
  req.set_media_id(up.media.media_id());
  auto reader = business->DownloadMedia(&ctx, req);
  v1::BusinessServiceDownloadMediaResponse part;
  ASSERT_TRUE(reader->Read(&part));
  size_t received = part.chunk().size();
  std::this_thread::sleep_until(sent + 3s);
  while (reader->Read(&part)) received += part.chunk().size();
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_LT(received, size);
  // The rows are still there (no sweep yet): what stopped it was the message's expiry.
  EXPECT_EQ(Count(url, kMediaRows), 1);
}

TEST(MediaE2E, NoStorageMediaGoesOnceTheRecipientAcknowledgedIt) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(On(
      url, {"--retention-no-storage-grace-seconds", "0", "--retention-sweep-interval-ms", "500"}));
  Biz biz = CreateBusiness(d, "Klinik Gigi");
  Usr user = Register(d, "Ayu");
  auto business = v1::BusinessService::NewStub(d.PublicChannel());
  v1::RetentionPolicy no_storage;
  no_storage.set_no_storage(true);
  SetPolicy(d, biz, no_storage);
  StartChat(d, user, biz);
  Upload up = UserUpload(d, user, biz.id, "application/pdf", PdfLike(300000));
  ASSERT_TRUE(up.status.ok());
  ASSERT_TRUE(SendMedia(d, user, biz.id, up.media.media_id(), "rontgen").ok());
  // Kept until the business acknowledges it: readable by the business meanwhile.
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(BusinessDownload(d, biz, up.media.media_id()).status.ok());
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, biz.key);
    auto inbox = business->StreamInbox(&ctx, v1::StreamInboxRequest());
    v1::StreamInboxResponse event;
    int64_t last = 0;
    while (inbox->Read(&event)) {
      last = event.position();
      if (event.has_message()) break;
    }
    ctx.TryCancel();
    grpc::ClientContext ack_ctx;
    Authorize(&ack_ctx, biz.key);
    v1::AcknowledgeInboxRequest req;
    req.set_position(last);
    v1::AcknowledgeInboxResponse resp;
    ASSERT_TRUE(business->AcknowledgeInbox(&ack_ctx, req, &resp).ok());
  }
  EXPECT_EQ(BusinessDownload(d, biz, up.media.media_id()).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(CountSettles(url, kMediaRows, 0, 10s), 0);
  EXPECT_EQ(Count(url, kChunkRows), 0);
}

TEST(MediaE2E, UploadsNeverAttachedAreDeletedAfterTheConfiguredTime) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(On(url, {"--media-unattached-ttl-seconds", "2", "--retention-sweep-interval-ms",
                           "500", "--media-max-pending-bytes", "1000000"}));
  Biz biz = CreateBusiness(d, "Toko");
  Usr user = Register(d, "Joko");
  StartChat(d, user, biz);
  Upload up = UserUpload(d, user, biz.id, "application/pdf", PdfLike(600000));
  ASSERT_TRUE(up.status.ok());
  EXPECT_EQ(Count(url, kMediaRows), 1);
  // Pending bytes per uploader are bounded: a second 600,000 bytes would pass 1,000,000.
  Upload second = UserUpload(d, user, biz.id, "application/pdf", PdfLike(600000));
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReason(second.status), "PENDING_MEDIA_LIMIT");
  auto uploaded = std::chrono::steady_clock::now();
  EXPECT_EQ(CountSettles(url, kMediaRows, 0, 10s), 0);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - uploaded).count();
  EXPECT_GE(took, 1.0);  // not before its time
  EXPECT_EQ(Count(url, kChunkRows), 0);
  EXPECT_THAT(d.Log(), HasSubstr("deleted_unattached_media=1"));
  EXPECT_EQ(SendMedia(d, user, biz.id, up.media.media_id(), "").error_code(),
            grpc::StatusCode::NOT_FOUND);
  // With the first one gone, the limit has room again.
  EXPECT_TRUE(UserUpload(d, user, biz.id, "application/pdf", PdfLike(600000)).status.ok());
}

TEST(MediaE2E, ConcurrentUploadsPerPrincipalAreBoundedAndRefusalsGiveTheirSlotBack) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(
      On(url, {"--media-max-concurrent-uploads", "1", "--media-max-pending-bytes", "500000"}));
  Biz biz = CreateBusiness(d, "Toko");
  Usr user = Register(d, "Bayu");
  StartChat(d, user, biz);
  // Refusals after the slot was taken (pending bytes, the content's type, the size) give it
  // back.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ErrorReason(UserUpload(d, user, biz.id, "application/pdf", PdfLike(600000)).status),
              "PENDING_MEDIA_LIMIT");
    EXPECT_EQ(ErrorReason(UserUpload(d, user, biz.id, "image/png", PdfLike(1000)).status),
              "MEDIA_TYPE_MISMATCH");
    EXPECT_EQ(
        ErrorReason(UserUpload(d, user, biz.id, "application/pdf", PdfLike(1000), 900).status),
        "MEDIA_SIZE_MISMATCH");
  }
  // One upload held open: a second one at the same time is refused.
  grpc::ClientContext ctx;
  Authorize(&ctx, user.token);
  v1::UploadMediaResponse resp;
  auto stub = v1::UserChatService::NewStub(d.PublicChannel());
  auto writer = stub->UploadMedia(&ctx, &resp);
  const std::string doc = PdfLike(300000);
  v1::UploadMediaRequest header;
  header.mutable_header()->set_mime_type("application/pdf");
  header.mutable_header()->set_size_bytes(static_cast<int64_t>(doc.size()));
  header.mutable_header()->set_business_id(biz.id);
  ASSERT_TRUE(writer->Write(header));
  v1::UploadMediaRequest part;
  part.set_chunk(doc.substr(0, kChunk));
  ASSERT_TRUE(writer->Write(part));
  EXPECT_EQ(CountSettles(url, kMediaRows, 1), 1);  // the open upload began
  Upload second = UserUpload(d, user, biz.id, "application/pdf", PdfLike(1000));
  EXPECT_EQ(second.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(ErrorReason(second.status), "TOO_MANY_UPLOADS");
  for (size_t at = kChunk; at < doc.size(); at += kChunk) {
    part.set_chunk(doc.substr(at, kChunk));
    ASSERT_TRUE(writer->Write(part));
  }
  writer->WritesDone();
  ASSERT_TRUE(writer->Finish().ok());
  EXPECT_EQ(resp.media().sha256(), Sha256(doc));
  EXPECT_TRUE(UserUpload(d, user, biz.id, "application/pdf", PdfLike(1000)).status.ok());
}

TEST(MediaE2E, DatabaseDumpHoldsNoPlaintextOfAnUploadedDocument) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(On(url));
  Biz biz = CreateBusiness(d, "Kantor Pajak");
  Usr user = Register(d, "Hendra");
  StartChat(d, user, biz);
  const std::string marker = "NPWP-RAHASIA-8812-MEDIA";
  std::string text;
  while (text.size() < 700000)
    text += "Laporan pajak " + marker + " baris " + std::to_string(text.size()) + "\n";
  Upload up = UserUpload(d, user, biz.id, "text/plain", text);
  ASSERT_TRUE(up.status.ok()) << up.status.error_message();
  ASSERT_TRUE(SendMedia(d, user, biz.id, up.media.media_id(), "").ok());
  auto dump = RunCommand({"/usr/lib/postgresql/15/bin/pg_dump", "--data-only", url});
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  EXPECT_THAT(dump.out, HasSubstr("hosting.media_chunks"));
  EXPECT_EQ(dump.out.find(marker), std::string::npos);
  EXPECT_EQ(dump.out.find(ToHex(marker)), std::string::npos);  // bytea is dumped as hex
  EXPECT_EQ(dump.out.find(ToHex(up.media.sha256())), std::string::npos);
  EXPECT_EQ(Sha256(UserDownload(d, user, up.media.media_id()).bytes), Sha256(text));
}

TEST(MediaE2E, ExportListsMediaAndDeleteAccountErasesIt) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(On(url));
  Biz biz = CreateBusiness(d, "Toko");
  Usr user = Register(d, "Lina");
  std::string conv = StartChat(d, user, biz);
  Upload up = UserUpload(d, user, biz.id, "application/pdf", PdfLike(40000));
  Upload pending = UserUpload(d, user, biz.id, "application/pdf", PdfLike(1000));
  Upload invoice = BusinessUpload(d, biz, "application/pdf", PdfLike(2000));
  ASSERT_TRUE(up.status.ok() && pending.status.ok() && invoice.status.ok());
  ASSERT_TRUE(SendMedia(d, user, biz.id, up.media.media_id(), "foto struk").ok());
  ASSERT_TRUE(ReplyMedia(d, biz, conv, invoice.media.media_id()).ok());
  auto accounts = v1::AccountService::NewStub(d.PublicChannel());
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, user.token);
    v1::ExportMyDataResponse resp;
    ASSERT_TRUE(accounts->ExportMyData(&ctx, v1::ExportMyDataRequest(), &resp).ok());
    auto doc = nlohmann::json::parse(resp.json());
    const auto& messages = doc["chats"][0]["messages"];
    ASSERT_EQ(messages.size(), 2u);
    const auto& media = messages[0]["media"];
    EXPECT_EQ(media["media_id"], up.media.media_id());
    EXPECT_EQ(media["mime_type"], "application/pdf");
    EXPECT_EQ(media["kind"], "document");
    EXPECT_EQ(media["size_bytes"], 40000);
    EXPECT_EQ(media["sha256"], ToHex(up.media.sha256()));
    EXPECT_THAT(media["download"].get<std::string>(), HasSubstr("DownloadMedia"));
    EXPECT_EQ(messages[1]["media"]["media_id"], invoice.media.media_id());
  }
  EXPECT_EQ(Count(url, kMediaRows), 3);
  {
    grpc::ClientContext ctx;
    Authorize(&ctx, user.token);
    v1::DeleteAccountResponse resp;
    ASSERT_TRUE(accounts->DeleteAccount(&ctx, v1::DeleteAccountRequest(), &resp).ok());
  }
  EXPECT_EQ(Count(url, kMediaRows), 0);
  EXPECT_EQ(Count(url, kChunkRows), 0);
}

TEST(MediaE2E, CliSendsFilesBothWaysAndResumesADownloadAndBufCurlReadsThem) {
  std::string url = store::testing::FreshDatabase();
  DaemonProcess d(On(url));
  Biz biz = CreateBusiness(d, "Percetakan");
  Usr user = Register(d, "Tono");
  std::string conv = StartChat(d, user, biz);
  std::string addr = "127.0.0.1:" + std::to_string(d.public_port());
  auto cli = [&](const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {BIZRELAY_CLI_PATH, "--addr", addr, "--token", token};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };
  auto field = [](const std::string& out, const std::string& name) {
    auto at = out.find(name + ": ");
    if (at == std::string::npos) return std::string();
    auto start = at + name.size() + 2;
    return out.substr(start, out.find('\n', start) - start);
  };
  std::string dir =
      std::filesystem::temp_directory_path() / ("bizrelay-media-" + ToHex(RandomBytes(4)));
  std::filesystem::create_directories(dir);
  const std::string doc = PdfLike(3 << 20);
  std::ofstream(dir + "/desain.pdf", std::ios::binary) << doc;

  // The user sends a file with a caption; the type is read from its bytes.
  auto sent = cli(user.token, {"send", biz.id, "Desain brosur", "--file", dir + "/desain.pdf"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  std::string media_id = field(sent.out, "media_id");
  EXPECT_EQ(field(sent.out, "sha256"), ToHex(Sha256(doc)));
  EXPECT_EQ(field(sent.out, "mime_type"), "application/pdf");
  auto inbox = cli(biz.key, {"inbox", "--count", "2"});
  EXPECT_THAT(inbox.out, HasSubstr("Desain brosur [media " + media_id + " application/pdf"));

  // The business downloads a part (as if the connection broke), then resumes.
  std::ofstream(dir + "/got.pdf", std::ios::binary) << doc.substr(0, 1000000);
  auto resumed =
      cli(biz.key, {"download", media_id, "--business", "--out", dir + "/got.pdf", "--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  std::ifstream got_in(dir + "/got.pdf", std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(got_in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(got == doc);
  // Someone else's media through the CLI: NOT_FOUND, and the file is left as it was.
  Usr other = Register(d, "Lain");
  auto refused = cli(other.token, {"download", media_id, "--out", dir + "/nothing"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("NOT_FOUND"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/nothing"));

  // The business replies with a file; the user downloads it.
  std::ofstream(dir + "/nota.txt") << "Nota: 500 brosur, Rp 750.000\n";
  auto replied = cli(biz.key, {"reply", conv, "--file", dir + "/nota.txt"});
  ASSERT_EQ(replied.exit_code, 0) << replied.err;
  std::string nota_id = field(replied.out, "media_id");
  EXPECT_EQ(field(replied.out, "mime_type"), "text/plain");
  auto fetched = cli(user.token, {"download", nota_id, "--out", dir + "/nota-got.txt"});
  ASSERT_EQ(fetched.exit_code, 0) << fetched.err;
  std::ifstream nota_in(dir + "/nota-got.txt");
  std::string nota((std::istreambuf_iterator<char>(nota_in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(nota, "Nota: 500 brosur, Rp 750.000\n");

  // A client the project did not write: buf curl through reflection, from an offset.
  auto curl = BufCurl(d.public_port(), "bizrelay.v1.UserChatService/DownloadMedia",
                      {"-H", "authorization: Bearer " + user.token, "-d",
                       "{\"media_id\":\"" + nota_id + "\",\"offset\":\"6\"}"});
  ASSERT_EQ(curl.exit_code, 0) << curl.err;
  EXPECT_THAT(curl.out, HasSubstr("\"mimeType\": \"text/plain\""));
  // The chunk from offset 6, "500 brosur, Rp 750.000\n", in proto3 JSON's base64.
  EXPECT_THAT(curl.out, HasSubstr("\"NTAwIGJyb3N1ciwgUnAgNzUwLjAwMAo=\""));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bizrelay::e2e
