#pragma once

#include <string>
#include <vector>

namespace bizrelay::e2e {

struct CommandResult {
  int exit_code = -1;
  std::string out;  // standard output
  std::string err;  // standard error
};

// Runs argv (no shell) to completion, with `input` on standard input.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "");

// The buf CLI installed by ./dev setup (node_modules/.bin/buf).
std::string BufPath();

// `buf curl` against a plaintext local listener: `--protocol grpc` through reflection.
// `extra` goes before the URL (e.g. {"-d", json, "-H", header}).
CommandResult BufCurl(int port, const std::string& method, const std::vector<std::string>& extra);

}  // namespace bizrelay::e2e
