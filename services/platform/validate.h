#pragma once

#include <string>
#include <string_view>

namespace bizrelay {

// Request-field checks shared by every service. Each throws bizrelay::Error
// (INVALID_ARGUMENT, reason INVALID_FIELD, metadata field=<name>) on failure.

// Valid UTF-8 without control characters (other than newline and tab when `multiline`), with
// between `min_chars` and `max_chars` code points.
void CheckText(std::string_view field, std::string_view value, size_t min_chars, size_t max_chars,
               bool multiline = false);

// Empty, or an http(s) URL of at most `max_chars` characters without spaces.
void CheckOptionalUrl(std::string_view field, std::string_view value, size_t max_chars);

// A canonical lowercase UUID (as PostgreSQL prints them). A malformed id is reported as
// NOT_FOUND, like an id that does not exist: ids are opaque to callers.
void CheckId(std::string_view what, std::string_view value);

// Counts the code points of valid UTF-8; returns false if `value` is not valid UTF-8.
bool Utf8Length(std::string_view value, size_t* chars);

}  // namespace bizrelay
