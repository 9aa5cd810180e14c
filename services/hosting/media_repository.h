#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "services/hosting/rows.h"

namespace bizrelay::hosting {

// Who uploaded media, as stored in hosting.media.uploader_kind.
enum class Uploader : int { kUser = 1, kBusiness = 2 };

// Media and its sealed chunks (hosting.media, hosting.media_chunks; see migration
// 0004_media.sql). Every function runs in the caller's transaction; none opens anything.
class MediaRepository {
 public:
  // Bytes `uploader_id` holds in media attached to no message (uploads in progress included).
  static int64_t PendingBytes(pqxx::transaction_base& tx, const std::string& uploader_id);
  // Whether the business exists and is not disabled or offboarded.
  static bool BusinessActive(pqxx::transaction_base& tx, const std::string& business_id);
  // A new, empty upload, deleted by the sweeper unless completed and attached within
  // `ttl_seconds` of its last stored chunk.
  static void Create(pqxx::transaction_base& tx, const MediaRow& media,
                     const std::string& uploader_id, Uploader uploader, int64_t ttl_seconds);
  // Stores sealed chunks `first_index`, `first_index + 1`, ...; NOT_FOUND if the upload is gone
  // (deleted by the sweeper while the client was slow).
  static void StoreChunks(pqxx::transaction_base& tx, const std::string& media_id,
                          int64_t first_index, const std::vector<std::string>& sealed,
                          int64_t ttl_seconds);
  // Marks an upload complete with its sealed SHA-256; returns its new deletion time
  // (microseconds since the epoch). NOT_FOUND if it is gone.
  static int64_t Complete(pqxx::transaction_base& tx, const std::string& media_id,
                          const std::string& sealed_sha256, int64_t ttl_seconds);
  // Deletes an upload that was not attached (a refused or abandoned one).
  static void DeletePending(pqxx::transaction_base& tx, const std::string& media_id);

  // Attaches a complete, pending upload of `uploader_id` for `business_id` to `message_id`.
  // nullopt (nothing changed) if there is no such upload: unknown, someone else's, for
  // another business, incomplete, attached already, or past its deletion time.
  static std::optional<MediaRow> Attach(pqxx::transaction_base& tx, const std::string& media_id,
                                        const std::string& uploader_id, Uploader uploader,
                                        const std::string& business_id,
                                        const std::string& message_id);
  // Media attached to a readable (unexpired) message in a conversation of the principal: a user
  // (`as_user`) or a business. nullopt for anything else.
  static std::optional<MediaRow> Readable(pqxx::transaction_base& tx, const std::string& media_id,
                                          const std::string& principal_id, bool as_user);
  // The sealed chunk, or nullopt if the media is gone.
  static std::optional<std::string> Chunk(pqxx::transaction_base& tx, const std::string& media_id,
                                          int64_t index);
  // Media attached to any of `message_ids`.
  static std::vector<MediaRow> OfMessages(pqxx::transaction_base& tx,
                                          const std::vector<std::string>& message_ids);

  // Offboarding: every media row of the business, with its chunks, at once.
  static void DeleteAllOfBusiness(pqxx::transaction_base& tx, const std::string& business_id);
  // Erasure: the user's uploads attached to nothing (attached ones go with their messages).
  static void DeletePendingOfUploader(pqxx::transaction_base& tx, const std::string& uploader_id);
  // The sweeper: up to `batch` pending uploads past their deletion time; returns how many.
  static int64_t DeleteExpiredPending(pqxx::transaction_base& tx, int batch);
};

}  // namespace bizrelay::hosting
