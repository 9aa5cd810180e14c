#include "services/store/sql_array.h"

#include "services/platform/token.h"

namespace bizrelay::store {

std::string SqlArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string SqlByteaArray(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += "\"\\\\x";  // an escaped backslash, then x: the element is \x<hex>
    out += ToHex(values[i]);
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace bizrelay::store
