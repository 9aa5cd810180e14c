#pragma once

#include <iosfwd>

namespace bizrelay::daemon {

// `bizrelayd health`: a grpc.health.v1 Check client, so that a container image needs no
// other tool for its health check. argv[0] is "health"; the options are listed by
// `bizrelayd health --help`. Writes one line per address to `out` (errors to `err`).
// Returns 0 when every address answers SERVING, 1 when any answers otherwise or cannot be
// reached in time, 2 for a usage error (unknown option, unreadable file).
int RunHealthProbe(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace bizrelay::daemon
