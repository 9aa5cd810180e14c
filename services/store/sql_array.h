#pragma once

#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace bizrelay::store {

// A PostgreSQL array literal of strings, for a parameter cast to an array type ($1::text[],
// $1::uuid[]): every element quoted, with " and \ escaped.
std::string SqlArray(const std::vector<std::string>& values);

// The elements of a one-dimensional array PostgreSQL returned (text[], uuid[], ...) in their text
// form, read with libpqxx's array parser. Throws pqxx::conversion_error for a NULL value, a NULL
// element or a nested array: callers read columns that hold none.
std::vector<std::string> ReadTextArray(const pqxx::field& field);

// The same for bytea[]: each element in PostgreSQL's hex form.
std::string SqlByteaArray(const std::vector<std::string>& values);

// Byte strings packed one after the other, for one binary bytea parameter
// (pqxx::binarystring), with where each starts (from 0) and its length as int[] literals: the
// SQL takes them apart with substring(bytes FROM start + 1 FOR length). Much cheaper for
// PostgreSQL to read than a bytea[] of hex text.
struct PackedBytes {
  std::string bytes;
  std::string starts;   // {0,245,...}
  std::string lengths;  // {245,301,...}
};
PackedBytes PackBytes(const std::vector<std::string>& values);

}  // namespace bizrelay::store
