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

PackedBytes PackBytes(const std::vector<std::string>& values) {
  PackedBytes out;
  size_t total = 0;
  for (const auto& v : values) total += v.size();
  out.bytes.reserve(total);
  out.starts = "{";
  out.lengths = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out.starts += ',';
      out.lengths += ',';
    }
    out.starts += std::to_string(out.bytes.size());
    out.lengths += std::to_string(values[i].size());
    out.bytes += values[i];
  }
  out.starts += '}';
  out.lengths += '}';
  return out;
}

}  // namespace bizrelay::store
