#pragma once

#include <string>
#include <vector>

namespace bizrelay::store {

// A PostgreSQL array literal of strings, for a parameter cast to an array type ($1::text[],
// $1::uuid[]): every element quoted, with " and \ escaped.
std::string SqlArray(const std::vector<std::string>& values);

// The same for bytea[]: each element in PostgreSQL's hex form.
std::string SqlByteaArray(const std::vector<std::string>& values);

}  // namespace bizrelay::store
