#include "services/bizrelayd/health_probe.h"

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"

namespace bizrelay::daemon {
namespace {

using grpc::health::v1::HealthCheckResponse;

struct ProbeOptions {
  std::vector<std::string> addresses;
  std::string service;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  bool plaintext = false;
  int timeout_ms = 3000;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  if (in) contents << in.rdbuf();
  if (!in || in.bad()) throw CLI::ValidationError(path + ": cannot be read");
  return contents.str();
}

std::shared_ptr<grpc::ChannelCredentials> Credentials(const ProbeOptions& o) {
  if (o.plaintext) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  // Without --ca-file, gRPC's default roots (or GRPC_DEFAULT_SSL_ROOTS_FILE_PATH) apply.
  if (!o.ca_file.empty()) ssl.pem_root_certs = ReadFile(o.ca_file);
  if (!o.cert_file.empty()) {
    ssl.pem_cert_chain = ReadFile(o.cert_file);
    ssl.pem_private_key = ReadFile(o.key_file);
  }
  return grpc::SslCredentials(ssl);
}

// One Check call; returns true when the answer is SERVING.
bool Probe(const std::string& address, const ProbeOptions& o,
           const std::shared_ptr<grpc::ChannelCredentials>& creds, std::ostream& out) {
  grpc::ChannelArguments args;
  if (!o.server_name.empty()) args.SetSslTargetNameOverride(o.server_name);
  auto channel = grpc::CreateCustomChannel(address, creds, args);
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(o.timeout_ms));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(o.service);
  HealthCheckResponse response;
  grpc::Status status = stub->Check(&ctx, request, &response);
  if (!status.ok()) {
    out << address << " UNREACHABLE code=" << status.error_code() << " " << status.error_message()
        << "\n";
    return false;
  }
  out << address << " " << HealthCheckResponse::ServingStatus_Name(response.status()) << "\n";
  return response.status() == HealthCheckResponse::SERVING;
}

}  // namespace

int RunHealthProbe(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  ProbeOptions o;
  CLI::App app{
      "Asks grpc.health.v1.Health/Check at each address; exits 0 only if every one answers "
      "SERVING (1 otherwise, 2 for a usage error). TLS unless --plaintext.",
      "bizrelayd health"};
  app.add_option("--address", o.addresses, "host:port to check (repeat for several)")->required();
  app.add_option("--service", o.service, "Service name to check (empty: the whole server)");
  auto* ca = app.add_option("--ca-file", o.ca_file, "PEM CA certificates that verify the server");
  auto* cert = app.add_option("--cert-file", o.cert_file, "PEM client certificate (mutual TLS)");
  auto* key = app.add_option("--key-file", o.key_file, "PEM client private key (mutual TLS)");
  cert->needs(key);
  key->needs(cert);
  app.add_option("--server-name", o.server_name,
                 "Name the server certificate must carry (default: the address's host)");
  app.add_flag("--plaintext", o.plaintext, "Connect without TLS")->excludes(ca)->excludes(cert);
  app.add_option("--timeout-ms", o.timeout_ms, "Deadline of each check")
      ->check(CLI::PositiveNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e, out, err) == 0 ? 0 : 2;
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  try {
    creds = Credentials(o);
  } catch (const CLI::ValidationError& e) {
    err << "bizrelayd health: " << e.what() << "\n";
    return 2;
  }
  bool all_serving = true;
  for (const std::string& address : o.addresses) {
    if (!Probe(address, o, creds, out)) all_serving = false;
  }
  return all_serving ? 0 : 1;
}

}  // namespace bizrelay::daemon
