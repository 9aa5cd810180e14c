#pragma once

#include <string>
#include <vector>

namespace bizrelay::store {

// Runs `argv` (no shell) and waits for it. Standard output and error go to `log_path`
// (appended) or are discarded when it is empty. When `run_as` is not empty the command runs
// through `runuser -u <run_as> --`. `extra_env` ("NAME=value") adds to or overrides this
// process's environment for the command. Returns the exit status, or -1 if it could not be
// started.
int RunCommand(const std::vector<std::string>& argv, const std::string& log_path,
               const std::string& run_as = "", const std::vector<std::string>& extra_env = {});

// True if the effective user is root.
bool RunningAsRoot();

}  // namespace bizrelay::store
