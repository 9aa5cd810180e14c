#include "services/media/media_rules.h"

#include <algorithm>

#include "services/platform/error.h"

namespace bizrelay::media {

const std::vector<std::string>& DefaultAllowedTypes() {
  static const std::vector<std::string> kTypes = {
      "image/jpeg",
      "image/png",
      "image/webp",
      "image/gif",
      "application/pdf",
      "application/msword",
      "application/vnd.ms-excel",
      "application/vnd.ms-powerpoint",
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
      "application/vnd.openxmlformats-officedocument.presentationml.presentation",
      "text/plain",
      "text/csv",
      "audio/mpeg",
      "audio/ogg",
      "audio/aac",
      "audio/mp4",
      "video/mp4",
      "video/3gpp",
  };
  return kTypes;
}

MediaKind KindOf(const std::string& mime_type) {
  if (mime_type.starts_with("image/")) return MediaKind::kImage;
  if (mime_type.starts_with("audio/")) return MediaKind::kAudio;
  if (mime_type.starts_with("video/")) return MediaKind::kVideo;
  return MediaKind::kDocument;
}

int64_t MaxBytes(const MediaOptions& options, MediaKind kind) {
  switch (kind) {
    case MediaKind::kImage:
      return options.max_image_bytes;
    case MediaKind::kAudio:
      return options.max_audio_bytes;
    case MediaKind::kVideo:
      return options.max_video_bytes;
    case MediaKind::kDocument:
      return options.max_document_bytes;
  }
  return 0;
}

MediaKind CheckDeclaration(const MediaOptions& options, const std::string& mime_type,
                           int64_t size_bytes) {
  const auto& allowed = options.allowed_types;
  if (std::find(allowed.begin(), allowed.end(), mime_type) == allowed.end()) {
    throw InvalidField("mime_type", "media type '" + mime_type.substr(0, 100) + "' is not accepted",
                       "MEDIA_TYPE_NOT_ALLOWED");
  }
  if (size_bytes <= 0) throw InvalidField("size_bytes", "size_bytes must be positive");
  MediaKind kind = KindOf(mime_type);
  int64_t max = MaxBytes(options, kind);
  if (size_bytes > max) {
    throw Error(
        ErrorCode::kInvalidArgument, "MEDIA_TOO_LARGE",
        "the media is larger than " + std::to_string(max) + " bytes, the limit for its kind",
        {{"field", "size_bytes"}, {"max_bytes", std::to_string(max)}});
  }
  return kind;
}

}  // namespace bizrelay::media
