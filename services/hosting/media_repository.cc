#include "services/hosting/media_repository.h"

#include "services/hosting/sql_fragments.h"
#include "services/platform/error.h"
#include "services/store/sql_array.h"

namespace bizrelay::hosting {
namespace {

#define MEDIA_COLUMNS                                                                 \
  "md.media_id::text, md.business_id::text, coalesce(md.message_id::text, ''), "      \
  "md.mime_type, md.kind, md.size_bytes, md.chunk_bytes, coalesce(md.sealed_sha256, " \
  "'\\x'::bytea)"

constexpr const char* kPendingBytes =
    "SELECT coalesce(sum(size_bytes), 0)::bigint FROM hosting.media "
    "WHERE uploader_id = $1::uuid AND message_id IS NULL";
constexpr const char* kBusinessActive =
    "SELECT 1 FROM core.businesses WHERE business_id = $1::uuid AND disabled_at IS NULL";
constexpr const char* kCreate =
    "INSERT INTO hosting.media (media_id, business_id, uploader_id, uploader_kind, mime_type, "
    "  kind, size_bytes, chunk_bytes, pending_until) "
    "VALUES ($1::uuid, $2::uuid, $3::uuid, $4, $5, $6, $7, $8, "
    "  now() + make_interval(secs => $9))";
// The chunks come packed in one binary parameter (store::PackBytes); the upload's deletion
// time moves with them.
constexpr const char* kStoreChunks =
    "WITH up AS ("
    "  UPDATE hosting.media SET pending_until = now() + make_interval(secs => $4) "
    "  WHERE media_id = $1::uuid AND message_id IS NULL AND NOT complete RETURNING media_id) "
    "INSERT INTO hosting.media_chunks (media_id, idx, body) "
    "SELECT up.media_id, $2 + c.ord - 1, substring($3::bytea FROM c.s + 1 FOR c.l) "
    "FROM up, unnest($5::int[], $6::int[]) WITH ORDINALITY AS c(s, l, ord)";
constexpr const char* kComplete =
    "UPDATE hosting.media SET complete = true, sealed_sha256 = $2, "
    "  pending_until = now() + make_interval(secs => $3) "
    "WHERE media_id = $1::uuid AND message_id IS NULL AND NOT complete "
    "RETURNING " HOSTING_SQL_MICROS("pending_until");
constexpr const char* kDeletePending =
    "DELETE FROM hosting.media WHERE media_id = $1::uuid AND message_id IS NULL";
constexpr const char* kAttach =
    "UPDATE hosting.media md SET message_id = $5::uuid "
    "WHERE md.media_id = $1::uuid AND md.uploader_id = $2::uuid AND md.uploader_kind = $3 "
    "  AND md.business_id = $4::uuid AND md.complete AND md.message_id IS NULL "
    "  AND md.pending_until > now() "
    "RETURNING " MEDIA_COLUMNS;
// Either party of the conversation, while the message is readable: an expired message's media
// (retention, "no storage", offboarding) is gone for readers at once, as the message is.
constexpr const char* kReadable =
    "SELECT " MEDIA_COLUMNS
    " FROM hosting.media md "
    "JOIN hosting.messages m ON m.message_id = md.message_id "
    "JOIN hosting.conversations c ON c.conversation_id = m.conversation_id "
    "WHERE md.media_id = $1::uuid AND md.complete AND m.expires_at > now() "
    "  AND c.business_id = md.business_id "
    "  AND CASE WHEN $3 THEN c.user_id = $2::uuid ELSE c.business_id = $2::uuid END";
// Each chunk only while the message is readable, so a download does not outlive its message.
constexpr const char* kChunk =
    "SELECT ch.body FROM hosting.media_chunks ch "
    "JOIN hosting.media md ON md.media_id = ch.media_id "
    "JOIN hosting.messages m ON m.message_id = md.message_id "
    "WHERE ch.media_id = $1::uuid AND ch.idx = $2 AND m.expires_at > now()";
constexpr const char* kOfMessages =
    "SELECT " MEDIA_COLUMNS " FROM hosting.media md WHERE md.message_id = ANY ($1::uuid[])";
constexpr const char* kDeleteAllOfBusiness =
    "DELETE FROM hosting.media WHERE business_id = $1::uuid";
constexpr const char* kDeletePendingOfUploader =
    "DELETE FROM hosting.media WHERE uploader_id = $1::uuid AND message_id IS NULL";
constexpr const char* kDeleteExpiredPending =
    "DELETE FROM hosting.media WHERE media_id = ANY (ARRAY("
    "  SELECT media_id FROM hosting.media "
    "  WHERE message_id IS NULL AND pending_until <= now() "
    "  ORDER BY pending_until LIMIT $1 FOR UPDATE SKIP LOCKED))";

#undef MEDIA_COLUMNS

MediaRow MediaFrom(const pqxx::row& r) {
  return MediaRow{
      .media_id = r[0].as<std::string>(),
      .business_id = r[1].as<std::string>(),
      .message_id = r[2].as<std::string>(),
      .mime_type = r[3].as<std::string>(),
      .kind = r[4].as<int>(),
      .size_bytes = r[5].as<int64_t>(),
      .chunk_bytes = r[6].as<int>(),
      .sealed_sha256 = pqxx::binarystring(r[7]).str(),
      .sha256 = "",
  };
}

}  // namespace

int64_t MediaRepository::PendingBytes(pqxx::transaction_base& tx, const std::string& uploader_id) {
  return tx.exec_params1(kPendingBytes, uploader_id)[0].as<int64_t>();
}

bool MediaRepository::BusinessActive(pqxx::transaction_base& tx, const std::string& business_id) {
  return !tx.exec_params(kBusinessActive, business_id).empty();
}

void MediaRepository::Create(pqxx::transaction_base& tx, const MediaRow& media,
                             const std::string& uploader_id, Uploader uploader,
                             int64_t ttl_seconds) {
  tx.exec_params0(kCreate, media.media_id, media.business_id, uploader_id,
                  static_cast<int>(uploader), media.mime_type, media.kind, media.size_bytes,
                  media.chunk_bytes, ttl_seconds);
}

void MediaRepository::StoreChunks(pqxx::transaction_base& tx, const std::string& media_id,
                                  int64_t first_index, const std::vector<std::string>& sealed,
                                  int64_t ttl_seconds) {
  auto packed = store::PackBytes(sealed);
  auto stored =
      tx.exec_params0(kStoreChunks, media_id, first_index, pqxx::binarystring(packed.bytes),
                      ttl_seconds, packed.starts, packed.lengths)
          .affected_rows();
  if (stored != sealed.size()) throw NotFound("media");
}

int64_t MediaRepository::Complete(pqxx::transaction_base& tx, const std::string& media_id,
                                  const std::string& sealed_sha256, int64_t ttl_seconds) {
  auto rows = tx.exec_params(kComplete, media_id, pqxx::binarystring(sealed_sha256), ttl_seconds);
  if (rows.empty()) throw NotFound("media");
  return rows[0][0].as<int64_t>();
}

void MediaRepository::DeletePending(pqxx::transaction_base& tx, const std::string& media_id) {
  tx.exec_params0(kDeletePending, media_id);
}

std::optional<MediaRow> MediaRepository::Attach(pqxx::transaction_base& tx,
                                                const std::string& media_id,
                                                const std::string& uploader_id, Uploader uploader,
                                                const std::string& business_id,
                                                const std::string& message_id) {
  auto rows = tx.exec_params(kAttach, media_id, uploader_id, static_cast<int>(uploader),
                             business_id, message_id);
  if (rows.empty()) return std::nullopt;
  return MediaFrom(rows[0]);
}

std::optional<MediaRow> MediaRepository::Readable(pqxx::transaction_base& tx,
                                                  const std::string& media_id,
                                                  const std::string& principal_id, bool as_user) {
  auto rows = tx.exec_params(kReadable, media_id, principal_id, as_user);
  if (rows.empty()) return std::nullopt;
  return MediaFrom(rows[0]);
}

std::optional<std::string> MediaRepository::Chunk(pqxx::transaction_base& tx,
                                                  const std::string& media_id, int64_t index) {
  auto rows = tx.exec_params(kChunk, media_id, index);
  if (rows.empty()) return std::nullopt;
  return pqxx::binarystring(rows[0][0]).str();
}

std::vector<MediaRow> MediaRepository::OfMessages(pqxx::transaction_base& tx,
                                                  const std::vector<std::string>& message_ids) {
  std::vector<MediaRow> out;
  if (message_ids.empty()) return out;
  for (const auto& r : tx.exec_params(kOfMessages, store::SqlArray(message_ids))) {
    out.push_back(MediaFrom(r));
  }
  return out;
}

void MediaRepository::DeleteAllOfBusiness(pqxx::transaction_base& tx,
                                          const std::string& business_id) {
  tx.exec_params0(kDeleteAllOfBusiness, business_id);
}

void MediaRepository::DeletePendingOfUploader(pqxx::transaction_base& tx,
                                              const std::string& uploader_id) {
  tx.exec_params0(kDeletePendingOfUploader, uploader_id);
}

int64_t MediaRepository::DeleteExpiredPending(pqxx::transaction_base& tx, int batch) {
  return static_cast<int64_t>(tx.exec_params0(kDeleteExpiredPending, batch).affected_rows());
}

}  // namespace bizrelay::hosting
