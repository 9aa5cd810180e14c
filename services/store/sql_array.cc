#include "services/store/sql_array.h"

#include <tuple>
#include <utility>

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

std::vector<std::string> ReadTextArray(const pqxx::field& field) {
  if (field.is_null()) throw pqxx::conversion_error("array expected, got NULL");
  std::vector<std::string> out;
  pqxx::array_parser parser = field.as_array();
  int depth = 0;
  for (auto [juncture, value] = parser.get_next(); juncture != pqxx::array_parser::done;
       std::tie(juncture, value) = parser.get_next()) {
    switch (juncture) {
      case pqxx::array_parser::row_start:
        if (++depth > 1) throw pqxx::conversion_error("nested array where one dimension expected");
        break;
      case pqxx::array_parser::row_end:
        --depth;
        break;
      case pqxx::array_parser::null_value:
        throw pqxx::conversion_error("NULL array element");
      case pqxx::array_parser::string_value:
        out.push_back(std::move(value));
        break;
      case pqxx::array_parser::done:
        break;
    }
  }
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
