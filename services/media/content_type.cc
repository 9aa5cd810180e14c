#include "services/media/content_type.h"

#include <magic.h>

#include <map>
#include <set>
#include <stdexcept>

#include "services/platform/error.h"

namespace bizrelay::media {
namespace {

class Magic {
 public:
  Magic() : cookie_(magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR)) {
    if (cookie_ == nullptr) throw std::runtime_error("libmagic: magic_open failed");
    if (magic_load(cookie_, nullptr) != 0) {
      std::string error = magic_error(cookie_);
      magic_close(cookie_);
      throw std::runtime_error("libmagic: cannot load the magic database: " + error);
    }
  }
  ~Magic() { magic_close(cookie_); }

  std::string Detect(std::string_view head) {
    std::lock_guard lock(mu_);
    const char* type = magic_buffer(cookie_, head.data(), head.size());
    if (type == nullptr) return "application/octet-stream";
    return type;
  }

 private:
  std::mutex mu_;
  magic_t cookie_;  // used under mu_ only
};

// Other names libmagic 5.44 (Debian 12) gives formats on the default allowlist.
const std::map<std::string, std::set<std::string>>& Aliases() {
  static const std::map<std::string, std::set<std::string>> kAliases = {
      {"audio/mp4", {"audio/x-m4a", "video/mp4"}},
      {"audio/aac", {"audio/x-hx-aac-adts", "audio/x-hx-aac-adif"}},
      {"audio/ogg", {"application/ogg"}},
      {"video/3gpp", {"video/3gpp2"}},
      {"application/msword", {"application/CDFV2", "application/x-ole-storage"}},
      {"application/vnd.ms-excel", {"application/CDFV2", "application/x-ole-storage"}},
      {"application/vnd.ms-powerpoint", {"application/CDFV2", "application/x-ole-storage"}},
      {"text/csv", {"text/plain"}},
  };
  return kAliases;
}

// A text cut at kSniffBytes may end inside a UTF-8 sequence, which libmagic would take for
// binary data: leave out an unfinished sequence at the end.
std::string_view WithoutCutCharacter(std::string_view head) {
  size_t n = head.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    unsigned char c = static_cast<unsigned char>(head[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: look further back
    size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    if (len > back) return head.substr(0, n - back);
    break;
  }
  return head;
}

}  // namespace

std::string DetectMimeType(std::string_view head) {
  static Magic magic;
  return magic.Detect(head);
}

bool TypeAgrees(const std::string& declared, const std::string& detected) {
  if (declared == detected) return true;
  auto it = Aliases().find(declared);
  return it != Aliases().end() && it->second.count(detected) > 0;
}

void CheckContentType(const std::string& declared, std::string_view head) {
  if (head.size() > kSniffBytes) head = WithoutCutCharacter(head.substr(0, kSniffBytes));
  std::string detected = DetectMimeType(head);
  if (!TypeAgrees(declared, detected)) {
    throw Error(ErrorCode::kInvalidArgument, "MEDIA_TYPE_MISMATCH",
                "the content is " + detected + ", not the declared " + declared,
                {{"field", "mime_type"}, {"declared", declared}, {"detected", detected}});
  }
}

}  // namespace bizrelay::media
