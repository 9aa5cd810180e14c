#pragma once

#include <mutex>
#include <string>
#include <string_view>

namespace bizrelay::media {

// How many leading bytes of a content are shown to libmagic. Enough for every type on the
// default allowlist (an OOXML document is recognised by the names of its first zip entries).
inline constexpr size_t kSniffBytes = 256 << 10;

// The MIME type libmagic (MAGIC_MIME_TYPE) reads from `head`, the first bytes of a content.
// One magic database is loaded once per process, on first use (std::runtime_error if it cannot
// be); calls are serialised on it, since a magic_t must not be used by two threads at once.
std::string DetectMimeType(std::string_view head);

// Whether libmagic's answer for a content agrees with the type its uploader declared: the
// same type, or a name libmagic gives the same format (audio/x-m4a for audio/mp4,
// application/CDFV2 for the older office formats, text/plain for text/csv, ...).
bool TypeAgrees(const std::string& declared, const std::string& detected);

// Throws INVALID_ARGUMENT MEDIA_TYPE_MISMATCH (metadata declared, detected) unless the
// content's first bytes agree with `declared`. `head` is the whole content or at least its
// first kSniffBytes.
void CheckContentType(const std::string& declared, std::string_view head);

}  // namespace bizrelay::media
