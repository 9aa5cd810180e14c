#pragma once

#include <filesystem>

namespace bizrelay::e2e {

// A throwaway CA with a server certificate for localhost/127.0.0.1 and a client certificate,
// made with the openssl CLI: ca.pem, server.pem, server-key.pem, client.pem, client-key.pem.
// Returns false if openssl failed.
bool MakeTlsMaterial(const std::filesystem::path& dir);

}  // namespace bizrelay::e2e
