// bizrelay: command-line client of the relay. See `bizrelay --help`.
#include <unistd.h>

#include <iostream>

#include "services/cli/commands.h"
#include "services/cli/invocation.h"

int main(int argc, char** argv) {
  using bizrelay::cli::ParseResult;
  ParseResult parsed = bizrelay::cli::ParseCommandLine(
      std::vector<std::string>(argv + 1, argv + argc), bizrelay::cli::ProcessEnvironment());
  switch (parsed.outcome) {
    case ParseResult::Outcome::kHelp:
      std::cout << parsed.message;
      return 0;
    case ParseResult::Outcome::kUsageError:
      std::cerr << "error: " << parsed.message << "\nRun 'bizrelay --help' for usage.\n";
      return 2;
    case ParseResult::Outcome::kOk:
      break;
  }
  bizrelay::cli::Io io{
      .out = std::cout, .err = std::cerr, .in = std::cin, .interactive = isatty(STDIN_FILENO) == 1};
  return bizrelay::cli::Run(parsed.invocation, io);
}
