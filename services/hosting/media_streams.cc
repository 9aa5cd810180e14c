#include "services/hosting/media_streams.h"

#include <stdexcept>

#include "services/hosting/conversation_repository.h"
#include "services/hosting/keyring.h"
#include "services/media/content_type.h"
#include "services/platform/evp.h"
#include "services/platform/log.h"

namespace bizrelay::hosting {

bool UploadSlots::TryAcquire(const std::string& principal_id) {
  std::lock_guard lock(mu_);
  int& n = held_[principal_id];
  if (n >= per_principal_) return false;
  ++n;
  return true;
}

void UploadSlots::Release(const std::string& principal_id) {
  std::lock_guard lock(mu_);
  auto it = held_.find(principal_id);
  if (it == held_.end()) return;
  if (--it->second <= 0) held_.erase(it);
}

ContentHash::ContentHash() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, Sha256Digest(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx_);
    throw std::runtime_error("SHA-256 context");
  }
}

ContentHash::~ContentHash() { EVP_MD_CTX_free(ctx_); }

void ContentHash::Update(std::string_view bytes) {
  if (EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()) != 1) {
    throw std::runtime_error("SHA-256 update");
  }
}

std::string ContentHash::DigestWith(std::string_view tail) const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  bool ok = copy != nullptr && EVP_MD_CTX_copy_ex(copy, ctx_) == 1 &&
            EVP_DigestUpdate(copy, tail.data(), tail.size()) == 1 &&
            EVP_DigestFinal_ex(copy, digest, &len) == 1;
  EVP_MD_CTX_free(copy);
  if (!ok) throw std::runtime_error("SHA-256 final");
  return std::string(reinterpret_cast<const char*>(digest), len);
}

namespace upload_steps {

void Begin(pqxx::connection& conn, const HostingEnv& env, const std::optional<std::string>& token,
           auth::PrincipalKind kind, UploadSlots* slots, bool* slot_held, UploadState* state) {
  pqxx::work tx(conn);
  auto principal = env.auth->Require(tx, token, kind);
  state->principal_id = principal.id;
  Uploader uploader = Uploader::kBusiness;
  if (kind == auth::PrincipalKind::kUser) {
    uploader = Uploader::kUser;
    if (!MediaRepository::BusinessActive(tx, state->business_id)) throw NotFound("business");
    auto chat =
        ConversationRepository::ChatOfUserWithBusiness(tx, principal.id, state->business_id);
    if (!chat) {
      throw Error(ErrorCode::kFailedPrecondition, "CHAT_NOT_STARTED",
                  "start the chat (StartChat) before uploading media for it");
    }
    if (chat->state != ChatState::kOpen) {
      throw Error(ErrorCode::kFailedPrecondition, "CHAT_NOT_OPEN",
                  "the chat is left or the business is blocked; start or unblock it first");
    }
  } else {
    state->business_id = principal.id;
  }
  const auto& options = env.options->media;
  if (!*slot_held) {
    if (!slots->TryAcquire(principal.id)) {
      throw Error(ErrorCode::kResourceExhausted, "TOO_MANY_UPLOADS",
                  "too many uploads at once; finish one first",
                  {{"max_uploads", std::to_string(options.max_concurrent_uploads)}});
    }
    *slot_held = true;
  }
  int64_t pending = MediaRepository::PendingBytes(tx, principal.id);
  if (pending + state->size_bytes > options.max_pending_bytes) {
    throw Error(ErrorCode::kResourceExhausted, "PENDING_MEDIA_LIMIT",
                "too much media uploaded and not sent yet; send or wait for it to expire",
                {{"max_pending_bytes", std::to_string(options.max_pending_bytes)},
                 {"pending_bytes", std::to_string(pending)}});
  }
  auto key = env.keys->DataKey(tx, state->business_id, /*create=*/true);
  if (!key) throw NotFound("business");
  state->data_key = *key;
  MediaRow row{.media_id = state->media_id,
               .business_id = state->business_id,
               .message_id = "",
               .mime_type = state->mime_type,
               .kind = state->kind,
               .size_bytes = state->size_bytes,
               .chunk_bytes = kStorageChunkBytes,
               .sealed_sha256 = "",
               .sha256 = ""};
  MediaRepository::Create(tx, row, principal.id, uploader, options.unattached_ttl.count());
  tx.commit();
}

void Store(pqxx::connection& conn, const HostingEnv& env, const UploadState& state,
           int64_t first_index, const std::vector<std::string>& chunks, bool sniff) {
  if (sniff && !chunks.empty()) media::CheckContentType(state.mime_type, chunks.front());
  std::vector<std::string> sealed;
  sealed.reserve(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    sealed.push_back(KeyRing::SealChunk(state.data_key, state.media_id,
                                        first_index + static_cast<int64_t>(i), chunks[i]));
  }
  pqxx::work tx(conn);
  MediaRepository::StoreChunks(tx, state.media_id, first_index, sealed,
                               env.options->media.unattached_ttl.count());
  tx.commit();
}

std::pair<std::string, int64_t> Finish(pqxx::connection& conn, const HostingEnv& env,
                                       const UploadState& state, int64_t index,
                                       const std::string& tail, bool sniff,
                                       const ContentHash& hash) {
  if (sniff) media::CheckContentType(state.mime_type, tail);
  std::string sha256 = hash.DigestWith(tail);
  int64_t ttl = env.options->media.unattached_ttl.count();
  pqxx::work tx(conn);
  if (!tail.empty()) {
    MediaRepository::StoreChunks(tx, state.media_id, index,
                                 {KeyRing::SealChunk(state.data_key, state.media_id, index, tail)},
                                 ttl);
  }
  int64_t attach_before = MediaRepository::Complete(
      tx, state.media_id, KeyRing::SealChunk(state.data_key, state.media_id, -1, sha256), ttl);
  tx.commit();
  return {sha256, attach_before};
}

void Discard(pqxx::connection& conn, const std::string& media_id) {
  try {
    pqxx::work tx(conn);
    MediaRepository::DeletePending(tx, media_id);
    tx.commit();
  } catch (const std::exception& e) {
    spdlog::warn("event=media_discard_failed error=\"{}\"", e.what());
  }
}

}  // namespace upload_steps

namespace download_steps {

void Open(pqxx::connection& conn, const HostingEnv& env, const std::optional<std::string>& token,
          auth::PrincipalKind kind, const std::string& media_id, int64_t offset, MediaRow* media,
          std::string* data_key) {
  pqxx::read_transaction tx(conn);
  auto principal = env.auth->Require(tx, token, kind);
  auto row =
      MediaRepository::Readable(tx, media_id, principal.id, kind == auth::PrincipalKind::kUser);
  if (!row) throw NotFound("media");
  // A business whose key is gone was offboarded: its media reads like an unknown id.
  auto key = env.keys->DataKey(tx, row->business_id, /*create=*/false);
  if (!key) throw NotFound("media");
  auto sha256 = KeyRing::OpenChunk(*key, row->media_id, -1, row->sealed_sha256);
  if (!sha256) {
    spdlog::error("event=media_does_not_open media_id={}", row->media_id);
    throw NotFound("media");
  }
  if (offset > row->size_bytes) {
    throw Error(ErrorCode::kInvalidArgument, "INVALID_FIELD", "offset is past the end of the media",
                {{"field", "offset"}, {"size_bytes", std::to_string(row->size_bytes)}});
  }
  row->sha256 = std::move(*sha256);
  *media = std::move(*row);
  *data_key = std::move(*key);
}

std::string Read(pqxx::connection& conn, const MediaRow& media, const std::string& data_key,
                 int64_t offset) {
  int64_t index = offset / media.chunk_bytes;
  // One statement: no BEGIN and COMMIT round trips.
  pqxx::nontransaction tx(conn);
  auto sealed = MediaRepository::Chunk(tx, media.media_id, index);
  if (!sealed) throw NotFound("media");
  auto plain = KeyRing::OpenChunk(data_key, media.media_id, index, *sealed);
  if (!plain) {
    spdlog::error("event=media_does_not_open media_id={} chunk={}", media.media_id, index);
    throw NotFound("media");
  }
  return plain->substr(static_cast<size_t>(offset - index * media.chunk_bytes));
}

}  // namespace download_steps

}  // namespace bizrelay::hosting
