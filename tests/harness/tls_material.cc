#include "tests/harness/tls_material.h"

#include <fstream>

#include "tests/harness/command.h"

namespace bizrelay::e2e {

bool MakeTlsMaterial(const std::filesystem::path& dir) {
  auto p = [&](const char* name) { return (dir / name).string(); };
  std::ofstream(p("server.ext")) << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  std::vector<std::vector<std::string>> steps = {
      {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", p("ca-key.pem"), "-out", p("ca.pem"), "-days", "2", "-subj",
       "/CN=bizrelay test CA"},
      {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", p("server-key.pem"), "-out", p("server.csr"), "-subj", "/CN=localhost"},
      {"openssl", "x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey",
       p("ca-key.pem"), "-CAcreateserial", "-out", p("server.pem"), "-days", "2", "-extfile",
       p("server.ext")},
      {"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", p("client-key.pem"), "-out", p("client.csr"), "-subj", "/CN=business-client"},
      {"openssl", "x509", "-req", "-in", p("client.csr"), "-CA", p("ca.pem"), "-CAkey",
       p("ca-key.pem"), "-CAcreateserial", "-out", p("client.pem"), "-days", "2"},
  };
  for (const auto& step : steps) {
    if (RunCommand(step).exit_code != 0) return false;
  }
  return true;
}

}  // namespace bizrelay::e2e
