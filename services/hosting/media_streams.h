#pragma once

#include <google/protobuf/util/time_util.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>
#include <openssl/evp.h>

#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bizrelay/v1/media.pb.h"
#include "services/auth/authenticator.h"
#include "services/hosting/convert.h"
#include "services/hosting/hosting_env.h"
#include "services/hosting/media_repository.h"
#include "services/media/media_rules.h"
#include "services/platform/error.h"
#include "services/platform/token.h"
#include "services/platform/validate.h"
#include "services/rpc/bearer.h"
#include "services/rpc/status.h"

namespace bizrelay::hosting {

// Uploads one principal (user or business) runs at once on this instance. Thread-safe.
class UploadSlots {
 public:
  explicit UploadSlots(int per_principal) : per_principal_(per_principal) {}
  bool TryAcquire(const std::string& principal_id);
  void Release(const std::string& principal_id);

 private:
  const int per_principal_;
  std::mutex mu_;
  std::map<std::string, int> held_;  // guarded by mu_; no zero entries
};

// Content is stored in chunks of this size (the last one shorter), whatever the sizes of the
// chunks the client sent; recorded per media row, so it may change without a migration.
inline constexpr int kStorageChunkBytes = 256 << 10;

// The part of an upload that does not depend on the proto types: the declaration as received,
// and what the reactor learns on the way.
struct UploadState {
  std::string media_id;
  std::string mime_type;
  int kind = 0;
  int64_t size_bytes = 0;
  std::string business_id;  // user uploads: from the header; business uploads: the caller
  std::string principal_id;
  std::string data_key;
};

// Running SHA-256 of an upload's content (OpenSSL EVP). Not thread-safe: one upload's stores
// run one after another.
class ContentHash {
 public:
  ContentHash();
  ~ContentHash();
  ContentHash(const ContentHash&) = delete;
  ContentHash& operator=(const ContentHash&) = delete;
  void Update(std::string_view bytes);
  // The digest of everything so far followed by `tail`, leaving the running state as it was
  // (so a retried final store computes the same digest).
  std::string DigestWith(std::string_view tail) const;

 private:
  EVP_MD_CTX* ctx_;
};

// The upload's steps that touch the database or libmagic, run on a pool worker. Each throws
// bizrelay::Error for what the client must be told.
namespace upload_steps {
// Authenticates, checks the chat (users) and the principal's pending bytes, and creates the
// media row; fills `state`'s principal, business and data key.
void Begin(pqxx::connection& conn, const HostingEnv& env, const std::optional<std::string>& token,
           auth::PrincipalKind kind, UploadSlots* slots, bool* slot_held, UploadState* state);
// Checks the content type on the first chunk if `sniff`, seals and stores `chunks` from
// `first_index`.
void Store(pqxx::connection& conn, const HostingEnv& env, const UploadState& state,
           int64_t first_index, const std::vector<std::string>& chunks, bool sniff);
// Stores the last (shorter) chunk if any, checks the type when no chunk was checked yet, and
// marks the upload complete. Returns the SHA-256 and the attach deadline (microseconds).
std::pair<std::string, int64_t> Finish(pqxx::connection& conn, const HostingEnv& env,
                                       const UploadState& state, int64_t index,
                                       const std::string& tail, bool sniff,
                                       const ContentHash& hash);
// Deletes a refused or abandoned upload; errors are logged, the sweeper removes it otherwise.
void Discard(pqxx::connection& conn, const std::string& media_id);
}  // namespace upload_steps

// A client-streaming upload (UserChatService.UploadMedia, BusinessService.UploadMedia): a
// header, then chunks. Chunks are cut into storage chunks and stored a few at a time on the
// database pool while the next ones are read (at most kMaxBufferedChunks held in memory), one
// store in flight, so the upload's memory is bounded whatever the client sends. Anything
// refused after the media row exists deletes it (and its chunks) before the call ends.
//
// Lifetime: owned by itself until OnDone; pool tasks hold a shared_ptr. Thread-safe.
template <typename Request, typename Response>
class UploadReactor final : public grpc::ServerReadReactor<Request>,
                            public std::enable_shared_from_this<UploadReactor<Request, Response>> {
 public:
  static UploadReactor* Start(grpc::CallbackServerContext* ctx, const HostingEnv& env,
                              auth::PrincipalKind kind, Response* response) {
    auto r = std::shared_ptr<UploadReactor>(new UploadReactor(ctx, env, kind, response));
    std::lock_guard<std::recursive_mutex> lock(r->mu_);
    r->self_ = r;
    r->reading_ = true;
    r->StartRead(&r->request_);
    return r.get();
  }

  void OnReadDone(bool ok) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    reading_ = false;
    if (finished_) return;
    if (!ok) {
      client_done_ = true;
      if (!began_) {
        FailLocked(rpc::ToGrpcStatus(InvalidField("header", "an upload starts with a header")));
        return;
      }
      if (received_ != state_.size_bytes) {
        FailLocked(rpc::ToGrpcStatus(SizeMismatch()));
        return;
      }
      MaybeStoreLocked();
      return;
    }
    try {
      if (!header_seen_) {
        TakeHeaderLocked();
      } else {
        TakeChunkLocked();
        MaybeStoreLocked();
        MaybeReadLocked();
      }
    } catch (const Error& e) {
      FailLocked(rpc::ToGrpcStatus(e));
    }
  }

  void OnCancel() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    FailLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    std::shared_ptr<UploadReactor> last;
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (slot_held_) env_.upload_slots->Release(state_.principal_id);
    slot_held_ = false;
    last = std::move(self_);
  }

 private:
  static constexpr size_t kMaxBufferedChunks = 4;

  UploadReactor(grpc::CallbackServerContext* ctx, const HostingEnv& env, auth::PrincipalKind kind,
                Response* response)
      : env_(env),
        kind_(kind),
        token_(rpc::BearerToken(ctx->client_metadata())),
        response_(response) {}

  Error SizeMismatch() const {
    return Error(ErrorCode::kInvalidArgument, "MEDIA_SIZE_MISMATCH",
                 "the content's length differs from the declared size_bytes",
                 {{"field", "size_bytes"}, {"declared", std::to_string(state_.size_bytes)}});
  }

  void TakeHeaderLocked() {
    if (!request_.has_header()) throw InvalidField("header", "an upload starts with a header");
    header_seen_ = true;
    const auto& h = request_.header();
    const auto& options = env_.options->media;
    state_.kind = static_cast<int>(media::CheckDeclaration(options, h.mime_type(), h.size_bytes()));
    state_.mime_type = h.mime_type();
    state_.size_bytes = h.size_bytes();
    if (kind_ == auth::PrincipalKind::kUser) {
      CheckId("business", h.business_id());
      state_.business_id = h.business_id();
    } else if (!h.business_id().empty()) {
      throw InvalidField("business_id", "a business uploads for itself: leave business_id empty");
    }
    state_.media_id = TimeOrderedUuid();
    job_in_flight_ = true;
    auto self = this->shared_from_this();
    env_.rpc.pool->Submit(
        [self](pqxx::connection& conn) {
          UploadState state = self->StateCopy();
          bool slot_held = self->SlotHeld();
          try {
            upload_steps::Begin(conn, self->env_, self->token_, self->kind_,
                                self->env_.upload_slots, &slot_held, &state);
          } catch (...) {
            // A slot taken before a later check failed is given back in OnDone (and not taken
            // twice if the pool runs this task again).
            std::lock_guard<std::recursive_mutex> lock(self->mu_);
            self->slot_held_ = slot_held;
            self->state_.principal_id = state.principal_id;
            throw;
          }
          std::lock_guard<std::recursive_mutex> lock(self->mu_);
          self->slot_held_ = slot_held;
          self->state_ = std::move(state);
          self->job_in_flight_ = false;
          self->began_ = true;
          if (self->AfterJobLocked()) self->MaybeReadLocked();
        },
        [self](const Error& e) { self->JobFailed(e); }, Deadline());
  }

  void TakeChunkLocked() {
    if (!request_.has_header() && request_.chunk().empty()) {
      throw InvalidField("chunk", "an empty chunk");
    }
    if (request_.has_header()) throw InvalidField("header", "one header per upload");
    const std::string& chunk = request_.chunk();
    if (chunk.size() > env_.options->media.max_chunk_bytes) {
      throw Error(
          ErrorCode::kInvalidArgument, "CHUNK_TOO_LARGE",
          "chunks are at most " + std::to_string(env_.options->media.max_chunk_bytes) + " bytes",
          {{"field", "chunk"}, {"max_bytes", std::to_string(env_.options->media.max_chunk_bytes)}});
    }
    if (received_ + static_cast<int64_t>(chunk.size()) > state_.size_bytes) throw SizeMismatch();
    received_ += static_cast<int64_t>(chunk.size());
    buffer_ += chunk;
    while (buffer_.size() >= static_cast<size_t>(kStorageChunkBytes)) {
      full_.push_back(buffer_.substr(0, kStorageChunkBytes));
      buffer_.erase(0, kStorageChunkBytes);
    }
  }

  void MaybeReadLocked() {
    if (finished_ || reading_ || client_done_ || !began_) return;
    if (full_.size() >= kMaxBufferedChunks) return;
    reading_ = true;
    this->StartRead(&request_);
  }

  // Starts the next store: full chunks if any, else the completion once the client is done.
  void MaybeStoreLocked() {
    if (finished_ || job_in_flight_ || !began_) return;
    auto self = this->shared_from_this();
    if (!full_.empty()) {
      std::vector<std::string> chunks(std::make_move_iterator(full_.begin()),
                                      std::make_move_iterator(full_.end()));
      full_.clear();
      int64_t first = next_index_;
      bool sniff = !sniffed_;
      job_in_flight_ = true;
      env_.rpc.pool->Submit(
          [self, chunks = std::move(chunks), first, sniff](pqxx::connection& conn) {
            upload_steps::Store(conn, self->env_, self->state_, first, chunks, sniff);
            for (const auto& c : chunks) self->hash_.Update(c);
            std::lock_guard<std::recursive_mutex> lock(self->mu_);
            self->job_in_flight_ = false;
            self->sniffed_ = true;
            self->next_index_ = first + static_cast<int64_t>(chunks.size());
            if (!self->AfterJobLocked()) return;
            self->MaybeStoreLocked();
            self->MaybeReadLocked();
          },
          [self](const Error& e) { self->JobFailed(e); }, Deadline());
      return;
    }
    if (!client_done_) return;
    std::string tail = std::move(buffer_);
    buffer_.clear();
    int64_t index = next_index_;
    bool sniff = !sniffed_;
    job_in_flight_ = true;
    env_.rpc.pool->Submit(
        [self, tail = std::move(tail), index, sniff](pqxx::connection& conn) {
          auto [sha256, attach_before] =
              upload_steps::Finish(conn, self->env_, self->state_, index, tail, sniff, self->hash_);
          std::lock_guard<std::recursive_mutex> lock(self->mu_);
          self->job_in_flight_ = false;
          if (!self->AfterJobLocked()) return;
          MediaRow row{.media_id = self->state_.media_id,
                       .business_id = self->state_.business_id,
                       .message_id = "",
                       .mime_type = self->state_.mime_type,
                       .kind = self->state_.kind,
                       .size_bytes = self->state_.size_bytes,
                       .chunk_bytes = kStorageChunkBytes,
                       .sealed_sha256 = "",
                       .sha256 = sha256};
          ToProto(row, self->response_->mutable_media());
          *self->response_->mutable_attach_before_time() =
              google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(attach_before);
          self->finished_ = true;
          self->Finish(grpc::Status::OK);
        },
        [self](const Error& e) { self->JobFailed(e); }, Deadline());
  }

  // After a job: false if the call ended meanwhile (then the upload is discarded).
  bool AfterJobLocked() {
    if (!finished_) return true;
    if (discard_pending_) DiscardLocked();
    return false;
  }

  void JobFailed(const Error& e) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    job_in_flight_ = false;
    FailLocked(rpc::ToGrpcStatus(e));
    if (discard_pending_) DiscardLocked();
  }

  // Ends the call with `status` and deletes what was stored, once no job is in flight.
  void FailLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status);
    if (state_.media_id.empty()) return;
    discard_pending_ = true;
    if (!job_in_flight_) DiscardLocked();
  }

  void DiscardLocked() {
    discard_pending_ = false;
    std::string id = state_.media_id;
    env_.rpc.pool->Submit([id](pqxx::connection& conn) { upload_steps::Discard(conn, id); },
                          [](const Error&) {}, Deadline());
  }

  UploadState StateCopy() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return state_;
  }
  bool SlotHeld() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    return slot_held_;
  }
  store::DbPool::Clock::time_point Deadline() const {
    return store::DbPool::Clock::now() + env_.rpc.call_timeout;
  }

  const HostingEnv env_;
  const auth::PrincipalKind kind_;
  const std::optional<std::string> token_;
  Response* const response_;
  Request request_;  // written by gRPC between StartRead and OnReadDone only

  std::recursive_mutex mu_;  // recursive: DbPool::Submit may call a task's failure at once
  std::shared_ptr<UploadReactor> self_;  // guarded by mu_; dropped in OnDone
  // Read by pool tasks without mu_: set before the first store starts and not changed after.
  UploadState state_;
  ContentHash hash_;              // updated by the store tasks, one at a time
  bool header_seen_ = false;      // guarded by mu_
  bool began_ = false;            // guarded by mu_
  bool slot_held_ = false;        // guarded by mu_
  bool reading_ = false;          // guarded by mu_
  bool client_done_ = false;      // guarded by mu_
  bool job_in_flight_ = false;    // guarded by mu_
  bool finished_ = false;         // guarded by mu_
  bool discard_pending_ = false;  // guarded by mu_
  bool sniffed_ = false;          // guarded by mu_
  int64_t received_ = 0;          // guarded by mu_
  int64_t next_index_ = 0;        // guarded by mu_
  std::string buffer_;            // guarded by mu_; less than one storage chunk
  std::deque<std::string> full_;  // guarded by mu_; storage chunks waiting for a store
};

// The download's steps on a pool worker.
namespace download_steps {
// Authenticates and finds media the caller may read (NOT_FOUND otherwise, alike for every
// reason); opens its SHA-256. Fills `media` and `data_key`.
void Open(pqxx::connection& conn, const HostingEnv& env, const std::optional<std::string>& token,
          auth::PrincipalKind kind, const std::string& media_id, int64_t offset, MediaRow* media,
          std::string* data_key);
// The content from `offset` to the end of its storage chunk.
std::string Read(pqxx::connection& conn, const MediaRow& media, const std::string& data_key,
                 int64_t offset);
}  // namespace download_steps

// A server-streaming download from an offset: the first response carries the media's
// metadata, each one after it up to one storage chunk of content. One write in flight and at
// most one chunk read ahead. Lifetime as UploadReactor. Thread-safe.
template <typename Response>
class DownloadReactor final : public grpc::ServerWriteReactor<Response>,
                              public std::enable_shared_from_this<DownloadReactor<Response>> {
 public:
  static DownloadReactor* Start(grpc::CallbackServerContext* ctx, const HostingEnv& env,
                                auth::PrincipalKind kind, const std::string& media_id,
                                int64_t offset) {
    auto r = std::shared_ptr<DownloadReactor>(new DownloadReactor(env));
    std::lock_guard<std::recursive_mutex> lock(r->mu_);
    r->self_ = r;
    try {
      CheckId("media", media_id);
      if (offset < 0) throw InvalidField("offset", "offset must not be negative");
    } catch (const Error& e) {
      r->FinishLocked(rpc::ToGrpcStatus(e));
      return r.get();
    }
    auto token = rpc::BearerToken(ctx->client_metadata());
    r->env_.rpc.pool->Submit(
        [r, token, kind, media_id, offset](pqxx::connection& conn) {
          MediaRow media;
          std::string key;
          download_steps::Open(conn, r->env_, token, kind, media_id, offset, &media, &key);
          std::lock_guard<std::recursive_mutex> lock(r->mu_);
          r->media_ = std::move(media);
          r->key_ = std::move(key);
          r->next_offset_ = offset;
          Response& first = r->queue_.emplace_back();
          ToProto(r->media_, first.mutable_media());
          first.set_offset(offset);
          r->MaybeWriteLocked();
          r->MaybeFetchLocked();
        },
        [r](const Error& e) {
          std::lock_guard<std::recursive_mutex> lock(r->mu_);
          r->FinishLocked(rpc::ToGrpcStatus(e));
        },
        r->Deadline());
    return r.get();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    writing_ = false;
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed"));
      return;
    }
    queue_.pop_front();
    if (queue_.empty() && !fetching_ && next_offset_ >= media_.size_bytes) {
      FinishLocked(grpc::Status::OK);
      return;
    }
    MaybeWriteLocked();
    MaybeFetchLocked();
  }

  void OnCancel() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    std::shared_ptr<DownloadReactor> last;
    std::lock_guard<std::recursive_mutex> lock(mu_);
    last = std::move(self_);
  }

 private:
  explicit DownloadReactor(const HostingEnv& env) : env_(env) {}

  void MaybeFetchLocked() {
    if (finished_ || fetching_ || next_offset_ >= media_.size_bytes || queue_.size() >= 2) return;
    fetching_ = true;
    auto self = this->shared_from_this();
    int64_t offset = next_offset_;
    env_.rpc.pool->Submit(
        [self, offset](pqxx::connection& conn) {
          std::string bytes = download_steps::Read(conn, self->media_, self->key_, offset);
          std::lock_guard<std::recursive_mutex> lock(self->mu_);
          self->fetching_ = false;
          self->next_offset_ = offset + static_cast<int64_t>(bytes.size());
          Response& r = self->queue_.emplace_back();
          r.set_offset(offset);
          r.set_chunk(std::move(bytes));
          self->MaybeWriteLocked();
          self->MaybeFetchLocked();
        },
        [self](const Error& e) {
          std::lock_guard<std::recursive_mutex> lock(self->mu_);
          self->fetching_ = false;
          self->FinishLocked(rpc::ToGrpcStatus(e));
        },
        Deadline());
  }

  void MaybeWriteLocked() {
    if (finished_ || writing_ || queue_.empty()) return;
    writing_ = true;
    this->StartWrite(&queue_.front());
  }

  void FinishLocked(const grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    this->Finish(status);
  }

  store::DbPool::Clock::time_point Deadline() const {
    return store::DbPool::Clock::now() + env_.rpc.call_timeout;
  }

  const HostingEnv env_;
  std::recursive_mutex mu_;  // recursive: DbPool::Submit may call a task's failure at once
  std::shared_ptr<DownloadReactor> self_;  // guarded by mu_; dropped in OnDone
  // Set once by the opening task, before any read is started; read by read tasks without mu_.
  MediaRow media_;
  std::string key_;
  int64_t next_offset_ = 0;     // guarded by mu_
  std::deque<Response> queue_;  // guarded by mu_; front is the write in flight
  bool writing_ = false;        // guarded by mu_
  bool fetching_ = false;       // guarded by mu_
  bool finished_ = false;       // guarded by mu_
};

}  // namespace bizrelay::hosting
