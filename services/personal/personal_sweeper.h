#pragma once

#include <string>
#include <vector>

namespace bizrelay::personal {

// Deletes envelopes past their expiry day, in bounded batches (FOR UPDATE SKIP LOCKED: several
// sweepers share the work), and the hashes of spent tokens whose issuer key is no longer
// accepted, one statement per retired key. Returns the rows deleted. Runs as the personal
// database role.
int SweepPersonal(const std::string& conninfo, int batch,
                  const std::vector<std::string>& accepted_key_ids);

}  // namespace bizrelay::personal
