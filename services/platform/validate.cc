#include "services/platform/validate.h"

#include "services/platform/error.h"

namespace bizrelay {

bool Utf8Length(std::string_view s, size_t* chars) {
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Reject overlong forms, surrogates and values past U+10FFFF.
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
    ++n;
  }
  *chars = n;
  return true;
}

void CheckText(std::string_view field, std::string_view value, size_t min_chars, size_t max_chars,
               bool multiline) {
  size_t chars = 0;
  if (!Utf8Length(value, &chars)) {
    throw InvalidField(field, std::string(field) + " is not valid UTF-8");
  }
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    bool allowed_control = multiline && (c == '\n' || c == '\t');
    if ((u < 0x20 || u == 0x7f) && !allowed_control) {
      throw InvalidField(field, std::string(field) + " contains a control character");
    }
  }
  if (chars < min_chars || chars > max_chars) {
    throw InvalidField(field, std::string(field) + " must have " + std::to_string(min_chars) +
                                  " to " + std::to_string(max_chars) + " characters");
  }
}

void CheckOptionalUrl(std::string_view field, std::string_view value, size_t max_chars) {
  if (value.empty()) return;
  CheckText(field, value, 1, max_chars);
  bool scheme_ok = value.starts_with("https://") || value.starts_with("http://");
  if (!scheme_ok || value.find(' ') != std::string_view::npos) {
    throw InvalidField(field, std::string(field) + " must be an http(s) URL");
  }
}

void CheckId(std::string_view what, std::string_view value) {
  static constexpr std::string_view kShape = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
  bool ok = value.size() == kShape.size();
  for (size_t i = 0; ok && i < value.size(); ++i) {
    char c = value[i];
    ok = kShape[i] == '-' ? c == '-' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }
  if (!ok) throw NotFound(what);
}

}  // namespace bizrelay
