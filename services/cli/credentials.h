#pragma once

#include <grpcpp/security/credentials.h>

#include <memory>
#include <string>

#include "services/cli/invocation.h"

namespace bizrelay::cli {

// The bearer token: the contents of token_file with surrounding whitespace removed, else
// `token`. Throws UsageError if there is none, the file cannot be read, or the token is not a
// single run of visible ASCII (what an `authorization` header can carry). Error messages name
// the file, never the token.
std::string LoadToken(const ConnectionOptions& options);

// TLS credentials built from the PEM files when ca_file is set (with a client certificate when
// cert_file and key_file are), otherwise plaintext. Throws UsageError if a file cannot be read
// or cert_file and key_file are not given together.
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const ConnectionOptions& options);

}  // namespace bizrelay::cli
