#pragma once

#include <string>

namespace bizrelay::store {

// `conninfo` (a libpq URL or keyword=value string) with `key` set to `value`; libpq takes the
// last setting of a key, so this overrides one given earlier. `value` must be a plain token
// (no spaces, quotes or URL-reserved characters).
std::string WithConnParam(const std::string& conninfo, const std::string& key,
                          const std::string& value);

}  // namespace bizrelay::store
