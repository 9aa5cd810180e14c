#include "services/platform/log.h"

#include <spdlog/sinks/stdout_sinks.h>

namespace bizrelay {

bool IsLogLevel(const std::string& level) {
  return level == "trace" || level == "debug" || level == "info" || level == "warn" ||
         level == "error" || level == "off";
}

void SetUpLogging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("bizrelay");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace bizrelay
