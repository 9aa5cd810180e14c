#include "services/store/conninfo.h"

namespace bizrelay::store {

std::string WithConnParam(const std::string& conninfo, const std::string& key,
                          const std::string& value) {
  if (conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://")) {
    return conninfo + (conninfo.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
  }
  return conninfo + (conninfo.empty() ? "" : " ") + key + "=" + value;
}

}  // namespace bizrelay::store
