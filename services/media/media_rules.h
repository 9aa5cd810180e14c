#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace bizrelay::media {

// What a piece of media is, from its MIME type; values as stored in hosting.media.kind and as
// the proto's MediaKind.
enum class MediaKind : int { kImage = 1, kAudio = 2, kVideo = 3, kDocument = 4 };

// The MIME types accepted by default: common images, PDF and office documents (OOXML and the
// older compound-file formats), plain text, audio and video.
const std::vector<std::string>& DefaultAllowedTypes();

// Limits of media uploads; each is a configuration option of bizrelayd (media.*).
struct MediaOptions {
  std::vector<std::string> allowed_types = DefaultAllowedTypes();
  int64_t max_image_bytes = 5 << 20;
  int64_t max_audio_bytes = 16 << 20;
  int64_t max_video_bytes = 16 << 20;
  int64_t max_document_bytes = 100 << 20;
  // Largest chunk a client may send in one upload message; must fit in a gRPC message
  // (limits.max_message_bytes).
  size_t max_chunk_bytes = 128 << 10;
  // Uploads one user or business may run at once on one instance.
  int max_concurrent_uploads = 4;
  // Bytes one user or business may hold in uploads not attached to a message (in progress
  // included), across instances.
  int64_t max_pending_bytes = 256 << 20;
  // An upload not attached to a message within this time is deleted.
  std::chrono::seconds unattached_ttl{900};
};

// image/* image, audio/* audio, video/* video, anything else document.
MediaKind KindOf(const std::string& mime_type);
int64_t MaxBytes(const MediaOptions& options, MediaKind kind);

// Checks an upload's declaration before any byte is stored: the type must be on the allowlist
// (INVALID_ARGUMENT MEDIA_TYPE_NOT_ALLOWED, field mime_type), the size positive
// (INVALID_FIELD size_bytes) and within its kind's limit (INVALID_ARGUMENT MEDIA_TOO_LARGE,
// metadata max_bytes). Returns the kind.
MediaKind CheckDeclaration(const MediaOptions& options, const std::string& mime_type,
                           int64_t size_bytes);

}  // namespace bizrelay::media
