#include "services/platform/error.h"

namespace bizrelay {

Error InvalidField(std::string_view field, std::string message, std::string_view reason) {
  return Error(ErrorCode::kInvalidArgument, std::string(reason), std::move(message),
               {{"field", std::string(field)}});
}

Error NotFound(std::string_view what) {
  return Error(ErrorCode::kNotFound, "NOT_FOUND", std::string(what) + " not found");
}

}  // namespace bizrelay
