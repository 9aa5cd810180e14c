#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace bizrelay {

// Sets up the process-wide logger: one line per event on stderr, "key=value" fields after the
// message. `level` is one of trace, debug, info, warn, error, off. Thread-safe after setup.
// Never log a token, key or message body: log ids and sizes instead.
void SetUpLogging(const std::string& level);

// True if `level` names a log level SetUpLogging accepts.
bool IsLogLevel(const std::string& level);

}  // namespace bizrelay
