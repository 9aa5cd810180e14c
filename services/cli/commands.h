#pragma once

#include <iostream>

#include "services/cli/invocation.h"

namespace bizrelay::cli {

// Where a command reads and writes. Responses go to `out`; errors, prompts and hints to `err`.
struct Io {
  std::ostream& out;
  std::ostream& err;
  std::istream& in;
  // Whether `in` is a terminal a person can answer a question on.
  bool interactive = false;
};

// How long a unary call may take, connecting included. Streams have no deadline.
inline constexpr int kCallDeadlineSeconds = 10;

// Runs the invocation's command against the relay and returns the exit status: 0 done; 1 the
// relay answered with an error or could not be reached (reported on io.err as FormatError
// does), or the user declined; 2 a usage error, found before any RPC.
int Run(const Invocation& invocation, Io& io);

}  // namespace bizrelay::cli
