#include "services/cli/credentials.h"

#include <fstream>
#include <sstream>

namespace bizrelay::cli {
namespace {

std::string ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  if (in) contents << in.rdbuf();
  if (!in || in.bad()) throw UsageError(std::string(what) + " " + path + ": cannot be read");
  return contents.str();
}

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

std::string LoadToken(const ConnectionOptions& options) {
  std::string token = options.token;
  std::string source = "--token";
  if (!options.token_file.empty()) {
    token = ReadFile(options.token_file, "--token-file");
    size_t begin = 0;
    size_t end = token.size();
    while (begin < end && IsBlank(token[begin])) ++begin;
    while (end > begin && IsBlank(token[end - 1])) --end;
    token = token.substr(begin, end - begin);
    source = "--token-file " + options.token_file;
    if (token.empty()) throw UsageError(source + ": the file holds no token");
  }
  if (token.empty()) {
    throw UsageError(
        "this command needs a token: pass --token or --token-file, or set "
        "BIZRELAY_TOKEN");
  }
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      throw UsageError(source + ": the token must be one line of visible ASCII characters");
    }
  }
  return token;
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(const ConnectionOptions& options) {
  if (options.ca_file.empty()) {
    if (!options.cert_file.empty() || !options.key_file.empty()) {
      throw UsageError("--cert-file and --key-file need --ca-file");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    throw UsageError("--cert-file and --key-file go together");
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(options.ca_file, "--ca-file");
  if (!options.cert_file.empty()) {
    ssl.pem_cert_chain = ReadFile(options.cert_file, "--cert-file");
    ssl.pem_private_key = ReadFile(options.key_file, "--key-file");
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace bizrelay::cli
